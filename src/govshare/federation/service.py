"""Peering between platforms (级联对接, LVL-1, LVL-2), as X-Road federates: each platform runs
its own certificate authority, the operators exchange their CA certificates as trust anchors
(信任锚), and every message between two platforms travels over mutual TLS, is signed by the
sending platform and is logged on both sides under one message id.

This module holds the rules: this platform's identity, its peers, whether a presented
certificate belongs to an active peer, and the log of messages. `transport` moves the bytes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import record
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.core.settings import Settings
from govshare.exchange import credentials
from govshare.exchange.models import Cipher
from govshare.federation.models import (
    Direction,
    Outcome,
    Peer,
    PeerMessage,
    PeerState,
    PlatformIdentity,
    PlatformLevel,
    Relation,
)
from govshare.pki import service as pki
from govshare.systems import service as systems
from govshare.systems.models import InformationSystem, SystemLevel, SystemState
from govshare.systems.schemas import SystemIn

KEY_CONTEXT = "federation:identity"
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
_RANK = {PlatformLevel.PROVINCE: 0, PlatformLevel.CITY: 1, PlatformLevel.COUNTY: 2}
_CODE = re.compile(r"^\d{6}$|^\d{9}$|^\d{12}$")  # 行政区划代码: 6 digits, or 9/12 below county


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _check_code(code: str) -> str:
    code = code.strip()
    if not _CODE.match(code):
        raise Invalid("平台代码须为 6 位行政区划代码（或 9、12 位）", field="code")
    return code


def _check_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise Invalid("地址须为 https://主机:端口 的形式", field="url")
    try:
        _ = parts.port
    except ValueError:
        raise Invalid("地址中的端口无效", field="url") from None
    return url


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def port_of(url: str) -> int:
    return urlsplit(url).port or 443


# --- this platform's identity ------------------------------------------------------------


def identity(db_session: Session) -> PlatformIdentity | None:
    return db_session.execute(
        select(PlatformIdentity).order_by(PlatformIdentity.id.desc()).limit(1)
    ).scalar_one_or_none()


def required_identity(db_session: Session) -> PlatformIdentity:
    found = identity(db_session)
    if found is None:
        raise Conflict(
            "本平台尚未设置级联身份，请先运行 govshare federation init", field="identity"
        )
    return found


def _platform_system(
    db_session: Session, actor: Actor, organization_id: int, name: str, level: PlatformLevel
) -> InformationSystem:
    """The platform itself in the information systems register (the certificate's holder)."""
    system = db_session.execute(
        select(InformationSystem).where(
            InformationSystem.organization_id == organization_id,
            InformationSystem.name == name,
            InformationSystem.state == SystemState.IN_USE,
        )
    ).scalar_one_or_none()
    if system is not None:
        return system
    return systems.register_system(
        db_session,
        actor=actor,
        data=SystemIn(
            organization_id=organization_id,
            name=name,
            purpose="政务数据共享平台：与上级、下级平台级联交换目录、申请和数据",
            owner="平台管理单位",
            level=SystemLevel(level.value),
        ),
    )


def init_identity(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    validity_days: int,
    organization_id: int,
    code: str,
    name: str,
    level: PlatformLevel,
    url: str,
) -> PlatformIdentity:
    """Sets this platform's identity and issues its certificate from the platform's own CA,
    for the host peers reach it at. Run again, it replaces the certificate (a new key); the
    old certificate stays valid until it expires or is revoked."""
    require(actor, Role.PLATFORM_OPERATOR, action="设置平台级联身份")
    code = _check_code(code)
    url = _check_url(url)
    name = name.strip()
    if not 4 <= len(name) <= 64:
        raise Invalid("平台名称须为 4 至 64 个字", field="name")
    current = identity(db_session)
    if current is not None and current.code != code:
        raise Conflict(
            f"本平台的级联代码已是 {current.code}，不能改为 {code}（对接平台以此识别本平台）",
            field="code",
        )
    system = _platform_system(db_session, actor, organization_id, name, level)
    certificate, key = pki.issue_platform(
        db_session,
        actor=actor,
        settings=settings,
        validity_days=validity_days,
        system_id=system.id,
        name=name,
        code=code,
        hosts=[host_of(url)],
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    row = PlatformIdentity(
        code=code,
        name=name,
        level=level,
        url=url,
        certificate_id=certificate.id,
        key_sealed=credentials.seal(
            key_pem,
            key=credentials.key_of(settings),
            cipher=Cipher(settings.credential_cipher),
            context=KEY_CONTEXT,
        ),
        created_at=clock.now(),
        created_by=actor.label,
    )
    db_session.add(row)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="federation.identity.init",
        object_type="federation_identity",
        object_id=row.id,
        details={
            "code": code,
            "name": name,
            "level": level.value,
            "url": url,
            "serial": certificate.serial,
        },
    )
    return row


@dataclass(frozen=True)
class Credentials:
    """What the transport needs to speak as this platform."""

    code: str
    name: str
    certificate_pem: str
    key: ec.EllipticCurvePrivateKey
    fingerprint: str


def credentials_of(db_session: Session, settings: Settings) -> Credentials:
    found = required_identity(db_session)
    key_pem = credentials.open_sealed(
        found.key_sealed, key=credentials.key_of(settings), context=KEY_CONTEXT
    )
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return Credentials(
        code=found.code,
        name=found.name,
        certificate_pem=found.certificate.certificate_pem,
        key=key,
        fingerprint=found.certificate.fingerprint,
    )


# --- peers --------------------------------------------------------------------------------


def _anchor(pem: str) -> x509.Certificate:
    try:
        cert = x509.load_pem_x509_certificate(pem.strip().encode())
    except ValueError:
        raise Invalid("信任锚不是有效的 PEM 格式证书", field="anchor") from None
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise Invalid("信任锚须为对方平台的证书签发机构（CA）证书", field="anchor")
    if cert.not_valid_after_utc <= clock.now():
        raise Invalid("信任锚证书已过期", field="anchor")
    return cert


def add_peer(
    db_session: Session,
    *,
    actor: Actor,
    code: str,
    name: str,
    level: PlatformLevel,
    url: str,
    anchor_pem: str,
) -> Peer:
    """Peers with the platform above or below, trusting its CA certificate. Which it is
    follows from the levels: a peer must be one level apart, or the same level's (counties
    of a city are each other's strangers)."""
    require(actor, Role.PLATFORM_OPERATOR, action="添加对接平台")
    own = required_identity(db_session)
    code = _check_code(code)
    url = _check_url(url)
    name = name.strip()
    if not 2 <= len(name) <= 100:
        raise Invalid("平台名称须为 2 至 100 个字", field="name")
    if code == own.code:
        raise Invalid("不能与本平台自身对接", field="code")
    distance = _RANK[level] - _RANK[own.level]
    if distance == -1:
        relation = Relation.UPPER
    elif distance == 1:
        relation = Relation.LOWER
    else:
        raise Invalid(
            f"{level.label}平台与本平台（{own.level.label}）不相邻，只能对接上一级或下一级平台",
            field="level",
        )
    if relation is Relation.UPPER and db_session.scalar(
        select(Peer.id).where(Peer.relation == Relation.UPPER, Peer.state == PeerState.ACTIVE)
    ):
        raise Conflict("本平台已对接上级平台，一个平台只有一个上级", field="level")
    if db_session.scalar(select(Peer.id).where(Peer.code == code)):
        raise Conflict(f"代码为 {code} 的平台已对接", field="code")
    anchor = _anchor(anchor_pem)
    own_ca = pki.ca_certificate(db_session)
    if own_ca and _fingerprint(x509.load_pem_x509_certificate(own_ca.encode())) == _fingerprint(
        anchor
    ):
        raise Invalid("信任锚是本平台自己的 CA 证书，请使用对方平台的 CA 证书", field="anchor")
    peer = Peer(
        code=code,
        name=name,
        level=level,
        relation=relation,
        url=url,
        anchor_pem=anchor.public_bytes(serialization.Encoding.PEM).decode(),
        anchor_fingerprint=_fingerprint(anchor),
        anchor_subject=anchor.subject.rfc4514_string()[:255],
        state=PeerState.ACTIVE,
        created_at=clock.now(),
        created_by=actor.label,
    )
    db_session.add(peer)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="federation.peer.add",
        object_type="federation_peer",
        object_id=peer.id,
        details={
            "code": code,
            "name": name,
            "level": level.value,
            "relation": relation.value,
            "url": url,
            "anchor_fingerprint": peer.anchor_fingerprint,
        },
    )
    return peer


def set_peer_state(
    db_session: Session, *, actor: Actor, peer_id: int, state: PeerState, reason: str
) -> Peer:
    """Suspends a peering (its messages are refused both ways) or resumes it."""
    require(actor, Role.PLATFORM_OPERATOR, action="暂停或恢复对接")
    peer = get_peer(db_session, actor=actor, peer_id=peer_id)
    if peer.state is state:
        raise Conflict(f"该对接已是“{state.label}”状态", field="state")
    if len(reason.strip()) < 2:
        raise Invalid("请填写原因", field="reason")
    peer.state = state
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="federation.peer.suspend"
        if state is PeerState.SUSPENDED
        else "federation.peer.resume",
        object_type="federation_peer",
        object_id=peer.id,
        details={"code": peer.code, "reason": reason.strip()},
    )
    return peer


def get_peer(db_session: Session, *, actor: Actor, peer_id: int) -> Peer:
    require(actor, *OVERSEERS, action="查看对接平台")
    peer = db_session.get(Peer, peer_id)
    if peer is None:
        raise NotFound(f"对接平台 {peer_id} 不存在", field="peer_id")
    return peer


def list_peers(db_session: Session, *, actor: Actor) -> list[Peer]:
    require(actor, *OVERSEERS, Role.DATA_OFFICER, action="查看对接平台")
    return list(db_session.execute(select(Peer).order_by(Peer.relation, Peer.code)).scalars())


def peer_by_code(db_session: Session, code: str) -> Peer | None:
    return db_session.execute(select(Peer).where(Peer.code == code)).scalar_one_or_none()


def active_peers(db_session: Session, relation: Relation | None = None) -> list[Peer]:
    stmt = select(Peer).where(Peer.state == PeerState.ACTIVE).order_by(Peer.id)
    if relation is not None:
        stmt = stmt.where(Peer.relation == relation)
    return list(db_session.execute(stmt).scalars())


def store_crl(db_session: Session, peer: Peer, crl_der: bytes, *, actor: Actor) -> None:
    """Keeps a peer CA's CRL once its signature checks out against the trust anchor and it
    is newer than the one held."""
    try:
        crl = x509.load_der_x509_crl(crl_der)
    except ValueError:
        return
    anchor = x509.load_pem_x509_certificate(peer.anchor_pem.encode())
    public_key = anchor.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not crl.is_signature_valid(
        public_key
    ):
        return
    number = _crl_number(crl)
    if peer.crl_der is not None and number <= _crl_number(x509.load_der_x509_crl(peer.crl_der)):
        return
    peer.crl_der = crl_der
    peer.crl_updated_at = clock.now()
    record(
        db_session,
        actor=actor,
        action="federation.peer.crl",
        object_type="federation_peer",
        object_id=peer.id,
        details={"code": peer.code, "crl_number": number, "revoked": len(list(crl))},
    )


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


# --- whether a presented platform certificate is a peer's ---------------------------------


class PeerRefused(Exception):
    """A peer's certificate or message is not accepted; `reason` is the audit's code."""

    def __init__(self, message: str, reason: str, peer: Peer | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.peer = peer


def platform_code_of(cert: x509.Certificate) -> str | None:
    values = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    value = str(values[0].value) if values else ""
    return value.removeprefix("platform:") if value.startswith("platform:") else None


def check_peer_certificate(
    db_session: Session, cert: x509.Certificate, *, expected: Peer | None = None
) -> Peer:
    """The active peer this platform certificate belongs to: issued by its trust anchor, in
    its validity period, not on its CRL, naming the peer's code. Raises PeerRefused."""
    code = platform_code_of(cert)
    if code is None:
        raise PeerRefused("对方证书不是平台证书", "not_platform")
    peer = expected or peer_by_code(db_session, code)
    if peer is None or peer.code != code:
        raise PeerRefused(f"代码为 {code} 的平台未与本平台对接", "unknown_peer")
    if peer.state is not PeerState.ACTIVE:
        raise PeerRefused(f"与“{peer.name}”的对接已暂停", "suspended", peer)
    anchor = x509.load_pem_x509_certificate(peer.anchor_pem.encode())
    try:
        cert.verify_directly_issued_by(anchor)
    except (ValueError, TypeError, InvalidSignature):
        raise PeerRefused(
            f"对方证书不是“{peer.name}”的信任锚签发的", "untrusted_issuer", peer
        ) from None
    now = clock.now()
    if cert.not_valid_after_utc <= now:
        raise PeerRefused(f"“{peer.name}”的平台证书已过期", "expired", peer)
    if cert.not_valid_before_utc > now:
        raise PeerRefused(f"“{peer.name}”的平台证书尚未生效", "not_yet_valid", peer)
    if peer.crl_der is not None:
        crl = x509.load_der_x509_crl(peer.crl_der)
        if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            raise PeerRefused(
                f"“{peer.name}”的平台证书（序列号 {cert.serial_number:x}）已被其 CA 吊销",
                "revoked",
                peer,
            )
    return peer


# --- the message log ----------------------------------------------------------------------


def digest_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def log_message(
    db_session: Session,
    *,
    actor: Actor,
    message_id: str,
    peer: Peer | None,
    direction: Direction,
    kind: str,
    outcome: Outcome,
    status: int,
    digest: str,
    error: str | None = None,
    details: dict[str, object] | None = None,
) -> PeerMessage:
    """One side's record of a message, with its audit entry under the same message id."""
    row = PeerMessage(
        message_id=message_id,
        peer_id=peer.id if peer else None,
        direction=direction,
        kind=kind[:40],
        outcome=outcome,
        status=status,
        digest=digest,
        error=error[:500] if error else None,
        actor=actor.label[:120],
        source_ip=actor.source_ip,
        at=clock.now(),
    )
    db_session.add(row)
    if peer is not None and outcome is Outcome.OK:
        peer.last_contact_at = row.at
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=f"federation.message.{direction.value}",
        object_type="federation_message",
        object_id=row.id,
        details={
            "message_id": message_id,
            "peer": peer.code if peer else None,
            "kind": kind,
            "outcome": outcome.value,
            "status": status,
            "digest": digest,
            "error": row.error,
            **(details or {}),
        },
    )
    return row


def record_connection_refused(
    db_session: Session, *, source_ip: str | None, reason: str, message: str
) -> None:
    """A TLS connection from a would-be peer refused before any message was read."""
    record(
        db_session,
        actor=Actor.anonymous(source_ip),
        action="federation.connection.refused",
        object_type="federation_peer",
        details={"reason": reason, "message": message[:300]},
    )


def list_messages(
    db_session: Session,
    *,
    actor: Actor,
    peer_id: int | None = None,
    message_id: str | None = None,
    limit: int = 100,
) -> list[PeerMessage]:
    require(actor, *OVERSEERS, action="查看级联消息")
    stmt = select(PeerMessage).order_by(PeerMessage.id.desc()).limit(min(max(limit, 1), 500))
    if peer_id is not None:
        stmt = stmt.where(PeerMessage.peer_id == peer_id)
    if message_id:
        stmt = stmt.where(PeerMessage.message_id == message_id.strip())
    return list(db_session.execute(stmt).scalars())


def sent_at_valid(value: object, now: datetime | None = None) -> bool:
    from govshare.federation.envelope import MAX_SKEW_SECONDS

    if not isinstance(value, str):
        return False
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    if moment.tzinfo is None:
        return False
    return abs(((now or clock.now()) - moment).total_seconds()) <= MAX_SKEW_SECONDS


def record_message_refused(
    db_session: Session, *, actor: Actor, message_id: str, reason: str
) -> None:
    """A refused message whose id is already in the log (a replay): audited only."""
    record(
        db_session,
        actor=actor,
        action="federation.message.refused",
        object_type="federation_message",
        details={"message_id": message_id, "reason": reason},
    )


def require_operator(actor: Actor) -> None:
    require(actor, Role.PLATFORM_OPERATOR, action="与对接平台通信")
