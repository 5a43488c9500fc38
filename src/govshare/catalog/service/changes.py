"""Catalog update deadlines after a law change or a change of duties (CAT-5).

SY§11, BZ§11, WH§7: within the profile's working days (`catalog_update_days`) of a law change
or a change of a department's duties, the department updates its catalog and, where the
profile says so (`catalog_update_filing_required`), files the update with the authority.

Who does what: any of the department's people (or the operator, for any department) records
the event; the platform sets the deadline in working days. The department's data officer or
head closes it by naming the resources it updated, or by stating why none needed to change;
closing files it with the authority when filing is required. The operator and the authority
watch the departments that are overdue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog.models import ChangeCause, ChangeEvent, Resource
from govshare.catalog.schemas import ChangeEventIn
from govshare.catalog.service.common import COMPILERS, SUBMITTERS
from govshare.core import calendar, clock
from govshare.core.audit.service import record
from govshare.core.calendar import Deadline
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import Rules
from govshare.identity.models import Organization

SUPERVISORS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY)
READERS = (*COMPILERS, *SUPERVISORS)
NOTE_MAX = 2000


def deadline(event: ChangeEvent) -> Deadline:
    """The event's update deadline, as the calendar shows deadlines (暂定 when provisional)."""
    return Deadline(on=event.due_on, provisional=event.due_provisional)


def is_overdue(event: ChangeEvent, today: date | None = None) -> bool:
    """Still open after its last allowed day."""
    return event.closed_at is None and (today or clock.today()) > event.due_on


def link(event: ChangeEvent) -> str:
    """Where the event is shown."""
    return f"/catalog/changes/{event.id}"


def _target_organization(db_session: Session, actor: Actor, organization_id: int | None) -> int:
    if actor.has(Role.PLATFORM_OPERATOR):
        org_id = organization_id or actor.organization_id
        if org_id is None:
            raise Invalid("请选择部门", field="organization_id")
    else:
        if actor.organization_id is None:
            raise Invalid("当前用户不属于任何部门", field="organization_id")
        if organization_id not in (None, actor.organization_id):
            raise Forbidden("只能登记本单位的目录更新事项", field="organization_id")
        org_id = actor.organization_id
    if db_session.get(Organization, org_id) is None:
        raise NotFound(f"组织机构 {org_id} 不存在", field="organization_id")
    return org_id


def _cause(value: str) -> ChangeCause:
    cause = ChangeCause.from_label(value or "")
    if cause is None:
        allowed = "、".join(f"“{label}”" for _, label in ChangeCause.choices())
        raise Invalid(f"变化原因须为{allowed}之一，收到“{value}”", field="cause")
    return ChangeCause(cause.value)


def _event(db_session: Session, actor: Actor, event_id: int) -> ChangeEvent:
    require(actor, *READERS, action="查看目录更新事项")
    event = db_session.get(ChangeEvent, event_id)
    if event is None or not (
        actor.has(*SUPERVISORS) or actor.organization_id == event.organization_id
    ):
        raise NotFound(f"目录更新事项 {event_id} 不存在", field="event_id")
    return event


def record_change_event(
    db_session: Session, *, actor: Actor, data: ChangeEventIn, rules: Rules
) -> ChangeEvent:
    """Records a law change or change of duties and sets the catalog update deadline in
    working days from the day it occurred (department people for their own department, the
    operator for any)."""
    require(actor, *COMPILERS, Role.PLATFORM_OPERATOR, action="登记目录更新事项")
    org_id = _target_organization(db_session, actor, data.organization_id)
    cause = _cause(data.cause)
    if data.occurred_on > clock.today():
        raise Invalid("发生日期不能晚于今天", field="occurred_on")
    days = rules.catalog_update_days.value
    due = calendar.load(db_session).add_working_days(data.occurred_on, days)
    filing = rules.catalog_update_filing_required.value
    event = ChangeEvent(
        organization_id=org_id,
        cause=cause,
        description=data.description,
        occurred_on=data.occurred_on,
        due_on=due.on,
        due_provisional=due.provisional,
        filing_required=filing,
        recorded_at=clock.now(),
        recorded_by=actor.label,
    )
    db_session.add(event)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.change.record",
        object_type="change_event",
        object_id=event.id,
        details={
            "organization_id": org_id,
            "cause": cause.value,
            "description": data.description,
            "occurred_on": data.occurred_on.isoformat(),
            "working_days": days,
            "due_on": due.on.isoformat(),
            "due_provisional": due.provisional,
            "filing_required": filing,
        },
    )
    task = f"请于 {due.label} 前更新本单位资源目录"
    task += "，更新后报主管部门备案。" if filing else "。"
    inbox.notify(
        db_session,
        user_ids=inbox.recipients(db_session, organization_ids=[org_id]),
        notice=inbox.Notice(
            "catalog.update_due",
            f"目录更新期限：{due.label}",
            f"{cause.label}：{data.description}。{task}",
            link(event),
        ),
    )
    return event


def _clean_codes(codes: Iterable[str] | str) -> list[str]:
    if isinstance(codes, str):  # one line typed by hand: "301001/000001，301001/000002"
        codes = re.split(r"[,，、\s]+", codes)
    return list(dict.fromkeys(c.strip() for c in codes if c and c.strip()))


def close_change_event(
    db_session: Session,
    *,
    actor: Actor,
    event_id: int,
    note: str = "",
    updated_codes: Iterable[str] | str = (),
) -> ChangeEvent:
    """The department's data officer or head states which of its resources it updated (or
    why none needed to change); where filing is required this files it with the authority."""
    event = _event(db_session, actor, event_id)
    if not (actor.has(*SUBMITTERS) and actor.organization_id == event.organization_id):
        raise Forbidden("办结目录更新事项须由本单位数据专员或部门负责人办理")
    if event.closed_at is not None:
        raise Conflict(f"该事项已于 {event.closed_on} 办结", field="event_id")
    codes = _clean_codes(updated_codes)
    note = (note or "").strip()
    if not codes and not note:
        raise Invalid("请选择已更新的资源，或说明无需更新的理由", field="updated_codes")
    if len(note) > NOTE_MAX:
        raise Invalid(f"说明不得超过 {NOTE_MAX} 个字", field="note")
    for code in codes:
        provider = db_session.execute(
            select(Resource.provider_id).where(Resource.code == code)
        ).scalar()
        if provider is None:
            raise Invalid(f"资源代码“{code}”不存在", field="updated_codes")
        if provider != event.organization_id:
            raise Invalid(f"资源“{code}”不是本单位提供的资源", field="updated_codes")
    today = clock.today()
    event.closed_at, event.closed_on, event.closed_by = clock.now(), today, actor.label
    event.closure_note = note or None
    event.updated_codes = codes
    db_session.flush()
    details = {
        "updated_codes": codes,
        "note": note,
        "due_on": event.due_on.isoformat(),
        "closed_on": today.isoformat(),
        "late": today > event.due_on,
    }
    record(
        db_session,
        actor=actor,
        action="catalog.change.close",
        object_type="change_event",
        object_id=event.id,
        details=details,
    )
    if event.filing_required:
        record(
            db_session,
            actor=actor,
            action="catalog.change.file",
            object_type="change_event",
            object_id=event.id,
            details={"organization_id": event.organization_id, **details},
        )
        updated = "已更新资源：" + "、".join(codes) if codes else "未更新资源"
        inbox.notify(
            db_session,
            user_ids=inbox.recipients(db_session, roles=[Role.AUTHORITY]),
            notice=inbox.Notice(
                "catalog.filing",
                f"目录更新备案：{event.organization.name}",
                f"{event.cause.label}：{event.description}。{updated}。"
                + (f"说明：{note}" if note else ""),
                link(event),
            ),
        )
    return event


def get_change_event(db_session: Session, *, actor: Actor, event_id: int) -> ChangeEvent:
    """One event, for its department, the operator and the authority."""
    return _event(db_session, actor, event_id)


def list_change_events(
    db_session: Session,
    *,
    actor: Actor,
    organization_id: int | None = None,
    open_only: bool = False,
) -> list[ChangeEvent]:
    """A department's events (the operator and the authority: any or every department's),
    open ones first by deadline, then closed ones newest first."""
    require(actor, *READERS, action="查看目录更新事项")
    stmt = select(ChangeEvent)
    if actor.has(*SUPERVISORS):
        if organization_id is not None:
            stmt = stmt.where(ChangeEvent.organization_id == organization_id)
    else:
        if organization_id not in (None, actor.organization_id):
            raise Forbidden("只能查看本单位的目录更新事项", field="organization_id")
        stmt = stmt.where(ChangeEvent.organization_id == actor.organization_id)
    if open_only:
        stmt = stmt.where(ChangeEvent.closed_at.is_(None))
    rows = db_session.execute(stmt.order_by(ChangeEvent.due_on, ChangeEvent.id)).scalars().all()
    open_rows = [e for e in rows if e.closed_at is None]
    closed_rows = sorted(
        (e for e in rows if e.closed_at is not None),
        key=lambda e: (e.closed_at, e.id),
        reverse=True,
    )
    return open_rows + closed_rows


@dataclass(frozen=True)
class OverdueDepartment:
    """A department with open events past their deadline."""

    organization_id: int
    name: str
    overdue: int  # events past due
    oldest_due_on: date
    working_days_late: int  # since the oldest deadline


def overdue_departments(
    db_session: Session, *, actor: Actor, today: date | None = None
) -> list[OverdueDepartment]:
    """Departments with open events past due, the longest overdue first (operator, authority)."""
    require(actor, *SUPERVISORS, action="查看逾期未更新目录的部门")
    today = today or clock.today()
    rows = db_session.execute(
        select(ChangeEvent.organization_id, func.count(), func.min(ChangeEvent.due_on))
        .where(ChangeEvent.closed_at.is_(None), ChangeEvent.due_on < today)
        .group_by(ChangeEvent.organization_id)
    ).all()
    if not rows:
        return []
    names = dict(
        db_session.execute(
            select(Organization.id, Organization.name).where(
                Organization.id.in_([r[0] for r in rows])
            )
        ).all()
    )
    cal = calendar.load(db_session)
    found = [
        OverdueDepartment(
            org_id, names[org_id], count, oldest, cal.working_days_between(oldest, today)
        )
        for org_id, count, oldest in rows
    ]
    return sorted(found, key=lambda d: (d.oldest_due_on, d.name))
