"""Tables of verification: objections (疑义, VER-1, VER-2, VER-4) and the evidence attached
to them or to a comparison's mismatch cases.

An objection is raised by a consumer on records it received under a grant (the keys, the
items, the values it believes right, its evidence) or on a catalog entry's metadata (SR§9
¶2). The provider verifies it within the profile's working days; an extension, approved by
the provider's head, may move the deadline up to the profile's maximum, counted from the day
the objection was raised. A confirmed objection on records stays open until a sync run
brings the corrected values into the center; a rejection gives its reasons.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from govshare.catalog.models import Labelled, Resource
from govshare.core import stamp
from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.core.stored_documents import StoredDocument
from govshare.identity.models import Organization

LABELS: dict[str, dict[str, str]] = {
    "ObjectionSubject": {
        "records": "数据记录",
        "metadata": "目录信息",
    },
    "ObjectionState": {
        "open": "待核实",
        "confirmed": "已确认，待更正",
        "corrected": "已更正",
        "rejected": "已驳回",
    },
    "ExtensionState": {
        "requested": "延期待负责人审批",
        "approved": "延期已批准",
        "refused": "延期未批准",
    },
}


class ObjectionSubject(Labelled):
    RECORDS = "records"  # values of records received under a grant
    METADATA = "metadata"  # the catalog entry itself (SR§9 ¶2)


class ObjectionState(Labelled):
    OPEN = "open"  # waiting for the provider's verification
    CONFIRMED = "confirmed"  # the provider agrees; the correction has not reached the center
    CORRECTED = "corrected"  # closed: the corrected values arrived (or the entry was fixed)
    REJECTED = "rejected"  # closed: the provider gave its reasons

    @property
    def closed(self) -> bool:
        return self in (ObjectionState.CORRECTED, ObjectionState.REJECTED)


class ExtensionState(Labelled):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"


class Evidence(StoredDocument, Base):
    """A scanned document (证明材料) attached to an objection (by its consumer or provider)
    or to a mismatch case (by the department disputing it), kept beside it; reading it is
    logged. Exactly one of `objection_id` and `mismatch_id` is set."""

    __tablename__ = "verification_evidence"
    __table_args__ = (
        CheckConstraint("(objection_id IS NULL) <> (mismatch_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    objection_id: Mapped[int | None] = mapped_column(
        ForeignKey("verification_objection.id"), index=True
    )
    mismatch_id: Mapped[int | None] = mapped_column(
        ForeignKey("verification_mismatch.id"), index=True
    )
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))  # whose

    organization: Mapped[Organization] = relationship(lazy="joined")


class Objection(Base):
    """A consumer's objection (疑义) and its verification by the provider."""

    __tablename__ = "verification_objection"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # YY2026000001
    subject: Mapped[ObjectionSubject] = mapped_column(str_enum(ObjectionSubject, 16))
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_grant.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    # Records: [{item: value}] keys by data item name; the items disputed; the values the
    # consumer believes right {item: value} (may be partial); metadata: `items` are the
    # entry's attributes in question.
    keys: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    items: Mapped[list[str]] = mapped_column(JSON)
    claimed: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text, default="")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raised_on: Mapped[date] = mapped_column(Date)
    raised_by: Mapped[str] = mapped_column(String(120))
    profile_code: Mapped[str] = mapped_column(String(32))
    verify_days: Mapped[int] = mapped_column(Integer)  # copied from the profile when raised
    max_days: Mapped[int] = mapped_column(Integer)  # the longest an extension may reach
    due_on: Mapped[date] = mapped_column(Date, index=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[ObjectionState] = mapped_column(str_enum(ObjectionState, 16), index=True)

    extension: Mapped[ExtensionState | None] = mapped_column(str_enum(ExtensionState, 16))
    extension_days: Mapped[int | None] = mapped_column(Integer)  # working days in all, asked
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_requested_by: Mapped[str | None] = mapped_column(String(120))
    extension_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_decided_by: Mapped[str | None] = mapped_column(String(120))
    extension_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(120))
    answer: Mapped[str] = mapped_column(Text, default="")
    corrected: Mapped[dict[str, Any]] = mapped_column(JSON)  # {item: value} as corrected
    correction_run_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_run.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    resource: Mapped[Resource] = relationship(lazy="joined")
    provider: Mapped[Organization] = relationship(foreign_keys=[provider_id], lazy="joined")
    consumer: Mapped[Organization] = relationship(foreign_keys=[consumer_id], lazy="joined")
    attachments: Mapped[list[Evidence]] = relationship(
        primaryjoin=lambda: Objection.id == foreign(Evidence.objection_id),
        order_by=lambda: Evidence.id,
        lazy="selectin",
        viewonly=True,
    )


class ServedOnProof(Base):
    """A citizen served on valid proof while an objection on their record was open (VER-2):
    who served them, when, and on what proof."""

    __tablename__ = "verification_served"

    id: Mapped[int] = mapped_column(primary_key=True)
    objection_id: Mapped[int] = mapped_column(ForeignKey("verification_objection.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    served_at: Mapped[datetime] = mapped_column(UTCDateTime)
    served_by: Mapped[str] = mapped_column(String(120))
    person: Mapped[str] = mapped_column(String(200))  # whom, as the clerk recorded
    proof: Mapped[str] = mapped_column(Text)  # what proof was shown


# Delivery keeps the keys under an open objection in memory per process (core.stamp).
stamp.watch(Objection)
