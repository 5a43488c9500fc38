"""Tables of requests to the level above (上级资源申请, SHR-8, SR§15–§16).

Below: a department's request for an upper platform's resource (`federation_upper_request`,
with its attachments), the operator's bundle that carries several of them up as one
authorization request (`federation_bundle`), and the grants the upper platform made, mirrored
here (`federation_mirrored_grant`). Above: a bundle as received (`federation_inbound_bundle`),
one row per department's item (`federation_inbound_item`) pointing at the ordinary
application it became, and the organisations a lower platform speaks for
(`federation_peer_organization`)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.core.stored_documents import StoredDocument
from govshare.federation.models import Peer
from govshare.identity.models import Organization
from govshare.sharing.models import Application


class RequestState(StrEnum):
    """Where a department's upper-level request stands."""

    PRE_REVIEW = "pre_review"  # 待本级预审
    RETURNED = "returned"  # 本级退回
    READY = "ready"  # 预审通过，待报送上级
    FORWARDED = "forwarded"  # 已报送上级，上级办理中
    APPROVED = "approved"  # 上级已同意
    REFUSED = "refused"  # 上级不予同意
    UPPER_RETURNED = "upper_returned"  # 上级未受理或退回
    CLOSED = "closed"  # 上级已终止或撤回

    @property
    def label(self) -> str:
        return {
            "pre_review": "待本级预审",
            "returned": "本级退回",
            "ready": "待报送上级",
            "forwarded": "上级办理中",
            "approved": "上级已同意",
            "refused": "上级不予同意",
            "upper_returned": "上级未受理或退回",
            "closed": "上级已终止",
        }[self]

    @property
    def open(self) -> bool:
        return self in (RequestState.PRE_REVIEW, RequestState.READY, RequestState.FORWARDED)


class BundleState(StrEnum):
    SENDING = "sending"  # claimed, the message under way
    OPEN = "open"  # sent; some item still awaits the upper's decision
    DONE = "done"  # every item decided
    FAILED = "failed"  # not delivered; its requests went back to 待报送

    @property
    def label(self) -> str:
        return {"sending": "报送中", "open": "上级办理中", "done": "已办结", "failed": "报送失败"}[
            self
        ]


class UpperRequest(Base):
    """A department's request for a resource of the upper platform (上级资源申请)."""

    __tablename__ = "federation_upper_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    resource_name: Mapped[str] = mapped_column(String(200))
    provider_name: Mapped[str] = mapped_column(String(100))
    fields: Mapped[list[str]] = mapped_column(JSON)  # the data items wanted
    purpose: Mapped[str] = mapped_column(Text)  # 使用用途
    basis: Mapped[str] = mapped_column(Text)  # 申请依据
    system_id: Mapped[int] = mapped_column(ForeignKey("information_system.id"))
    system_name: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    contact: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[RequestState] = mapped_column(str_enum(RequestState, 16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(120))
    review_comment: Mapped[str | None] = mapped_column(Text)
    bundle_id: Mapped[int | None] = mapped_column(ForeignKey("federation_bundle.id"), index=True)
    # What the upper platform said of it, as of the last pull.
    upper_number: Mapped[str | None] = mapped_column(String(20))  # its application's number
    upper_state: Mapped[str | None] = mapped_column(String(40))  # its label there
    upper_due_on: Mapped[date | None] = mapped_column(Date)  # the open step's deadline there
    upper_reason: Mapped[str | None] = mapped_column(Text)
    upper_basis: Mapped[str | None] = mapped_column(Text)
    upper_conditions: Mapped[str | None] = mapped_column(Text)
    upper_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    peer: Mapped[Peer] = relationship(lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined")
    bundle: Mapped[Bundle | None] = relationship(lazy="joined")
    attachments: Mapped[list[RequestAttachment]] = relationship(
        order_by="RequestAttachment.id", lazy="selectin", viewonly=True
    )


class RequestAttachment(StoredDocument, Base):
    """A document the upper platform's rules require (e.g. the sealed letter 申请函)."""

    __tablename__ = "federation_request_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("federation_upper_request.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # policy.Attachment


class Bundle(Base):
    """One authorization request to the upper platform (整体授权申请) carrying every
    pre-reviewed request for one upper resource (SR§16)."""

    __tablename__ = "federation_bundle"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"), index=True)
    resource_code: Mapped[str] = mapped_column(String(40))
    resource_name: Mapped[str] = mapped_column(String(200))
    state: Mapped[BundleState] = mapped_column(str_enum(BundleState, 16), index=True)
    message_id: Mapped[str | None] = mapped_column(String(36))
    error: Mapped[str | None] = mapped_column(Text)
    upper_number: Mapped[str | None] = mapped_column(String(20))  # the inbound bundle's there
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    pulled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    peer: Mapped[Peer] = relationship(lazy="joined")


GRANT_STATES = {"active": "有效", "suspended": "暂停", "ended": "终止"}


class MirroredGrant(Base):
    """A grant the upper platform made to a department here (上级授权), as last pulled."""

    __tablename__ = "federation_mirrored_grant"
    __table_args__ = (UniqueConstraint("peer_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("federation_upper_request.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))  # the grant's number at the upper
    resource_code: Mapped[str] = mapped_column(String(40))
    resource_name: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[str]] = mapped_column(JSON)
    row_filter: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    masking: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    conditions: Mapped[str] = mapped_column(Text, default="")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))  # sharing.GrantState at the upper
    state_reason: Mapped[str | None] = mapped_column(Text)
    mirrored_at: Mapped[datetime] = mapped_column(UTCDateTime)

    peer: Mapped[Peer] = relationship(lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined")
    request: Mapped[UpperRequest] = relationship(lazy="joined")

    def usable(self, today: date) -> str | None:
        """Why it cannot be used today, or None."""
        if self.state != "active":
            return f"上级授权 {self.number} 已{GRANT_STATES.get(self.state, '失效')}"
        if self.valid_from > today:
            return f"上级授权 {self.number} 自 {self.valid_from} 起生效"
        if self.valid_until is not None and self.valid_until < today:
            return f"上级授权 {self.number} 已于 {self.valid_until} 到期"
        return None


# --- the upper side ------------------------------------------------------------------------


class PeerOrganization(Base):
    """An organisation a lower platform registered here and speaks for."""

    __tablename__ = "federation_peer_organization"
    __table_args__ = (UniqueConstraint("organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundBundle(Base):
    """An authorization request a lower platform sent (收到的整体授权申请)."""

    __tablename__ = "federation_inbound_bundle"
    __table_args__ = (UniqueConstraint("peer_id", "lower_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"), index=True)
    lower_number: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[str] = mapped_column(String(36))
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"))
    resource_code: Mapped[str] = mapped_column(String(40))
    resource_name: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    peer: Mapped[Peer] = relationship(lazy="joined")
    items: Mapped[list[InboundItem]] = relationship(
        order_by="InboundItem.id", lazy="selectin", viewonly=True
    )


class InboundItem(Base):
    """One department's request in an inbound bundle, and the application it became."""

    __tablename__ = "federation_inbound_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[int] = mapped_column(ForeignKey("federation_inbound_bundle.id"), index=True)
    lower_number: Mapped[str] = mapped_column(String(20))  # the request's number below
    organization_name: Mapped[str] = mapped_column(String(100))
    uscc: Mapped[str] = mapped_column(String(18))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_application.id"))
    error: Mapped[str | None] = mapped_column(Text)  # why it was not accepted

    application: Mapped[Application | None] = relationship(lazy="joined")
