"""Small builders for the certificate tests: settings with a fixed sealing key, a CA, a
registered system and certificates."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session

from govshare.core.permissions import Actor
from govshare.core.settings import Settings
from govshare.pki import service as pki_service
from govshare.pki.models import CertificateAuthority, SystemCertificate
from govshare.systems.models import InformationSystem
from tests.systems.builders import registered

SETTINGS = Settings(secret_key="pki-tests", credential_key="5a" * 32)
DAYS = 365


def authority(db: Session, op: Actor, settings: Settings = SETTINGS) -> CertificateAuthority:
    return pki_service.init_authority(db, actor=op, settings=settings, name="测试市共享平台 CA")


def system(db: Session, officer: Actor, **kw: object) -> InformationSystem:
    return registered(db, officer, **kw)


def csr_pem(key: ec.EllipticCurvePrivateKey | None = None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anything")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def issued(db: Session, actor: Actor, system_id: int, days: int = DAYS) -> SystemCertificate:
    return pki_service.issue_from_csr(
        db,
        actor=actor,
        settings=SETTINGS,
        validity_days=days,
        system_id=system_id,
        csr_pem=csr_pem(),
    )
