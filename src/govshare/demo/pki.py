"""The demo's certificate authority (证书管理, BZ§26): the platform's own CA, and one
certificate for the 市民政局's social assistance system, issued from the CSR its operators
made with a key of their own, so `/pki` shows an authority, a certificate and its CRL. The
key stays with the "system" (it is dropped here): the demo calls the API with tokens."""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.identity.models import User
from govshare.identity.service import actor_for_user
from govshare.pki import service as pki_service
from govshare.systems.models import InformationSystem

SYSTEM = "江州市社会救助信息系统"
OFFICER = "mzj_officer"


def _csr(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def build(runtime: Runtime, *, progress: Callable[[str], None] = lambda _: None) -> bool:
    """Creates the CA and the one certificate unless the platform already has a CA."""
    with runtime.transaction() as db_session:
        if pki_service.ca_certificate(db_session) is not None:
            return False
        progress("证书管理")
        pki_service.init_authority(
            db_session,
            actor=Actor.command_line("demo"),
            settings=runtime.settings,
            name=f"{runtime.city_name}政务数据共享平台 CA",
        )
        system = db_session.execute(
            select(InformationSystem).where(InformationSystem.name == SYSTEM)
        ).scalar_one()
        officer = db_session.execute(select(User).where(User.username == OFFICER)).scalar_one()
        pki_service.issue_from_csr(
            db_session,
            actor=actor_for_user(officer),
            settings=runtime.settings,
            validity_days=runtime.profile.rules.certificate_validity_days.value,
            system_id=system.id,
            csr_pem=_csr(SYSTEM),
        )
    return True
