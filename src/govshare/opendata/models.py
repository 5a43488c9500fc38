"""Open releases (开放发布): what of a resource the public gets, and who decided it.

A release is the provider's definition of a resource's open view — which data items, which
rows, which masking — with its secrecy review (保密审查, SR§20: who reviewed, when, on what
basis, with what outcome), submitted to the platform operator, who confirms it. A confirmed
release is *open*: the publisher copies the open view into the portal database. A resource
has at most one release that is not withdrawn; changing an open view withdraws nothing until
the new one is confirmed (the old one stays open meanwhile).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.catalog.models import Labelled, OpenType, Resource
from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.identity.models import Organization

LABELS: dict[str, dict[str, str]] = {
    "ReleaseState": {
        "draft": "草稿",
        "submitted": "待平台确认",
        "returned": "已退回",
        "open": "已开放",
        "withdrawn": "已撤回",
    },
    "SecrecyOutcome": {
        "passed": "通过，可以开放",
        "not_passed": "未通过，不予开放",
    },
}


class ReleaseState(Labelled):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    OPEN = "open"
    WITHDRAWN = "withdrawn"


class SecrecyOutcome(Labelled):
    PASSED = "passed"
    NOT_PASSED = "not_passed"


class OpenRelease(Base):
    """The open view of a resource and the decisions behind it (OPN-3, SR§20)."""

    __tablename__ = "opendata_release"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    state: Mapped[ReleaseState] = mapped_column(str_enum(ReleaseState, 16), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("catalog_version.id"))  # the entry opened
    open_type: Mapped[OpenType] = mapped_column(str_enum(OpenType, 16))
    open_conditions: Mapped[str] = mapped_column(Text, default="")
    # The open view, in the grant's terms (sharing.schemas Condition and Mask).
    fields: Mapped[list[str]] = mapped_column(JSON)
    row_filter: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    masking: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSON)
    # The secrecy review (保密审查).
    secrecy_reviewer: Mapped[str | None] = mapped_column(String(120))
    secrecy_reviewed_on: Mapped[date | None] = mapped_column(Date)
    secrecy_basis: Mapped[str | None] = mapped_column(Text)
    secrecy_outcome: Mapped[SecrecyOutcome | None] = mapped_column(str_enum(SecrecyOutcome, 16))
    secrecy_recorded_by: Mapped[str | None] = mapped_column(String(120))
    # The way through.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decision_comment: Mapped[str | None] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(120))
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    # What the publisher last copied to the portal.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_rows: Mapped[int | None] = mapped_column(BigInteger)
    publications: Mapped[int] = mapped_column(Integer, default=0)

    resource: Mapped[Resource] = relationship(lazy="joined")

    # The scope protocol of exchange delivery (grant_scope): an open view is never whole.
    whole_resource = False


LABELS["PublicApplicationState"] = {
    "pending": "待答复",
    "approved": "同意开放",
    "refused": "不同意开放",
}


class PublicApplicationState(Labelled):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class PublicApplication(Base):
    """A member of the public's application for conditional open data (OPN-2, SR§22), as the
    platform read it from the portal: the provider answers within the profile's working days
    (Shangrao: 20), a refusal with reasons and its legal basis."""

    __tablename__ = "opendata_public_application"

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(Integer, unique=True)  # portal_application.id
    number: Mapped[str] = mapped_column(String(30), unique=True)  # KF2026000001
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    applicant_kind: Mapped[str] = mapped_column(String(16))  # person | organization
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_code: Mapped[str] = mapped_column(String(18))  # ID number or credit code
    applicant_mobile: Mapped[str] = mapped_column(String(11))
    purpose: Mapped[str] = mapped_column(Text)
    usage: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[str]] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[PublicApplicationState] = mapped_column(
        str_enum(PublicApplicationState, 16), index=True
    )
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(120))
    answer: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    granted_fields: Mapped[list[str]] = mapped_column(JSON)
    valid_until: Mapped[date | None] = mapped_column(Date)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # answer on the portal

    resource: Mapped[Resource] = relationship(lazy="joined")

    @property
    def resource_code(self) -> str:
        return self.resource.code


LABELS["PublicRequestState"] = {
    "received": "待分派",
    "assigned": "待答复",
    "answered": "已答复",
}


class PublicRequestState(Labelled):
    RECEIVED = "received"  # read from the portal, waiting for the operator
    ASSIGNED = "assigned"  # on a department's responsibility list
    ANSWERED = "answered"


class PublicDataRequest(Base):
    """A member of the public's request for data not open yet (数据开放需求, SR§7, CAT-10), as
    the platform read it from the portal: the operator assigns it to a department, where it
    stands on the responsibility list (责任清单) until the department answers — it will open
    the data by a date, or cannot, with its reasons."""

    __tablename__ = "opendata_public_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    portal_id: Mapped[int] = mapped_column(Integer, unique=True)  # portal_data_request.id
    number: Mapped[str] = mapped_column(String(30), unique=True)  # KX2026000001
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    domain: Mapped[str | None] = mapped_column(String(32))  # an SR§21 domain value
    department: Mapped[str] = mapped_column(String(100), default="")  # as the requester named it
    requester_kind: Mapped[str] = mapped_column(String(16))  # person | organization
    requester_name: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[PublicRequestState] = mapped_column(str_enum(PublicRequestState, 16), index=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id"), index=True
    )  # the department it is assigned to
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_by: Mapped[str | None] = mapped_column(String(120))
    assignment_note: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(120))
    will_open: Mapped[bool | None] = mapped_column(Boolean)
    planned_on: Mapped[date | None] = mapped_column(Date)  # when the data will be open
    answer: Mapped[str] = mapped_column(Text, default="")  # the plan, or the reasons
    # The state the portal last received (accepted at reception; assigned, answered later).
    delivered_state: Mapped[str | None] = mapped_column(String(16))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization | None] = relationship(lazy="joined")
