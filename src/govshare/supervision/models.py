"""Tables of supervision (监督考核): the violations the platform finds itself (违规发现, SUP-2),
the rectification notices they become (整改通知), the circulated notices (通报) a notice
left past its deadline escalates to (SR§30), and the probes of registered service interfaces
and databases whose results give their availability.

A finding is found by a job from facts the other domains keep (a review step's deadline, an
objection, a sync run …): found again it is updated, not duplicated (`key`, unique among the
findings not resolved); it is resolved when the facts no longer hold. Each new finding becomes
one notice to its department, due the profile's `rectification_days` working days later.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.catalog.models import Labelled
from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.core.policy import Violation
from govshare.core.stored_documents import StoredDocument
from govshare.identity.models import Organization

LABELS: dict[str, dict[str, str]] = {
    "NoticeState": {
        "issued": "待整改",
        "answered": "已反馈，待审核",
        "returned": "退回重新整改",
        "escalated": "逾期未整改，已通报",
        "accepted": "整改通过",
    },
    "NoticeStep": {
        "issued": "下发整改通知",
        "answered": "部门反馈整改情况",
        "returned": "退回重新整改",
        "escalated": "逾期未整改，予以通报",
        "accepted": "整改通过",
    },
    "ProbeTarget": {"interface": "服务接口", "connection": "数据库连接"},
}


# Violations people record (a problem an inspection found, SEC-7) rather than a detector finds:
# no detection run looks for them, so none resolves them; accepting the rectification does.
RECORDED = frozenset({Violation.SECURITY_ISSUE})


class NoticeState(Labelled):
    ISSUED = "issued"  # waiting for the department's rectification
    ANSWERED = "answered"  # the department said what it did; the operator reviews it
    RETURNED = "returned"  # the operator sent it back, with a new deadline
    ESCALATED = "escalated"  # past its deadline unanswered: circulated (通报); still to answer
    ACCEPTED = "accepted"  # closed: the operator accepted the rectification

    @property
    def awaits_department(self) -> bool:
        return self in (NoticeState.ISSUED, NoticeState.RETURNED, NoticeState.ESCALATED)


class NoticeStep(Labelled):
    """What happened to a notice, in its history."""

    ISSUED = "issued"
    ANSWERED = "answered"
    RETURNED = "returned"
    ESCALATED = "escalated"
    ACCEPTED = "accepted"


class ProbeTarget(Labelled):
    INTERFACE = "interface"  # a service interface's base URL (exchange_service)
    CONNECTION = "connection"  # a registered database (exchange_connection)


class Finding(Base):
    """A violation the platform found (违规发现): the department, the facts, the article of
    the city's regulation it breaks."""

    __tablename__ = "supervision_finding"
    __table_args__ = (
        Index(
            "ux_supervision_finding_open_key",
            "key",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[Violation] = mapped_column(str_enum(Violation, 32), index=True)
    key: Mapped[str] = mapped_column(String(200))  # "decision_overdue:step:12"
    department_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))  # application_step, objection …
    subject_id: Mapped[int | None] = mapped_column(Integer)
    subject_label: Mapped[str] = mapped_column(String(300))
    link: Mapped[str] = mapped_column(String(300), default="")  # where the subject is shown
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    article: Mapped[str] = mapped_column(String(100))  # 第三十条第（三）项
    regulation: Mapped[str] = mapped_column(String(200))  # the regulation the article is of
    profile_code: Mapped[str] = mapped_column(String(32))
    first_found_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_found_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    department: Mapped[Organization] = relationship(lazy="joined")

    @property
    def citation(self) -> str:
        """The article as the pages and documents cite it: 《办法》第三十条第（三）项."""
        return f"《{self.regulation}》{self.article}"


class Notice(Base):
    """A rectification notice (整改通知) to the department a finding names; past its deadline
    unanswered, it is circulated (通报) to the authority, with a number of its own."""

    __tablename__ = "supervision_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # ZG2026000001
    finding_id: Mapped[int] = mapped_column(ForeignKey("supervision_finding.id"), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    state: Mapped[NoticeState] = mapped_column(str_enum(NoticeState, 16), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_on: Mapped[date] = mapped_column(Date)
    issued_by: Mapped[str] = mapped_column(String(120))
    profile_code: Mapped[str] = mapped_column(String(32))
    rectify_days: Mapped[int] = mapped_column(Integer)  # copied from the profile when issued
    due_on: Mapped[date] = mapped_column(Date, index=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)

    answer: Mapped[str] = mapped_column(Text, default="")  # what the department did
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(120))
    decision_note: Mapped[str] = mapped_column(Text, default="")  # the operator's last word
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The circulated notice (通报), once the deadline passed unanswered.
    circular_number: Mapped[str | None] = mapped_column(String(20), unique=True)  # TB2026000001
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    escalated_on: Mapped[date | None] = mapped_column(Date)
    circular_issuer: Mapped[str] = mapped_column(String(200), default="")
    circular_title: Mapped[str] = mapped_column(String(300), default="")
    circular_text: Mapped[str] = mapped_column(Text, default="")

    finding: Mapped[Finding] = relationship(lazy="joined")
    department: Mapped[Organization] = relationship(lazy="joined")
    steps: Mapped[list[NoticeEvent]] = relationship(
        order_by=lambda: NoticeEvent.id, lazy="selectin", viewonly=True
    )
    attachments: Mapped[list[RectificationEvidence]] = relationship(
        order_by=lambda: RectificationEvidence.id, lazy="selectin", viewonly=True
    )


class NoticeEvent(Base):
    """One step in a notice's history: issued, answered, returned, escalated, accepted."""

    __tablename__ = "supervision_notice_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("supervision_notice.id"), index=True)
    step: Mapped[NoticeStep] = mapped_column(str_enum(NoticeStep, 16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date | None] = mapped_column(Date)  # the deadline the step set, if any


class RectificationEvidence(StoredDocument, Base):
    """A scanned document (整改佐证材料) the department attaches to its answer."""

    __tablename__ = "supervision_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("supervision_notice.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))


class Probe(Base):
    """One probe of a service interface or a registered database (可用性探测): whether it
    answered, how fast, and what went wrong; a day's and a month's availability are the
    share of its probes that succeeded."""

    __tablename__ = "supervision_probe"
    __table_args__ = (Index("ix_supervision_probe_target_on", "target", "target_id", "probed_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[ProbeTarget] = mapped_column(str_enum(ProbeTarget, 16))
    target_id: Mapped[int] = mapped_column(Integer)
    department_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    label: Mapped[str] = mapped_column(String(300))
    probed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    probed_on: Mapped[date] = mapped_column(Date)  # the city's date
    ok: Mapped[bool] = mapped_column(Boolean)
    millis: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(500), default="")
