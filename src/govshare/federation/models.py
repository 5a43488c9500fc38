"""Federation tables (级联, LVL-1, LVL-2): this platform's identity towards its peers, the
platforms above and below it that it trusts (对接平台), and every message exchanged with them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.pki.models import SystemCertificate


class PlatformLevel(StrEnum):
    """The administrative level a platform serves (平台层级)."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"

    @property
    def label(self) -> str:
        return {"province": "省级", "city": "市级", "county": "县级"}[self]


class Relation(StrEnum):
    """Where a peer stands from here: the platform above (上级) or one below (下级)."""

    UPPER = "upper"
    LOWER = "lower"

    @property
    def label(self) -> str:
        return {"upper": "上级平台", "lower": "下级平台"}[self]


class PeerState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"

    @property
    def label(self) -> str:
        return {"active": "对接中", "suspended": "已暂停"}[self]


class Direction(StrEnum):
    SENT = "sent"
    RECEIVED = "received"

    @property
    def label(self) -> str:
        return {"sent": "发出", "received": "收到"}[self]


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"  # the receiver refused it (signature, peer, rule)
    FAILED = "failed"  # not delivered: network, TLS, or no valid reply

    @property
    def label(self) -> str:
        return {"ok": "成功", "refused": "被拒绝", "failed": "未送达"}[self]


# What each kind of message between platforms does, in the interface's words.
KIND_LABELS = {
    "hello": "握手（交换身份和吊销列表）",
    "catalog.export": "目录同步",
    "catalog.describe": "查询上级资源",
    "request.bundle": "整体授权申请",
    "request.status": "申请进度同步",
    "data.query": "中转查询",
    "gateway.call": "中转接口调用",
}


class PlatformIdentity(Base):
    """This platform's identity towards peers (平台身份): its code and level, the address peers
    reach it at, and the certificate its own CA issued it, with the key sealed at rest. The
    certificate is a `pki_certificate` of the platform's registered information system, so it
    is listed, expires and is revoked like any other."""

    __tablename__ = "federation_identity"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12))  # 行政区划代码 of the area the platform serves
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[PlatformLevel] = mapped_column(str_enum(PlatformLevel, 16))
    url: Mapped[str] = mapped_column(String(255))  # https://host:port, as peers reach it
    certificate_id: Mapped[int] = mapped_column(ForeignKey("pki_certificate.id"))
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))

    certificate: Mapped[SystemCertificate] = relationship(lazy="joined")


class Peer(Base):
    """A platform this one is peered with (对接平台), trusted through its CA certificate (信任锚)."""

    __tablename__ = "federation_peer"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[PlatformLevel] = mapped_column(str_enum(PlatformLevel, 16))
    relation: Mapped[Relation] = mapped_column(str_enum(Relation, 16), index=True)
    url: Mapped[str] = mapped_column(String(255))
    anchor_pem: Mapped[str] = mapped_column(Text)  # the peer's CA certificate
    anchor_fingerprint: Mapped[str] = mapped_column(String(64))
    anchor_subject: Mapped[str] = mapped_column(String(255))
    crl_der: Mapped[bytes | None] = mapped_column(LargeBinary)  # the peer CA's latest CRL
    crl_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[PeerState] = mapped_column(str_enum(PeerState, 16))
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))


class PeerMessage(Base):
    """One message between platforms (交换消息), logged on both sides under the same id."""

    __tablename__ = "federation_message"
    __table_args__ = (UniqueConstraint("peer_id", "direction", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), index=True)
    peer_id: Mapped[int | None] = mapped_column(ForeignKey("federation_peer.id"), index=True)
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, 16))
    kind: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome, 16))
    status: Mapped[int] = mapped_column(Integer)  # the HTTP status of the reply; 0 when none
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the signed request body
    error: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))  # who caused it here
    source_ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    peer: Mapped[Peer | None] = relationship(lazy="joined")
