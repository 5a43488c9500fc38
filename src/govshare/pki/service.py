"""Certificates for department systems (证书管理, SEC-1, BZ§26).

The platform runs a certificate authority (证书签发机构) or imports the city's; it issues X.509
client certificates to registered systems, from a CSR or with a key generated here and handed
over once (never stored), renews and revokes them, and keeps a CRL that it regenerates on each
revocation. `authenticate_certificate` turns a presented certificate into the system's Actor.

Keys are ECDSA P-256. SM2 (国密) certificates are a future option: `cryptography` does not sign
with SM2 yet; the key type is chosen in one place (`_new_key`).
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import record
from govshare.core.errors import Conflict, Invalid, NotFound, Unauthenticated
from govshare.core.permissions import Actor, Role, require
from govshare.core.settings import Settings
from govshare.exchange import credentials
from govshare.exchange.models import Cipher
from govshare.pki.models import (
    CertificateAuthority,
    HandOver,
    RevocationReason,
    SystemCertificate,
)
from govshare.systems.models import InformationSystem, SystemState

CA_YEARS = 10
CRL_DAYS = 7  # nextUpdate of the CRL: regenerated on each revocation and by `govshare pki crl`
# The periodic task regenerates the CRL once less than this much of its validity remains, so
# relying parties never hold one past its next update even if a few ticks are lost.
CRL_RENEW_BEFORE = timedelta(days=CRL_DAYS) / 2
KEY_CONTEXT = "pki:authority"
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
_REASON_FLAGS = {
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.UNSPECIFIED: x509.ReasonFlags.unspecified,
}

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _sealing_key(settings: Settings) -> bytes:
    """The key connection passwords are sealed with (GOVSHARE_CREDENTIAL_KEY, or derived from
    the secret key in the data directory)."""
    return credentials.key_of(settings)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# --- the authority ----------------------------------------------------------------------


def _authority(db_session: Session) -> CertificateAuthority | None:
    return db_session.execute(
        select(CertificateAuthority).order_by(CertificateAuthority.id.desc()).limit(1)
    ).scalar_one_or_none()


def _required_authority(db_session: Session) -> CertificateAuthority:
    authority = _authority(db_session)
    if authority is None:
        raise Conflict("平台尚未建立证书签发机构，请先运行 govshare pki init", field="authority")
    return authority


def get_authority(db_session: Session, *, actor: Actor) -> CertificateAuthority | None:
    """The platform's certificate authority (its certificate is public), or None."""
    require(actor, *OVERSEERS, Role.DATA_OFFICER, action="查看证书签发机构")
    return _authority(db_session)


def _self_signed(key: ec.EllipticCurvePrivateKey, name: str) -> x509.Certificate:
    """A CA certificate for `key`, valid CA_YEARS years."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])])
    now = clock.now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def init_authority(
    db_session: Session, *, actor: Actor, settings: Settings, name: str
) -> CertificateAuthority:
    """Creates the platform's CA: a self-signed ECDSA P-256 certificate, its key sealed."""
    require(actor, Role.PLATFORM_OPERATOR, action="建立证书签发机构")
    if _authority(db_session) is not None:
        raise Conflict("证书签发机构已经建立", field="authority")
    if not name.strip():
        raise Invalid("请填写证书签发机构名称", field="name")
    key = _new_key()
    cert = _self_signed(key, name.strip())
    return _store_authority(db_session, actor, settings, cert, key, imported=False)


def import_authority(
    db_session: Session, *, actor: Actor, settings: Settings, certificate_pem: str, key_pem: str
) -> CertificateAuthority:
    """Takes the city's CA (certificate and its unencrypted PEM private key) as the platform's."""
    require(actor, Role.PLATFORM_OPERATOR, action="导入证书签发机构")
    if _authority(db_session) is not None:
        raise Conflict("证书签发机构已经建立", field="authority")
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        raise Invalid("CA 证书不是有效的 PEM 格式证书", field="certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise Invalid("CA 私钥不是未加密的 PEM 格式私钥", field="key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise Invalid("CA 私钥须为 ECDSA 或 RSA 密钥", field="key")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise Invalid("CA 私钥与证书不匹配", field="key")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise Invalid("该证书不是 CA 证书（基本约束须为 CA）", field="certificate")
    return _store_authority(db_session, actor, settings, cert, key, imported=True)


def _store_authority(
    db_session: Session,
    actor: Actor,
    settings: Settings,
    cert: x509.Certificate,
    key: PrivateKey,
    *,
    imported: bool,
) -> CertificateAuthority:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    authority = CertificateAuthority(
        subject=cert.subject.rfc4514_string()[:255],
        certificate_pem=_pem(cert),
        key_sealed=credentials.seal(
            key_pem,
            key=_sealing_key(settings),
            cipher=Cipher(settings.credential_cipher),
            context=KEY_CONTEXT,
        ),
        imported=imported,
        not_after=cert.not_valid_after_utc,
        crl_number=0,
        created_at=clock.now(),
        created_by=actor.label,
    )
    db_session.add(authority)
    db_session.flush()
    _regenerate_crl(db_session, settings, authority)
    record(
        db_session,
        actor=actor,
        action="pki.authority.import" if imported else "pki.authority.init",
        object_type="pki_authority",
        object_id=authority.id,
        details={"subject": authority.subject, "fingerprint": _fingerprint(cert)},
    )
    return authority


def _ca(authority: CertificateAuthority, settings: Settings) -> tuple[x509.Certificate, PrivateKey]:
    cert = x509.load_pem_x509_certificate(authority.certificate_pem.encode())
    key_pem = credentials.open_sealed(
        authority.key_sealed, key=_sealing_key(settings), context=KEY_CONTEXT
    )
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    return cert, key


# --- issuing ------------------------------------------------------------------------------


P12_PASSWORD_LENGTH = 20
_P12_ALPHABET = (
    "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"  # none mistaken for another
)


@dataclass(frozen=True)
class Issued:
    certificate: SystemCertificate
    bundle: str | None = None  # the generated key with its certificate (PEM), shown once
    pkcs12: bytes | None = None  # or the same as a PKCS#12 file, handed over once
    pkcs12_password: str | None = None  # its one-time password, shown once beside it


def _system(db_session: Session, actor: Actor, system_id: int) -> InformationSystem:
    system = db_session.get(InformationSystem, system_id)
    if system is None or not (
        actor.has(Role.PLATFORM_OPERATOR) or actor.organization_id == system.organization_id
    ):
        raise NotFound(f"信息系统 {system_id} 不存在", field="system_id")
    if system.state is not SystemState.IN_USE:
        raise Conflict(f"信息系统“{system.name}”已停用，不能签发证书", field="system_id")
    return system


def subject_of(system: InformationSystem) -> x509.Name:
    """O: the department's 统一社会信用代码 and name; CN: the system; UID: its register id."""
    org = system.organization
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org.name[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, org.uscc),
            x509.NameAttribute(NameOID.COMMON_NAME, system.name[:64]),
            x509.NameAttribute(NameOID.USER_ID, f"system:{system.id}"),
        ]
    )


def _sign(
    db_session: Session,
    actor: Actor,
    settings: Settings,
    validity_days: int,
    system: InformationSystem,
    public_key: object,
    *,
    key_generated: bool,
    renewed_from: SystemCertificate | None = None,
    platform: tuple[x509.Name, list[x509.GeneralName]] | None = None,
) -> SystemCertificate:
    authority = _required_authority(db_session)
    ca_cert, ca_key = _ca(authority, settings)
    now = clock.now()
    not_after = min(now + timedelta(days=validity_days), ca_cert.not_valid_after_utc)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if platform is not None:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(platform[0] if platform else subject_of(system))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if platform is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(platform[1]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    row = SystemCertificate(
        authority_id=authority.id,
        system_id=system.id,
        organization_id=system.organization_id,
        serial=format(cert.serial_number, "x"),
        fingerprint=_fingerprint(cert),
        subject=cert.subject.rfc4514_string()[:255],
        certificate_pem=_pem(cert),
        key_generated=key_generated,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        renewed_from_id=renewed_from.id if renewed_from else None,
        created_at=now,
        created_by=actor.label,
    )
    db_session.add(row)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="pki.certificate.renew" if renewed_from else "pki.certificate.issue",
        object_type="pki_certificate",
        object_id=row.id,
        details={
            "system_id": system.id,
            "organization_id": system.organization_id,
            "serial": row.serial,
            "subject": row.subject,
            "not_after": row.not_after.isoformat(),
            "key_generated": key_generated,
            "renewed_from": renewed_from.id if renewed_from else None,
        },
    )
    return row


def issue_from_csr(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    validity_days: int,
    system_id: int,
    csr_pem: str,
) -> SystemCertificate:
    """Signs a system's certificate signing request; the subject is the platform's, not the
    CSR's (the department and system as registered)."""
    require(actor, Role.PLATFORM_OPERATOR, Role.DATA_OFFICER, action="签发系统证书")
    system = _system(db_session, actor, system_id)
    try:
        csr = x509.load_pem_x509_csr(csr_pem.strip().encode())
    except ValueError:
        raise Invalid("证书签名请求（CSR）不是有效的 PEM 格式", field="csr") from None
    if not csr.is_signature_valid:
        raise Invalid("证书签名请求（CSR）的签名无效", field="csr")
    public_key = csr.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise Invalid("RSA 密钥长度至少 2048 位", field="csr")
    elif not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise Invalid("密钥须为 ECDSA（P-256）或 RSA（2048 位以上）", field="csr")
    return _sign(
        db_session, actor, settings, validity_days, system, public_key, key_generated=False
    )


def issue_generated(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    validity_days: int,
    system_id: int,
    hand_over: HandOver = HandOver.PEM,
) -> Issued:
    """Generates the key here and returns it with the certificate once, as a PEM bundle or a
    PKCS#12 file under a one-time password: neither key nor password is stored, and handing
    them over is audited."""
    require(actor, Role.PLATFORM_OPERATOR, Role.DATA_OFFICER, action="签发系统证书")
    system = _system(db_session, actor, system_id)
    key = _new_key()
    row = _sign(
        db_session, actor, settings, validity_days, system, key.public_key(), key_generated=True
    )
    record(
        db_session,
        actor=actor,
        action="pki.key_bundle.hand_over",
        object_type="pki_certificate",
        object_id=row.id,
        details={"serial": row.serial, "system_id": system.id, "format": hand_over.value},
    )
    if hand_over is HandOver.PKCS12:
        password = "".join(secrets.choice(_P12_ALPHABET) for _ in range(P12_PASSWORD_LENGTH))
        ca_cert = x509.load_pem_x509_certificate(
            _required_authority(db_session).certificate_pem.encode()
        )
        p12 = pkcs12.serialize_key_and_certificates(
            name=system.name.encode(),
            key=key,
            cert=x509.load_pem_x509_certificate(row.certificate_pem.encode()),
            cas=[ca_cert],
            encryption_algorithm=serialization.BestAvailableEncryption(password.encode()),
        )
        return Issued(row, pkcs12=p12, pkcs12_password=password)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return Issued(row, key_pem + row.certificate_pem)


def platform_subject(name: str, code: str) -> x509.Name:
    """A platform's own certificate (平台证书): O and CN its name, UID `platform:<code>`."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, name[:64]),
            x509.NameAttribute(NameOID.USER_ID, f"platform:{code}"),
        ]
    )


def issue_platform(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    validity_days: int,
    system_id: int,
    name: str,
    code: str,
    hosts: list[str],
) -> tuple[SystemCertificate, ec.EllipticCurvePrivateKey]:
    """The platform's own certificate for talking to peer platforms: server and client use,
    the hosts it is reached at as subject alternative names. Issued to the platform's
    registered information system, so it is listed, renewed and revoked as any other; the
    key is returned to the caller, which keeps it sealed."""
    require(actor, Role.PLATFORM_OPERATOR, action="签发平台证书")
    system = _system(db_session, actor, system_id)
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = _new_key()
    row = _sign(
        db_session,
        actor,
        settings,
        validity_days,
        system,
        key.public_key(),
        key_generated=True,
        platform=(platform_subject(name, code), names),
    )
    return row, key


def renew_certificate(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    validity_days: int,
    certificate_id: int,
) -> SystemCertificate:
    """A new certificate for the same system and public key; the old one stays valid until it
    expires or is revoked, so the system can switch without a gap."""
    old = _visible(db_session, actor, certificate_id, manage=True)
    if old.revoked_at is not None:
        raise Conflict("已吊销的证书不能续期，请重新签发", field="certificate_id")
    system = _system(db_session, actor, old.system_id)
    public_key = x509.load_pem_x509_certificate(old.certificate_pem.encode()).public_key()
    return _sign(
        db_session,
        actor,
        settings,
        validity_days,
        system,
        public_key,
        key_generated=old.key_generated,
        renewed_from=old,
    )


def revoke_certificate(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    certificate_id: int,
    reason: RevocationReason,
    note: str = "",
) -> SystemCertificate:
    """Revokes at once and regenerates the CRL."""
    cert = _visible(db_session, actor, certificate_id, manage=True)
    if cert.revoked_at is not None:
        raise Conflict("该证书已吊销", field="certificate_id")
    cert.revoked_at = clock.now()
    cert.revocation_reason = reason
    cert.revocation_note = note.strip() or None
    db_session.flush()
    authority = _required_authority(db_session)
    _regenerate_crl(db_session, settings, authority)
    record(
        db_session,
        actor=actor,
        action="pki.certificate.revoke",
        object_type="pki_certificate",
        object_id=cert.id,
        details={"serial": cert.serial, "reason": reason.value, "note": cert.revocation_note},
    )
    return cert


# --- the CRL ----------------------------------------------------------------------------


def _regenerate_crl(
    db_session: Session, settings: Settings, authority: CertificateAuthority
) -> None:
    ca_cert, ca_key = _ca(authority, settings)
    now = clock.now()
    authority.crl_number += 1
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + timedelta(days=CRL_DAYS))
        .add_extension(x509.CRLNumber(authority.crl_number), critical=False)
    )
    revoked = db_session.execute(
        select(SystemCertificate).where(
            SystemCertificate.authority_id == authority.id,
            SystemCertificate.revoked_at.is_not(None),
        )
    ).scalars()
    for cert in revoked:
        assert cert.revoked_at is not None and cert.revocation_reason is not None
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(int(cert.serial, 16))
            .revocation_date(cert.revoked_at)
            .add_extension(x509.CRLReason(_REASON_FLAGS[cert.revocation_reason]), critical=False)
            .build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    authority.crl_der = crl.public_bytes(serialization.Encoding.DER)
    authority.crl_updated_at = now
    db_session.flush()


def publish_crl(db_session: Session, *, actor: Actor, settings: Settings) -> CertificateAuthority:
    """Regenerates the CRL now (its next update is due within CRL_DAYS days)."""
    require(actor, Role.PLATFORM_OPERATOR, Role.SYSTEM, action="更新证书吊销列表")
    authority = _required_authority(db_session)
    _regenerate_crl(db_session, settings, authority)
    record(
        db_session,
        actor=actor,
        action="pki.crl.publish",
        object_type="pki_authority",
        object_id=authority.id,
        details={"crl_number": authority.crl_number},
    )
    return authority


def crl_next_update(authority: CertificateAuthority) -> datetime | None:
    """When the published CRL says the next one is due (its nextUpdate), or None."""
    if authority.crl_der is None:
        return None
    return x509.load_der_x509_crl(authority.crl_der).next_update_utc


def renew_crl_if_due(
    db_session: Session, *, actor: Actor, settings: Settings
) -> CertificateAuthority | None:
    """Regenerates the CRL when less than half its validity remains (or none is published);
    None when there is no authority or the CRL is fresh enough. Audited as `publish_crl`."""
    require(actor, Role.PLATFORM_OPERATOR, Role.SYSTEM, action="更新证书吊销列表")
    authority = _authority(db_session)
    if authority is None:
        return None
    next_update = crl_next_update(authority)
    if next_update is not None and next_update - clock.now() > CRL_RENEW_BEFORE:
        return None
    return publish_crl(db_session, actor=actor, settings=settings)


def current_crl(db_session: Session) -> bytes | None:
    """The published CRL (DER), for anyone: it is public by nature."""
    authority = _authority(db_session)
    return authority.crl_der if authority else None


def ca_certificate(db_session: Session) -> str | None:
    """The CA certificate (PEM), public: systems and peers put it in their trust store."""
    authority = _authority(db_session)
    return authority.certificate_pem if authority else None


# --- reading ----------------------------------------------------------------------------


def _visible(
    db_session: Session, actor: Actor, certificate_id: int, *, manage: bool = False
) -> SystemCertificate:
    if manage:
        require(actor, Role.PLATFORM_OPERATOR, Role.DATA_OFFICER, action="管理系统证书")
    else:
        require(actor, *OVERSEERS, Role.DATA_OFFICER, action="查看系统证书")
    cert = db_session.get(SystemCertificate, certificate_id)
    sees_all = actor.has(Role.PLATFORM_OPERATOR) if manage else actor.has(*OVERSEERS)
    if cert is None or not (sees_all or actor.organization_id == cert.organization_id):
        raise NotFound(f"证书 {certificate_id} 不存在", field="certificate_id")
    return cert


def get_certificate(db_session: Session, *, actor: Actor, certificate_id: int) -> SystemCertificate:
    return _visible(db_session, actor, certificate_id)


def list_certificates(
    db_session: Session,
    *,
    actor: Actor,
    system_id: int | None = None,
    expiring_within_days: int | None = None,
) -> list[SystemCertificate]:
    """Certificates, soonest expiry first: every department's for the operator, the
    authority and auditors (a supervision fact: which expire within N days), one's own
    department's for its data officer. Revoked ones are listed too."""
    require(actor, *OVERSEERS, Role.DATA_OFFICER, action="查看系统证书")
    stmt = select(SystemCertificate).order_by(SystemCertificate.not_after, SystemCertificate.id)
    if not actor.has(*OVERSEERS):
        stmt = stmt.where(SystemCertificate.organization_id == actor.organization_id)
    if system_id is not None:
        stmt = stmt.where(SystemCertificate.system_id == system_id)
    if expiring_within_days is not None:
        now = clock.now()
        stmt = stmt.where(
            SystemCertificate.revoked_at.is_(None),
            SystemCertificate.not_after > now,
            SystemCertificate.not_after <= now + timedelta(days=expiring_within_days),
        )
    return list(db_session.execute(stmt).scalars().unique().all())


def status_of(cert: SystemCertificate, now: datetime | None = None) -> str:
    """有效、已过期、已吊销, as pages show it."""
    now = now or clock.now()
    if cert.revoked_at is not None:
        return "已吊销"
    if cert.not_after <= now:
        return "已过期"
    if cert.not_before > now:
        return "尚未生效"
    return "有效"


# --- authentication ---------------------------------------------------------------------


class CertificateRefused(Unauthenticated):
    """A presented certificate is not accepted; `reason` is the audit's code for why."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, field="client_certificate")
        self.reason = reason


def authenticate_certificate(
    db_session: Session, *, certificate_pem: str, source_ip: str | None = None
) -> Actor:
    """The system behind a client certificate the TLS terminator verified: the platform
    checks again that its CA issued it, that it is in its validity period, registered here
    and not revoked, and that the system is in use. Raises CertificateRefused saying why."""
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    except ValueError:
        raise CertificateRefused("客户端证书无法解析", "unreadable") from None
    authority = _authority(db_session)
    if authority is None:
        raise CertificateRefused("平台尚未建立证书签发机构，无法验证客户端证书", "no_authority")
    ca_cert = x509.load_pem_x509_certificate(authority.certificate_pem.encode())
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateRefused(
            "客户端证书不是本平台证书签发机构签发的，不予信任", "untrusted_issuer"
        ) from None
    row = db_session.execute(
        select(SystemCertificate).where(SystemCertificate.fingerprint == _fingerprint(cert))
    ).scalar_one_or_none()
    if row is None:
        raise CertificateRefused("客户端证书未在本平台登记", "unknown")
    if _user_id(cert) != f"system:{row.system_id}":
        raise CertificateRefused("平台证书只用于平台之间的交换，不能用于系统认证", "platform")
    zone = clock.to_city(clock.now()).tzinfo
    if row.revoked_at is not None:
        reason = row.revocation_reason.label if row.revocation_reason else ""
        when = row.revoked_at.astimezone(zone)
        raise CertificateRefused(
            f"客户端证书（序列号 {row.serial}）已吊销（{when:%Y-%m-%d %H:%M}，原因：{reason}），"
            "不能再用于认证，请向平台管理单位申请新证书",
            "revoked",
        )
    now = clock.now()
    if row.not_after <= now:
        raise CertificateRefused(
            f"客户端证书（序列号 {row.serial}）已于 {row.not_after.astimezone(zone):%Y-%m-%d} "
            "过期，请续期或重新签发",
            "expired",
        )
    if row.not_before > now:
        raise CertificateRefused("客户端证书尚未生效", "not_yet_valid")
    if row.system.state is not SystemState.IN_USE:
        raise CertificateRefused(f"信息系统“{row.system.name}”已停用", "system_retired")
    return Actor(
        label=f"cert:{row.serial[:16]}",
        roles=frozenset({Role.SYSTEM}),
        organization_id=row.organization_id,
        source_ip=source_ip,
    )


def _user_id(cert: x509.Certificate) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    return str(values[0].value) if values else ""


def record_refusal(
    db_session: Session, *, source_ip: str | None, reason: str, message: str, serial: str = ""
) -> None:
    """Audits a refused system authentication (called in its own transaction, as the
    request's is rolled back)."""
    record(
        db_session,
        actor=Actor.anonymous(source_ip),
        action="pki.authentication.refused",
        object_type="pki_certificate",
        details={"reason": reason, "message": message[:200], "serial": serial},
    )
