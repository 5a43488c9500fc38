"""Audit scenarios for certificates (see tests/test_audit_coverage.py)."""

from __future__ import annotations

from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from govshare.core import clock
from govshare.pki import service as pki_service
from govshare.pki.models import RevocationReason, SystemCertificate
from govshare.pki.service import _self_signed
from tests.pki.builders import DAYS, SETTINGS, authority, issued, system
from tests.scenarios import READ_ONLY, Reads, World, Writes

PKI = "govshare.pki.service."


def _issued(w: World) -> SystemCertificate:
    authority(w.db, w.op)
    return issued(w.db, w.op, system(w.db, w.op, organization_id=w.dept.id).id)


def _imported(w: World) -> None:
    # The city's CA, made elsewhere, imported with its key.
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _self_signed(key, "市级政务 CA")
    pki_service.import_authority(
        w.db,
        actor=w.op,
        settings=SETTINGS,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    )


def _generated(w: World) -> pki_service.Issued:
    authority(w.db, w.op)
    system_id = system(w.db, w.op, organization_id=w.dept.id).id
    return pki_service.issue_generated(
        w.db, actor=w.op, settings=SETTINGS, validity_days=DAYS, system_id=system_id
    )


def _published(w: World) -> None:
    authority(w.db, w.op)
    pki_service.publish_crl(w.db, actor=w.op, settings=SETTINGS)


def _stale_crl(w: World) -> bool:
    # A CA whose CRL was published four days ago: less than half of its seven days remain.
    with clock.frozen(clock.now() - timedelta(days=4)):
        authority(w.db, w.op)
    return True


SCENARIOS: dict[str, Writes | Reads] = {
    PKI + "init_authority": Writes("pki.authority.init", lambda w: authority(w.db, w.op)),
    PKI + "import_authority": Writes("pki.authority.import", _imported),
    PKI + "issue_from_csr": Writes("pki.certificate.issue", _issued),
    PKI + "issue_generated": Writes(
        "pki.certificate.issue",
        lambda w: (
            pki_service.issue_generated(
                w.db,
                actor=w.op,
                settings=SETTINGS,
                validity_days=DAYS,
                system_id=system(w.db, w.op, organization_id=w.dept.id).id,
            )
            if authority(w.db, w.op)
            else None
        ),
    ),
    PKI + "renew_certificate": Writes(
        "pki.certificate.renew",
        lambda w: pki_service.renew_certificate(
            w.db, actor=w.op, settings=SETTINGS, validity_days=DAYS, certificate_id=_issued(w).id
        ),
    ),
    PKI + "revoke_certificate": Writes(
        "pki.certificate.revoke",
        lambda w: pki_service.revoke_certificate(
            w.db,
            actor=w.op,
            settings=SETTINGS,
            certificate_id=_issued(w).id,
            reason=RevocationReason.KEY_COMPROMISE,
        ),
    ),
    PKI + "publish_crl": Writes(
        "pki.crl.publish",
        lambda w: (
            pki_service.publish_crl(w.db, actor=w.op, settings=SETTINGS)
            if authority(w.db, w.op)
            else None
        ),
    ),
    PKI + "renew_crl_if_due": Writes(
        "pki.crl.publish",
        lambda w: (
            pki_service.renew_crl_if_due(w.db, actor=w.op, settings=SETTINGS)
            if _stale_crl(w)
            else None
        ),
    ),
    PKI + "record_refusal": Writes(
        "pki.authentication.refused",
        lambda w: pki_service.record_refusal(
            w.db, source_ip="10.0.0.9", reason="revoked", message="客户端证书已吊销"
        ),
    ),
    PKI + "get_authority": Reads(lambda w: pki_service.get_authority(w.db, actor=w.op)),
    PKI + "get_certificate": Reads(
        lambda w: pki_service.get_certificate(w.db, actor=w.op, certificate_id=w.prepared.id),
        prepare=_issued,
    ),
    PKI + "list_certificates": Reads(
        lambda w: pki_service.list_certificates(w.db, actor=w.op, expiring_within_days=30)
    ),
    PKI + "current_crl": Reads(lambda w: pki_service.current_crl(w.db)),
    PKI + "ca_certificate": Reads(lambda w: pki_service.ca_certificate(w.db)),
    PKI + "authenticate_certificate": Reads(
        lambda w: pki_service.authenticate_certificate(
            w.db, certificate_pem=w.prepared.certificate_pem
        ),
        prepare=_issued,
    ),
    PKI + "subject_of": READ_ONLY,
    PKI + "platform_subject": READ_ONLY,
    PKI + "issue_platform": Writes(
        "pki.certificate.issue",
        lambda w: (
            pki_service.issue_platform(
                w.db,
                actor=w.op,
                settings=SETTINGS,
                validity_days=DAYS,
                system_id=system(w.db, w.op, organization_id=w.dept.id).id,
                name="测试市政务数据共享平台",
                code="361100",
                hosts=["127.0.0.1", "share.example.gov.cn"],
            )
            if authority(w.db, w.op)
            else None
        ),
    ),
    PKI + "crl_next_update": READ_ONLY,
    PKI + "status_of": READ_ONLY,
}
