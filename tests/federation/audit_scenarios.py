"""Audit scenarios for federation between platforms (see tests/test_audit_coverage.py)."""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from govshare.core import clock
from govshare.federation import service as federation
from govshare.federation.models import (
    Direction,
    Outcome,
    Peer,
    PeerState,
    PlatformIdentity,
    PlatformLevel,
)
from govshare.pki import service as pki
from govshare.pki.service import _self_signed
from tests.pki.builders import DAYS, SETTINGS, authority
from tests.scenarios import READ_ONLY, Reads, World, Writes

FED = "govshare.federation.service."
_COUNTY_KEY = ec.generate_private_key(ec.SECP256R1())
_COUNTY_CA = _self_signed(_COUNTY_KEY, "信州区政务数据共享平台 CA")


def _identity(w: World) -> PlatformIdentity:
    authority(w.db, w.op)
    return federation.init_identity(
        w.db,
        actor=w.op,
        settings=SETTINGS,
        validity_days=DAYS,
        organization_id=w.dept.id,
        code="361100",
        name="测试市政务数据共享平台",
        level=PlatformLevel.CITY,
        url="https://127.0.0.1:8443",
    )


def _peer(w: World) -> Peer:
    _identity(w)
    return federation.add_peer(
        w.db,
        actor=w.op,
        code="361102",
        name="信州区政务数据共享平台",
        level=PlatformLevel.COUNTY,
        url="https://127.0.0.1:9443",
        anchor_pem=_COUNTY_CA.public_bytes(serialization.Encoding.PEM).decode(),
    )


def _county_crl() -> bytes:
    now = clock.now()
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_COUNTY_CA.subject)
        .last_update(now)
        .next_update(now.replace(year=now.year + 1))
        .add_extension(x509.CRLNumber(7), critical=False)
        .sign(_COUNTY_KEY, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.DER)


def _county_platform() -> x509.Certificate:
    """The county platform's own certificate, as its CA issued it."""
    key, now = ec.generate_private_key(ec.SECP256R1()), clock.now()
    return (
        x509.CertificateBuilder()
        .subject_name(pki.platform_subject("信州区政务数据共享平台", "361102"))
        .issuer_name(_COUNTY_CA.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(_COUNTY_KEY, hashes.SHA256())
    )


def _log(w: World) -> None:
    federation.log_message(
        w.db,
        actor=w.op,
        message_id="3b0a54c2-6a1e-4a7e-9c64-2d8d0e0a1f11",
        peer=_peer(w),
        direction=Direction.SENT,
        kind="hello",
        outcome=Outcome.OK,
        status=200,
        digest="0" * 64,
    )


SCENARIOS: dict[str, Writes | Reads] = {
    FED + "init_identity": Writes("federation.identity.init", _identity),
    FED + "add_peer": Writes("federation.peer.add", _peer),
    FED + "set_peer_state": Writes(
        "federation.peer.suspend",
        lambda w: federation.set_peer_state(
            w.db, actor=w.op, peer_id=_peer(w).id, state=PeerState.SUSPENDED, reason="证书更换"
        ),
    ),
    FED + "store_crl": Writes(
        "federation.peer.crl",
        lambda w: federation.store_crl(w.db, _peer(w), _county_crl(), actor=w.op),
    ),
    FED + "log_message": Writes("federation.message.sent", _log),
    FED + "record_connection_refused": Writes(
        "federation.connection.refused",
        lambda w: federation.record_connection_refused(
            w.db, source_ip="10.0.0.9", reason="untrusted_issuer", message="对方证书未通过验证"
        ),
    ),
    FED + "record_message_refused": Writes(
        "federation.message.refused",
        lambda w: federation.record_message_refused(
            w.db, actor=w.op, message_id="3b0a54c2-6a1e-4a7e-9c64-2d8d0e0a1f11", reason="duplicate"
        ),
    ),
    FED + "identity": Reads(lambda w: federation.identity(w.db), prepare=_identity),
    FED + "required_identity": Reads(
        lambda w: federation.required_identity(w.db), prepare=_identity
    ),
    FED + "credentials_of": Reads(
        lambda w: federation.credentials_of(w.db, SETTINGS), prepare=_identity
    ),
    FED + "get_peer": Reads(
        lambda w: federation.get_peer(w.db, actor=w.op, peer_id=w.prepared.id), prepare=_peer
    ),
    FED + "list_peers": Reads(lambda w: federation.list_peers(w.db, actor=w.op), prepare=_peer),
    FED + "peer_by_code": Reads(lambda w: federation.peer_by_code(w.db, "361102"), prepare=_peer),
    FED + "active_peers": Reads(lambda w: federation.active_peers(w.db), prepare=_peer),
    FED + "check_peer_certificate": Reads(
        lambda w: federation.check_peer_certificate(w.db, _county_platform()), prepare=_peer
    ),
    FED + "list_messages": Reads(lambda w: federation.list_messages(w.db, actor=w.op)),
    FED + "host_of": READ_ONLY,
    FED + "port_of": READ_ONLY,
    FED + "platform_code_of": READ_ONLY,
    FED + "digest_of": READ_ONLY,
    FED + "sent_at_valid": READ_ONLY,
    FED + "require_operator": READ_ONLY,
}
