"""The incident register (安全事件, SEC-5): SY§27 and SY§28 (a department's incident is
reported at once to the city's cyber-security office and to the authority), BZ§24, SR§25.

An incident is registered with its kind, its level on the national four-level scale, when it
happened and was found, the departments and resources it touched. Registering it sets two
reports due — to the cyber-security office (网信部门) and the authority (主管部门) — each the
profile's `incident_report_hours` for its level after discovery, copied onto the report; a
change of level counts the reports not yet made again. The timeline holds what happened and
what was done; the incident closes with its conclusion. A report not made by its time is
overdue, shown on the register and the incident's page.

The operator registers any incident; a department's data officer or head one that concerns
its own department, and handles it alongside. Every step is audited, as is reading an
incident; the departments concerned, the operator and the authority are told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceVersion
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import IncidentLevel, Profile
from govshare.identity.models import Organization
from govshare.security.models import (
    EntryKind,
    Incident,
    IncidentEntry,
    IncidentReport,
    IncidentState,
    Recipient,
    incident_department,
)
from govshare.security.schemas import CloseIn, EntryIn, IncidentIn, ReportIn
from govshare.security.service.common import HANDLERS, OPERATOR, OVERSEERS, READERS
from govshare.sharing.service.common import next_number

LINK = "/security/incidents/{id}"
PREFIX = "AQ"  # 安全


class ReportStatus(StrEnum):
    """Where a report stands against its deadline."""

    DUE = "due"  # not made, still in time
    OVERDUE = "overdue"  # not made, past its time
    ON_TIME = "on_time"
    LATE = "late"  # made, after its time

    @property
    def label(self) -> str:
        return {
            "due": "待报告",
            "overdue": "逾期未报告",
            "on_time": "已按时报告",
            "late": "逾期报告",
        }[self.value]


def report_status(report: IncidentReport, now: datetime | None = None) -> ReportStatus:
    """Where `report` stands at `now`."""
    due = clock.as_utc(report.due_at)
    if report.reported_at is not None:
        return ReportStatus.LATE if clock.as_utc(report.reported_at) > due else ReportStatus.ON_TIME
    return ReportStatus.OVERDUE if (now or clock.now()) > due else ReportStatus.DUE


def _concerns(actor: Actor, incident: Incident) -> bool:
    return actor.organization_id in {d.id for d in incident.departments}


def _may_read(actor: Actor, incident: Incident) -> bool:
    return actor.has(*OVERSEERS) or _concerns(actor, incident)


def _may_handle(actor: Actor, incident: Incident) -> bool:
    return actor.has(OPERATOR) or (actor.has(*HANDLERS) and _concerns(actor, incident))


def _incident(db_session: Session, actor: Actor, incident_id: int) -> Incident:
    incident = db_session.get(Incident, incident_id)
    if incident is None or not _may_read(actor, incident):
        raise NotFound(f"没有编号为 {incident_id} 的安全事件")
    return incident


def _handled(db_session: Session, actor: Actor, incident_id: int) -> Incident:
    incident = _incident(db_session, actor, incident_id)
    if not _may_handle(actor, incident):
        raise NotFound(f"没有编号为 {incident_id} 的本部门安全事件")
    if incident.state == IncidentState.CLOSED:
        raise Conflict(f"安全事件 {incident.number} 已结案，不能再修改")
    return incident


def _departments(db_session: Session, ids: list[int]) -> list[Organization]:
    wanted = sorted(set(ids))
    found = list(
        db_session.scalars(
            sa.select(Organization).where(Organization.id.in_(wanted)).order_by(Organization.id)
        )
    )
    missing = sorted(set(wanted) - {o.id for o in found})
    if missing:
        raise Invalid(f"没有编号为 {', '.join(map(str, missing))} 的部门", field="department_ids")
    return found


def _resources(db_session: Session, ids: list[int]) -> list[Resource]:
    wanted = sorted(set(ids))
    found = list(
        db_session.scalars(sa.select(Resource).where(Resource.id.in_(wanted)).order_by(Resource.id))
    )
    missing = sorted(set(wanted) - {r.id for r in found})
    if missing:
        raise Invalid(f"没有编号为 {', '.join(map(str, missing))} 的资源", field="resource_ids")
    return found


def _deadlines(incident: Incident, profile: Profile) -> tuple[int, datetime]:
    hours = profile.rules.incident_report_hours.value[incident.level]
    return hours, clock.as_utc(incident.discovered_at) + timedelta(hours=hours)


def register(db_session: Session, *, actor: Actor, profile: Profile, data: IncidentIn) -> Incident:
    """Registers an incident and sets its two reports due; the departments concerned, the
    operator and the authority are told."""
    require(actor, OPERATOR, *HANDLERS, action="登记安全事件")
    departments = _departments(db_session, data.department_ids)
    if not actor.has(OPERATOR) and actor.organization_id not in {d.id for d in departments}:
        raise Invalid(
            "部门只能登记涉及本部门的安全事件，请在涉及部门中选择本部门", field="department_ids"
        )
    resources = _resources(db_session, data.resource_ids)
    now = clock.now()
    incident = Incident(
        number=next_number(db_session, PREFIX),
        title=data.title,
        kind=data.kind,
        level=data.level,
        occurred_at=data.occurred_at,
        discovered_at=data.discovered_at,
        description=data.description,
        state=IncidentState.HANDLING,
        profile_code=profile.code,
        registered_at=now,
        registered_by=actor.label,
        departments=departments,
        resources=resources,
    )
    db_session.add(incident)
    db_session.flush()
    hours, due_at = _deadlines(incident, profile)
    for recipient in Recipient:
        db_session.add(
            IncidentReport(incident_id=incident.id, recipient=recipient, hours=hours, due_at=due_at)
        )
    db_session.flush()
    db_session.expire(incident, ["reports"])
    record(
        db_session,
        actor=actor,
        action="security.incident.register",
        object_type="incident",
        object_id=incident.id,
        details={
            "number": incident.number,
            "title": incident.title,
            "kind": incident.kind.value,
            "level": incident.level.value,
            "discovered_at": clock.as_utc(incident.discovered_at).isoformat(),
            "departments": [d.id for d in departments],
            "resources": [r.id for r in resources],
            "report_due_at": due_at.isoformat(),
            "report_hours": hours,
            "profile": profile.code,
        },
    )
    _tell(
        db_session,
        incident,
        f"安全事件：{incident.number} {incident.title}（{incident.level.label}）",
        f"请配合处置，并于 {clock.to_city(due_at):%Y-%m-%d %H:%M} 前向网信部门和主管部门报告。",
    )
    return incident


def reclassify(
    db_session: Session,
    *,
    actor: Actor,
    profile: Profile,
    incident_id: int,
    level: IncidentLevel,
    reason: str,
) -> Incident:
    """Changes the incident's level with the reason, written into its timeline; the reports
    not yet made are due by the new level's hours."""
    require(actor, OPERATOR, *HANDLERS, action="调整安全事件级别")
    incident = _handled(db_session, actor, incident_id)
    reason = reason.strip()
    if len(reason) < 4:
        raise Invalid("调整级别须说明理由（至少 4 个字）", field="reason")
    if level == incident.level:
        raise Invalid(f"事件级别已是“{level.label}”", field="level")
    before = incident.level
    incident.level = level
    hours, due_at = _deadlines(incident, profile)
    for report in incident.reports:
        if report.reported_at is None:
            report.hours, report.due_at = hours, due_at
    text = f"事件级别由“{before.label}”调整为“{level.label}”：{reason}"
    _entry(
        db_session,
        actor,
        incident,
        EntryIn.model_construct(kind=EntryKind.EVENT, at=clock.now(), text=text),
    )
    record(
        db_session,
        actor=actor,
        action="security.incident.reclassify",
        object_type="incident",
        object_id=incident.id,
        details={
            "from": before.value,
            "to": level.value,
            "reason": reason,
            "report_due_at": due_at.isoformat(),
            "profile": profile.code,
        },
    )
    return incident


def _entry(db_session: Session, actor: Actor, incident: Incident, data: EntryIn) -> IncidentEntry:
    entry = IncidentEntry(
        incident_id=incident.id,
        kind=data.kind,
        at=data.at,
        text=data.text,
        recorded_at=clock.now(),
        recorded_by=actor.label,
    )
    db_session.add(entry)
    db_session.flush()
    db_session.expire(incident, ["entries"])
    return entry


def add_entry(db_session: Session, *, actor: Actor, incident_id: int, data: EntryIn) -> Incident:
    """Adds what happened, or what was done about it, to the incident's timeline."""
    require(actor, OPERATOR, *HANDLERS, action="记录安全事件经过和处置措施")
    incident = _handled(db_session, actor, incident_id)
    if data.at < clock.as_utc(incident.occurred_at):
        raise Invalid("时间不能早于事件发生时间", field="at")
    entry = _entry(db_session, actor, incident, data)
    record(
        db_session,
        actor=actor,
        action="security.incident.entry",
        object_type="incident",
        object_id=incident.id,
        details={
            "entry": entry.id,
            "kind": entry.kind.value,
            "at": clock.as_utc(entry.at).isoformat(),
            "text": entry.text,
        },
    )
    return incident


def report(db_session: Session, *, actor: Actor, incident_id: int, data: ReportIn) -> Incident:
    """Records the report made to the cyber-security office or the authority: when, to whom,
    under which reference, saying what; a report is recorded once."""
    require(actor, OPERATOR, *HANDLERS, action="记录安全事件报告")
    incident = _handled(db_session, actor, incident_id)
    found = next(r for r in incident.reports if r.recipient == data.recipient)
    if found.reported_at is not None:
        raise Conflict(
            f"已于 {clock.to_city(found.reported_at):%Y-%m-%d %H:%M} 向{data.recipient.label}报告",
            field="recipient",
        )
    if data.reported_at < clock.as_utc(incident.discovered_at):
        raise Invalid("报告时间不能早于事件发现时间", field="reported_at")
    found.reported_at, found.reported_by = data.reported_at, actor.label
    found.addressee, found.reference, found.content = data.addressee, data.reference, data.content
    db_session.flush()
    status = report_status(found)
    record(
        db_session,
        actor=actor,
        action="security.incident.report",
        object_type="incident",
        object_id=incident.id,
        details={
            "recipient": data.recipient.value,
            "reported_at": clock.as_utc(data.reported_at).isoformat(),
            "due_at": clock.as_utc(found.due_at).isoformat(),
            "late": status == ReportStatus.LATE,
            "addressee": data.addressee,
            "reference": data.reference,
        },
    )
    return incident


def close(db_session: Session, *, actor: Actor, incident_id: int, data: CloseIn) -> Incident:
    """The operator closes a handled incident with its conclusion, once both reports are
    made; the departments concerned are told."""
    require(actor, OPERATOR, action="安全事件结案")
    incident = _handled(db_session, actor, incident_id)
    missing = [r.recipient.label for r in incident.reports if r.reported_at is None]
    if missing:
        raise Conflict(f"尚未向{'、'.join(missing)}报告，不能结案", field="conclusion")
    incident.state, incident.conclusion = IncidentState.CLOSED, data.conclusion
    incident.closed_at, incident.closed_by = clock.now(), actor.label
    record(
        db_session,
        actor=actor,
        action="security.incident.close",
        object_type="incident",
        object_id=incident.id,
        details={"conclusion": data.conclusion},
    )
    _tell(db_session, incident, f"安全事件已结案：{incident.number}", data.conclusion)
    return incident


# --- reading ---------------------------------------------------------------------------------


def get_incident(db_session: Session, *, actor: Actor, incident_id: int) -> Incident:
    """One incident, for the departments it concerns and those who oversee; reading it is
    logged, an incident being sensitive."""
    require(actor, *READERS, action="查看安全事件")
    incident = _incident(db_session, actor, incident_id)
    record(
        db_session,
        actor=actor,
        action="security.incident.read",
        object_type="incident",
        object_id=incident.id,
        details={"number": incident.number},
    )
    return incident


def _incidents(
    actor: Actor, state: IncidentState | None, overdue: bool
) -> sa.Select[tuple[Incident]]:
    stmt = sa.select(Incident)
    if not actor.has(*OVERSEERS):
        if actor.organization_id is None:
            return stmt.where(sa.false())
        concerned = sa.select(incident_department.c.incident_id).where(
            incident_department.c.organization_id == actor.organization_id
        )
        stmt = stmt.where(Incident.id.in_(concerned))
    if state is not None:
        stmt = stmt.where(Incident.state == state)
    if overdue:
        late = sa.select(IncidentReport.incident_id).where(
            IncidentReport.reported_at.is_(None), IncidentReport.due_at < clock.now()
        )
        stmt = stmt.where(Incident.id.in_(late))
    return stmt


def list_incidents(
    db_session: Session,
    *,
    actor: Actor,
    state: IncidentState | None = None,
    overdue: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> list[Incident]:
    """Incidents the actor may see, newest found first: overseers all, a department those
    that concern it; `overdue`: those with a report past its time."""
    require(actor, *READERS, action="查看安全事件")
    stmt = _incidents(actor, state, overdue).order_by(
        Incident.discovered_at.desc(), Incident.id.desc()
    )
    return list(db_session.scalars(stmt.offset(offset).limit(limit)))


def count_incidents(
    db_session: Session,
    *,
    actor: Actor,
    state: IncidentState | None = None,
    overdue: bool = False,
) -> int:
    """How many incidents `list_incidents` would give with the same filters."""
    require(actor, *READERS, action="查看安全事件")
    stmt = _incidents(actor, state, overdue).with_only_columns(Incident.id)
    return int(db_session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0)


@dataclass(frozen=True)
class Permitted:
    """What the actor may do with an incident (the page asks rather than works it out)."""

    handle: bool  # add to the timeline, record reports, change the level
    close: bool


def permitted(actor: Actor, incident: Incident) -> Permitted:
    """Handle: the operator, or the data officer or head of a department it concerns, while
    open; close: the operator, while open."""
    open_ = incident.state == IncidentState.HANDLING
    return Permitted(
        handle=open_ and _may_handle(actor, incident),
        close=open_ and actor.has(OPERATOR),
    )


def _tell(db_session: Session, incident: Incident, title: str, body: str) -> None:
    """The departments' data officers and heads, the operator and the authority."""
    ids = [d.id for d in incident.departments]
    handlers = inbox.recipients(db_session, organization_ids=ids) & inbox.recipients(
        db_session, roles=HANDLERS
    )
    overseers = inbox.recipients(db_session, roles=[OPERATOR, Role.AUTHORITY])
    inbox.notify(
        db_session,
        user_ids=handlers | overseers,
        notice=inbox.Notice("security.incident", title, body, LINK.format(id=incident.id)),
    )


@dataclass(frozen=True)
class ResourceChoice:
    id: int
    code: str
    name: str
    provider: str


def resource_choices(db_session: Session, *, actor: Actor) -> list[ResourceChoice]:
    """The catalogued resources an incident may name as affected: every department's for the
    operator, a department's own for its officers."""
    require(actor, OPERATOR, *HANDLERS, action="登记安全事件")
    stmt = (
        sa.select(Resource.id, Resource.code, ResourceVersion.name, Organization.name)
        .join(ResourceVersion, ResourceVersion.id == Resource.current_version_id)
        .join(Organization, Organization.id == Resource.provider_id)
    )
    if not actor.has(OPERATOR):
        stmt = stmt.where(Resource.provider_id == actor.organization_id)
    rows = db_session.execute(stmt.order_by(Organization.id, Resource.code)).all()
    return [ResourceChoice(*row) for row in rows]
