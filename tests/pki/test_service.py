"""Certificates for department systems (SEC-1, BZ§26): the CA, issuing from a CSR and with a
generated key, renewal, revocation into the CRL, and what authentication refuses and why."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.permissions import Role
from govshare.exchange import credentials
from govshare.pki import service as pki_service
from govshare.pki.models import CertificateAuthority, HandOver, RevocationReason
from govshare.pki.service import CertificateRefused, _self_signed
from tests.builders import operator
from tests.pki.builders import DAYS, SETTINGS, authority, issued, system
from tests.systems.builders import officer_of

TODAY = "2026-10-12T09:00:00+08:00"


@pytest.fixture(autouse=True)
def _today():
    with clock.frozen(TODAY):
        yield


def test_the_ca_key_is_sealed_and_the_ca_made_once(db: Session) -> None:
    op, _ = operator(db)
    ca = authority(db, op)
    assert b"PRIVATE KEY" not in ca.key_sealed
    opened = credentials.open_sealed(
        ca.key_sealed, key=credentials.key_of(SETTINGS), context=pki_service.KEY_CONTEXT
    )
    assert opened.startswith("-----BEGIN PRIVATE KEY-----")
    with pytest.raises(Conflict):
        authority(db, op)
    assert pki_service.current_crl(db) is not None  # an empty CRL is published at once


def test_a_certificate_from_a_csr_names_the_department_and_system(db: Session) -> None:
    op, _ = operator(db)
    mzj = officer_of(db, "市民政局")
    authority(db, op)
    sys = system(db, mzj)
    cert = issued(db, mzj, sys.id)
    parsed = x509.load_pem_x509_certificate(cert.certificate_pem.encode())
    org = sys.organization
    assert parsed.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == (
        org.uscc
    )
    assert parsed.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == sys.name
    assert "anything" not in cert.subject  # the CSR's own subject is not taken
    assert cert.not_after - clock.now() > timedelta(days=DAYS - 1)
    assert not cert.key_generated
    other = officer_of(db, "市公安局")
    with pytest.raises(NotFound):
        issued(db, other, sys.id)  # another department's system
    with pytest.raises(Invalid) as bad:
        pki_service.issue_from_csr(
            db, actor=mzj, settings=SETTINGS, validity_days=DAYS, system_id=sys.id, csr_pem="x"
        )
    assert bad.value.field == "csr" and "CSR" in bad.value.message


def test_a_generated_key_is_handed_over_once_and_not_kept(db: Session) -> None:
    op, _ = operator(db)
    authority(db, op)
    sys = system(db, op, organization_id=officer_of(db).organization_id)
    result = pki_service.issue_generated(
        db, actor=op, settings=SETTINGS, validity_days=DAYS, system_id=sys.id
    )
    assert result.bundle is not None and "PRIVATE KEY" in result.bundle
    key = serialization.load_pem_private_key(result.bundle.encode(), password=None)
    cert = x509.load_pem_x509_certificate(result.certificate.certificate_pem.encode())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert "PRIVATE KEY" not in result.certificate.certificate_pem
    assert result.certificate.key_generated


def test_revocation_puts_the_serial_in_the_crl_and_refuses_the_certificate(db: Session) -> None:
    op, _ = operator(db)
    ca = authority(db, op)
    sys = system(db, op, organization_id=officer_of(db).organization_id)
    cert = issued(db, op, sys.id)
    assert pki_service.authenticate_certificate(db, certificate_pem=cert.certificate_pem).has(
        Role.SYSTEM
    )
    number = ca.crl_number
    pki_service.revoke_certificate(
        db,
        actor=op,
        settings=SETTINGS,
        certificate_id=cert.id,
        reason=RevocationReason.KEY_COMPROMISE,
    )
    der = pki_service.current_crl(db)
    assert der is not None
    crl = x509.load_der_x509_crl(der)
    entry = crl.get_revoked_certificate_by_serial_number(int(cert.serial, 16))
    assert entry is not None and ca.crl_number == number + 1
    ca_cert = x509.load_pem_x509_certificate(ca.certificate_pem.encode())
    assert crl.is_signature_valid(ca_cert.public_key())  # type: ignore[arg-type]
    with pytest.raises(CertificateRefused) as refused:
        pki_service.authenticate_certificate(db, certificate_pem=cert.certificate_pem)
    assert refused.value.reason == "revoked" and "已吊销" in refused.value.message
    assert "私钥泄露" in refused.value.message
    with pytest.raises(Conflict):
        pki_service.renew_certificate(
            db, actor=op, settings=SETTINGS, validity_days=DAYS, certificate_id=cert.id
        )


def test_renewal_keeps_the_key_and_extends_the_validity(db: Session) -> None:
    op, _ = operator(db)
    authority(db, op)
    sys = system(db, op, organization_id=officer_of(db).organization_id)
    old = issued(db, op, sys.id, days=60)
    with clock.frozen("2026-11-20T09:00:00+08:00"):
        assert [
            c.id for c in pki_service.list_certificates(db, actor=op, expiring_within_days=30)
        ] == [old.id]
        new = pki_service.renew_certificate(
            db, actor=op, settings=SETTINGS, validity_days=DAYS, certificate_id=old.id
        )
    assert new.renewed_from_id == old.id and new.not_after > old.not_after
    keys = [
        x509.load_pem_x509_certificate(c.certificate_pem.encode()).public_key().public_numbers()  # type: ignore[union-attr]
        for c in (old, new)
    ]
    assert keys[0] == keys[1] and new.serial != old.serial


def test_an_expired_certificate_is_refused_saying_so(db: Session) -> None:
    op, _ = operator(db)
    authority(db, op)
    cert = issued(db, op, system(db, op, organization_id=officer_of(db).organization_id).id, 30)
    with clock.frozen("2026-12-01T09:00:00+08:00"), pytest.raises(CertificateRefused) as refused:
        pki_service.authenticate_certificate(db, certificate_pem=cert.certificate_pem)
    assert refused.value.reason == "expired" and "已于 2026-11-11 过期" in refused.value.message


def test_a_certificate_from_another_ca_is_not_trusted(db: Session) -> None:
    op, _ = operator(db)
    authority(db, op)
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = _self_signed(stranger_key, "别处的 CA")
    pem = stranger.public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(CertificateRefused) as refused:
        pki_service.authenticate_certificate(db, certificate_pem=pem)
    assert refused.value.reason == "untrusted_issuer" and "不予信任" in refused.value.message


def test_an_imported_ca_must_hold_its_own_key(db: Session) -> None:
    op, _ = operator(db)
    key, other = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    cert_pem = _self_signed(key, "市级 CA").public_bytes(serialization.Encoding.PEM).decode()
    other_pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(Invalid) as mismatch:
        pki_service.import_authority(
            db, actor=op, settings=SETTINGS, certificate_pem=cert_pem, key_pem=other_pem
        )
    assert mismatch.value.field == "key" and "不匹配" in mismatch.value.message
    assert db.query(CertificateAuthority).count() == 0


def test_a_generated_key_can_be_handed_over_as_a_pkcs12_file_under_a_one_time_password(
    db: Session,
) -> None:
    op, _ = operator(db)
    ca = authority(db, op)
    sys = system(db, op, organization_id=officer_of(db).organization_id)
    result = pki_service.issue_generated(
        db,
        actor=op,
        settings=SETTINGS,
        validity_days=DAYS,
        system_id=sys.id,
        hand_over=HandOver.PKCS12,
    )
    assert result.bundle is None and result.pkcs12 is not None
    password = result.pkcs12_password
    assert password is not None and len(password) == pki_service.P12_PASSWORD_LENGTH
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(result.pkcs12, b"wrong password")
    key, cert, cas = pkcs12.load_key_and_certificates(result.pkcs12, password.encode())
    assert isinstance(key, ec.EllipticCurvePrivateKey) and cert is not None
    assert cert.serial_number == int(result.certificate.serial, 16)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert [c.subject.rfc4514_string() for c in cas] == [ca.subject]
    second = pki_service.issue_generated(
        db,
        actor=op,
        settings=SETTINGS,
        validity_days=DAYS,
        system_id=sys.id,
        hand_over=HandOver.PKCS12,
    )
    assert second.pkcs12_password != password  # one password per hand-over
    handed = db.execute(
        select(AuditEntry).where(AuditEntry.action == "pki.key_bundle.hand_over")
    ).scalars()
    details = [json.loads(e.details) if isinstance(e.details, str) else e.details for e in handed]
    assert [d["format"] for d in details] == ["pkcs12", "pkcs12"]
    assert all(password not in json.dumps(d) for d in details)
