"""Tables of security operations (安全管理, SEC-5, SEC-7): the incident register (安全事件)
with its timeline and its reports to the cyber-security office (网信部门) and the authority
(主管部门); the yearly security test (安全测评) and emergency drill (应急演练) with their plans,
results and scanned documents (SR§25); inspections, risk assessments and secrecy checks
(安全检查、风险评估、保密检查) with their findings, each of which becomes a rectification notice.

An incident's report deadlines are counted in hours from its discovery, by its level, from the
profile's `incident_report_hours`, copied onto each report when the incident is registered, so
switching the profile changes later incidents only.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.catalog.models import Labelled, Resource
from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.core.policy import IncidentLevel
from govshare.core.stored_documents import StoredDocument
from govshare.identity.models import Organization

LABELS: dict[str, dict[str, str]] = {
    "IncidentKind": {
        "data_leak": "数据泄露",
        "intrusion": "网络攻击入侵",
        "malware": "有害程序",
        "tampering": "数据篡改",
        "outage": "系统故障中断",
        "misuse": "违规访问或使用",
        "other": "其他",
    },
    "IncidentState": {"handling": "处置中", "closed": "已结案"},
    "EntryKind": {"event": "事件经过", "action": "处置措施"},
    "Recipient": {"cyberspace": "网信部门", "authority": "主管部门"},
    "ExerciseKind": {"test": "安全测评", "drill": "应急演练"},
    "CheckKind": {"inspection": "安全检查", "risk_assessment": "风险评估", "secrecy": "保密检查"},
}


class IncidentKind(Labelled):
    DATA_LEAK = "data_leak"
    INTRUSION = "intrusion"
    MALWARE = "malware"
    TAMPERING = "tampering"
    OUTAGE = "outage"
    MISUSE = "misuse"
    OTHER = "other"


class IncidentState(Labelled):
    HANDLING = "handling"  # registered, being handled
    CLOSED = "closed"  # handled and closed with a conclusion


class EntryKind(Labelled):
    """A line of an incident's timeline: what happened, or what was done about it."""

    EVENT = "event"
    ACTION = "action"


class Recipient(Labelled):
    """Whom an incident is reported to (SY§28, BZ§24)."""

    CYBERSPACE = "cyberspace"  # the cyber-security office (网信部门)
    AUTHORITY = "authority"  # the authority over government data (主管部门)


class ExerciseKind(Labelled):
    TEST = "test"  # 安全测评
    DRILL = "drill"  # 应急演练


class CheckKind(Labelled):
    INSPECTION = "inspection"  # 安全检查 (SY§26)
    RISK_ASSESSMENT = "risk_assessment"  # 风险评估 (SY§26, SR§23)
    SECRECY = "secrecy"  # 保密检查 (SR§26)


incident_department = Table(
    "security_incident_department",
    Base.metadata,
    Column("incident_id", ForeignKey("security_incident.id"), primary_key=True),
    Column("organization_id", ForeignKey("organization.id"), primary_key=True, index=True),
)

incident_resource = Table(
    "security_incident_resource",
    Base.metadata,
    Column("incident_id", ForeignKey("security_incident.id"), primary_key=True),
    Column("resource_id", ForeignKey("catalog_resource.id"), primary_key=True),
)


class Incident(Base):
    """A security incident (安全事件): what happened, how grave, to which resources and
    departments, handled and reported within the hours its level allows."""

    __tablename__ = "security_incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # AQ2026000001
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[IncidentKind] = mapped_column(str_enum(IncidentKind, 16))
    level: Mapped[IncidentLevel] = mapped_column(str_enum(IncidentLevel, 20), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[IncidentState] = mapped_column(str_enum(IncidentState, 16), index=True)
    profile_code: Mapped[str] = mapped_column(String(32))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    registered_by: Mapped[str] = mapped_column(String(120))
    conclusion: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(120))

    departments: Mapped[list[Organization]] = relationship(
        secondary=incident_department, order_by=Organization.id, lazy="selectin"
    )
    resources: Mapped[list[Resource]] = relationship(
        secondary=incident_resource, order_by=Resource.id, lazy="selectin"
    )
    entries: Mapped[list[IncidentEntry]] = relationship(
        order_by="(IncidentEntry.at, IncidentEntry.id)", lazy="selectin", viewonly=True
    )
    reports: Mapped[list[IncidentReport]] = relationship(
        order_by="IncidentReport.id", lazy="selectin", viewonly=True
    )


class IncidentEntry(Base):
    """One line of an incident's timeline (事件经过) or of its handling (处置措施)."""

    __tablename__ = "security_incident_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("security_incident.id"), index=True)
    kind: Mapped[EntryKind] = mapped_column(str_enum(EntryKind, 16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it happened or was done
    text: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(120))


class IncidentReport(Base):
    """An incident's report to the cyber-security office or the authority (事件报告): due
    `hours` after discovery; made when `reported_at` is set."""

    __tablename__ = "security_incident_report"
    __table_args__ = (UniqueConstraint("incident_id", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("security_incident.id"))
    recipient: Mapped[Recipient] = mapped_column(str_enum(Recipient, 16))
    hours: Mapped[int] = mapped_column(Integer)  # copied from the profile, by level
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_by: Mapped[str | None] = mapped_column(String(120))
    addressee: Mapped[str] = mapped_column(String(100), default="")  # 市委网信办 …
    reference: Mapped[str] = mapped_column(String(100), default="")  # 文号, 电话 …
    content: Mapped[str] = mapped_column(Text, default="")


class Exercise(Base):
    """A security test (安全测评) or emergency drill (应急演练) of a year (SR§25): the plan,
    then the result once it has been done."""

    __tablename__ = "security_exercise"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ExerciseKind] = mapped_column(str_enum(ExerciseKind, 16))
    year: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(200))
    planned_on: Mapped[date] = mapped_column(Date)
    plan: Mapped[str] = mapped_column(Text)
    conducted_on: Mapped[date | None] = mapped_column(Date)
    conducted_by: Mapped[str] = mapped_column(String(100), default="")  # 测评机构, 参演单位
    result: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    result_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_by: Mapped[str | None] = mapped_column(String(120))

    documents: Mapped[list[SecurityDocument]] = relationship(
        order_by="SecurityDocument.id", lazy="selectin", viewonly=True
    )


class Check(Base):
    """An inspection, risk assessment or secrecy check (安全检查、风险评估、保密检查): who
    did it, when, what it covered and concluded; its findings become rectification notices."""

    __tablename__ = "security_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # JC2026000001
    kind: Mapped[CheckKind] = mapped_column(str_enum(CheckKind, 16), index=True)
    title: Mapped[str] = mapped_column(String(200))
    conducted_by: Mapped[str] = mapped_column(String(100))  # 市委网信办、市保密局 …
    checked_on: Mapped[date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(Text)
    conclusion: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(120))

    findings: Mapped[list[CheckFinding]] = relationship(
        order_by="CheckFinding.id", lazy="selectin", viewonly=True
    )
    documents: Mapped[list[SecurityDocument]] = relationship(
        order_by="SecurityDocument.id", lazy="selectin", viewonly=True
    )


class CheckFinding(Base):
    """A problem a check found in a department (检查发现的问题); recorded, it becomes a
    supervision finding and its rectification notice (`supervision_finding_id`)."""

    __tablename__ = "security_check_finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("security_check.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    requirement: Mapped[str] = mapped_column(Text, default="")  # 整改要求
    supervision_finding_id: Mapped[int | None] = mapped_column(
        ForeignKey("supervision_finding.id"), unique=True
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(120))

    department: Mapped[Organization] = relationship(lazy="joined")


class SecurityDocument(StoredDocument, Base):
    """A scanned document (附件) of an exercise (its plan, report) or of a check (its report),
    kept beside what it records; the one rule of `core.documents`."""

    __tablename__ = "security_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    exercise_id: Mapped[int | None] = mapped_column(ForeignKey("security_exercise.id"), index=True)
    check_id: Mapped[int | None] = mapped_column(ForeignKey("security_check.id"), index=True)
