"""Rectification notices (整改通知) and their circulation (通报), SUP-2, SR§30.

Each new finding becomes one notice to its department, due the profile's `rectification_days`
working days after it is issued (no seed sets a figure: every shipped profile states the
platform's default of 10). The department's data officer or head answers with what it did and,
if it has them, scanned documents; the operator accepts the rectification, which closes the
notice (the finding itself stays until its facts no longer hold), or returns it with the
reason, due the profile's days again from that day.

A notice still waiting for the department after its deadline, whose facts still hold, is
circulated (通报): it gets a number of its own and a text in the city's name, addressed to the
authority, listed and printable; the operator, the authority and the department's head are
told. The department must still answer it. Every step is an audit entry, told through the
inbox, and kept in the notice's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.calendar import Deadline, WorkingCalendar
from govshare.core.documents import Document
from govshare.core.errors import Conflict, Forbidden, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.core.policy import Profile
from govshare.identity.models import Organization, User, UserRole
from govshare.sharing.service.common import ANSWERERS, OVERSEERS, READERS, next_number
from govshare.sharing.service.deadlines import REMIND_WORKING_DAYS, Urgency
from govshare.supervision.detectors import platform_unit
from govshare.supervision.models import (
    RECORDED,
    Finding,
    Notice,
    NoticeEvent,
    NoticeState,
    NoticeStep,
)
from govshare.supervision.schemas import NoticeAnswerIn, NoticeDecisionIn
from govshare.supervision.service import evidence as evidence_service

LINK = "/supervision/notices/{id}"
CIRCULAR_LINK = "/supervision/circulars/{id}"
NOTICE_PREFIX = "ZG"  # 整改
CIRCULAR_PREFIX = "TB"  # 通报
ISSUERS = (Role.SYSTEM, Role.PLATFORM_OPERATOR)  # the detection job, or the operator running it


def deadline(notice: Notice) -> Deadline:
    """The notice's deadline as the calendar counted it (暂定 when provisional)."""
    return Deadline(on=notice.due_on, provisional=notice.due_provisional)


def is_overdue(notice: Notice, today: date | None = None) -> bool:
    """Still waiting for the department after its deadline."""
    return notice.state.awaits_department and (today or clock.today()) > notice.due_on


def urgency(notice: Notice, calendar: WorkingCalendar, today: date) -> Urgency:
    """The list's colour: done, within the deadline, due soon, overdue."""
    if not notice.state.awaits_department:
        return Urgency.DONE
    if today > notice.due_on:
        return Urgency.OVERDUE
    if calendar.working_days_between(today, notice.due_on) <= REMIND_WORKING_DAYS:
        return Urgency.DUE_SOON
    return Urgency.OK


def _step(
    db_session: Session,
    notice: Notice,
    step: NoticeStep,
    actor: Actor,
    note: str = "",
    due_on: date | None = None,
) -> None:
    db_session.add(
        NoticeEvent(
            notice_id=notice.id, step=step, at=clock.now(), by=actor.label, note=note, due_on=due_on
        )
    )
    db_session.flush()
    db_session.expire(notice, ["steps"])


# --- issuing ---------------------------------------------------------------------------------


def issue(db_session: Session, *, actor: Actor, profile: Profile, finding: Finding) -> Notice:
    """The notice a new finding becomes: to its department, due the profile's
    `rectification_days` working days from today; the department's officers are told."""
    require(actor, *ISSUERS, action="下发整改通知")
    if db_session.scalar(sa.select(Notice.id).where(Notice.finding_id == finding.id)):
        raise Conflict(f"违规发现 {finding.id} 已下发整改通知")
    days = profile.rules.rectification_days.value
    issued_on = clock.today()
    due = working_days.load(db_session).add_working_days(issued_on, days)
    notice = Notice(
        number=next_number(db_session, NOTICE_PREFIX),
        finding_id=finding.id,
        department_id=finding.department_id,
        state=NoticeState.ISSUED,
        issued_at=clock.now(),
        issued_on=issued_on,
        issued_by=actor.label,
        profile_code=profile.code,
        rectify_days=days,
        due_on=due.on,
        due_provisional=due.provisional,
    )
    db_session.add(notice)
    db_session.flush()
    _step(db_session, notice, NoticeStep.ISSUED, actor, finding.facts.get("summary", ""), due.on)
    record(
        db_session,
        actor=actor,
        action="supervision.notice.issue",
        object_type="notice",
        object_id=notice.id,
        details={
            "number": notice.number,
            "finding": finding.id,
            "kind": finding.kind.value,
            "department": finding.department_id,
            "article": finding.citation,
            "due_on": notice.due_on.isoformat(),
            "profile": profile.code,
        },
    )
    _notify(
        db_session,
        _officers(db_session, notice.department_id),
        f"整改通知：{notice.number} {finding.kind.label}",
        f"{finding.facts.get('summary', '')}依据{finding.citation}，请于 "
        f"{deadline(notice).label} 前整改并反馈整改情况。",
        notice,
    )
    return notice


# --- the department's answer and the operator's decision -------------------------------------


def _notice(db_session: Session, notice_id: int) -> Notice:
    notice = db_session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"没有编号为 {notice_id} 的整改通知")
    return notice


def answer(
    db_session: Session,
    *,
    actor: Actor,
    notice_id: int,
    data: NoticeAnswerIn,
    documents: Sequence[Document] = (),
) -> Notice:
    """The department's data officer or head says what it did, with scanned `documents` as
    evidence if it has them; the operator is told. A notice to the platform's management unit
    itself is answered by its operators, and its reviewer, the authority, is told."""
    require(actor, *ANSWERERS, Role.PLATFORM_OPERATOR, action="反馈整改情况")
    notice = db_session.get(Notice, notice_id)
    unit = platform_unit(db_session)
    if notice is None or notice.department_id != own_organization(actor):
        raise NotFound(f"没有编号为 {notice_id} 的本部门整改通知")
    if not _may_answer(actor, notice, unit):
        raise Forbidden("反馈整改情况须由本单位数据专员或部门负责人办理")
    if not notice.state.awaits_department:
        raise Conflict(f"整改通知 {notice.number} {notice.state.label}，不能再反馈")
    evidence_service.attach(db_session, actor=actor, notice=notice, documents=documents)
    late = clock.today() > notice.due_on
    notice.state = NoticeState.ANSWERED
    notice.answer, notice.answered_at, notice.answered_by = data.answer, clock.now(), actor.label
    _step(db_session, notice, NoticeStep.ANSWERED, actor, data.answer)
    record(
        db_session,
        actor=actor,
        action="supervision.notice.answer",
        object_type="notice",
        object_id=notice.id,
        details={"answer": data.answer, "late": late, "documents": len(documents)},
    )
    _notify(
        db_session,
        inbox.recipients(db_session, roles=[_reviewer(notice, unit)]),
        f"整改情况待审核：{notice.number}",
        f"{notice.department.name}反馈了整改情况：{data.answer}",
        notice,
    )
    return notice


def decide(
    db_session: Session, *, actor: Actor, profile: Profile, notice_id: int, data: NoticeDecisionIn
) -> Notice:
    """The operator accepts the rectification (the notice closes; a finding people recorded,
    `RECORDED`, is resolved with it) or returns it with the reason and a new deadline, the
    profile's `rectification_days` from today. The platform's management unit does not review
    its own rectification: the authority reviews it."""
    require(actor, Role.PLATFORM_OPERATOR, Role.AUTHORITY, action="审核整改情况")
    notice = _notice(db_session, notice_id)
    reviewer = _reviewer(notice, platform_unit(db_session))
    if not actor.has(reviewer):
        raise Forbidden(
            "平台管理单位自身的整改情况由主管部门审核"
            if reviewer == Role.AUTHORITY
            else "审核整改情况须由平台管理单位办理"
        )
    if notice.state != NoticeState.ANSWERED:
        raise Conflict(f"整改通知 {notice.number} {notice.state.label}，没有待审核的整改情况")
    now = clock.now()
    notice.decision_note, notice.decided_at, notice.decided_by = data.note, now, actor.label
    resolved = False
    if data.accept:
        notice.state, notice.closed_at = NoticeState.ACCEPTED, now
        _step(db_session, notice, NoticeStep.ACCEPTED, actor, data.note)
        if notice.finding.kind in RECORDED and notice.finding.resolved_at is None:
            notice.finding.resolved_at, resolved = now, True  # no detector will resolve it
        title = f"整改通过：{notice.number}"
        body = f"整改情况已审核通过。{data.note}"
    else:
        days = profile.rules.rectification_days.value
        due = working_days.load(db_session).add_working_days(clock.today(), days)
        notice.state, notice.rectify_days = NoticeState.RETURNED, days
        notice.due_on, notice.due_provisional = due.on, due.provisional
        _step(db_session, notice, NoticeStep.RETURNED, actor, data.note, due.on)
        title = f"整改退回：{notice.number}"
        body = f"请于 {deadline(notice).label} 前重新整改并反馈。理由：{data.note}"
    record(
        db_session,
        actor=actor,
        action="supervision.notice.decide",
        object_type="notice",
        object_id=notice.id,
        details={
            "accept": data.accept,
            "note": data.note,
            "finding_resolved": resolved,
            "due_on": notice.due_on.isoformat(),
            "profile": profile.code,
        },
    )
    _notify(db_session, _officers(db_session, notice.department_id), title, body, notice)
    return notice


# --- circulation (通报) ----------------------------------------------------------------------


def escalate_due(db_session: Session, *, actor: Actor, city_name: str) -> list[Notice]:
    """Circulates (通报) every notice still waiting for its department after its deadline
    whose facts still hold, each once, in the city's name (SR§30)."""
    require(actor, *ISSUERS, action="通报逾期未整改")
    today = clock.today()
    due = db_session.scalars(
        sa.select(Notice)
        .join(Finding, Finding.id == Notice.finding_id)
        .where(
            Notice.state.in_([NoticeState.ISSUED, NoticeState.RETURNED]),
            Notice.circular_number.is_(None),
            Notice.due_on < today,
            Finding.resolved_at.is_(None),
        )
        .order_by(Notice.due_on, Notice.id)
        .with_for_update(of=Notice)
    ).all()
    issuer = circular_issuer(db_session, city_name)
    for notice in due:
        _circulate(db_session, actor, notice, issuer, today)
    return list(due)


def circular_issuer(db_session: Session, city_name: str) -> str:
    """Who circulates: the authority's organisation in the city's name (江州市数据局), or
    the city's authority in general where no organisation holds the role."""
    name = db_session.scalar(
        sa.select(Organization.name)
        .join(User, User.organization_id == Organization.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.AUTHORITY.value, User.active.is_(True))
        .order_by(Organization.id)
        .limit(1)
    )
    if name is None:
        return f"{city_name}政务信息资源共享主管部门"
    if city_name and name.startswith("市") and not name.startswith(city_name):
        return city_name + name[1:]
    return name


def _circulate(db_session: Session, actor: Actor, notice: Notice, issuer: str, today: date) -> None:
    finding = notice.finding
    department = notice.department.name
    notice.circular_number = next_number(db_session, CIRCULAR_PREFIX)
    notice.escalated_at, notice.escalated_on = clock.now(), today
    notice.state = NoticeState.ESCALATED
    notice.circular_issuer = issuer
    notice.circular_title = f"关于{department}逾期未完成整改的通报"
    notice.circular_text = "\n".join(
        [
            f"{department}：",
            f"{notice.issued_on.isoformat()}，平台监测发现{department}存在“{finding.kind.label}”"
            f"情形：{finding.facts.get('summary', '')}",
            f"该情形违反{finding.citation}的规定。平台管理单位已下发整改通知（{notice.number}），"
            f"要求于 {notice.due_on.isoformat()} 前完成整改并反馈，截至 {today.isoformat()} "
            "仍未完成整改。",
            f"现予以通报。请{department}立即整改，并将整改情况通过平台反馈。",
        ]
    )
    _step(db_session, notice, NoticeStep.ESCALATED, actor, notice.circular_title)
    record(
        db_session,
        actor=actor,
        action="supervision.notice.escalate",
        object_type="notice",
        object_id=notice.id,
        details={
            "number": notice.number,
            "circular": notice.circular_number,
            "due_on": notice.due_on.isoformat(),
            "issuer": issuer,
        },
    )
    heads = inbox.recipients(db_session, organization_ids=[notice.department_id])
    heads &= inbox.recipients(db_session, roles=[Role.DEPARTMENT_HEAD])
    users = heads | inbox.recipients(db_session, roles=[Role.PLATFORM_OPERATOR, Role.AUTHORITY])
    inbox.notify(
        db_session,
        user_ids=users | _officers(db_session, notice.department_id),
        notice=inbox.Notice(
            "supervision.circular",
            f"通报：{notice.circular_title}（{notice.circular_number}）",
            f"整改通知 {notice.number} 逾期未整改，已予通报。",
            CIRCULAR_LINK.format(id=notice.id),
        ),
    )


# --- reading ---------------------------------------------------------------------------------


def _may_read(actor: Actor, notice: Notice) -> bool:
    return actor.has(*OVERSEERS) or actor.organization_id == notice.department_id


def get_notice(db_session: Session, *, actor: Actor, notice_id: int) -> Notice:
    """One notice, for its department and those who oversee."""
    require(actor, *READERS, action="查看整改通知")
    notice = db_session.get(Notice, notice_id)
    if notice is None or not _may_read(actor, notice):
        raise NotFound(f"没有编号为 {notice_id} 的整改通知")
    return notice


def get_circular(db_session: Session, *, actor: Actor, notice_id: int) -> Notice:
    """A notice that was circulated, for its 通报 page."""
    notice = get_notice(db_session, actor=actor, notice_id=notice_id)
    if notice.circular_number is None:
        raise NotFound(f"整改通知 {notice.number} 未予通报")
    return notice


def _notices(
    actor: Actor, *, state: NoticeState | None, overdue: bool, circulated: bool, own: bool
) -> sa.Select[tuple[Notice]]:
    stmt = sa.select(Notice)
    if own or not actor.has(*OVERSEERS):
        stmt = stmt.where(Notice.department_id == own_organization(actor))
    if state is not None:
        stmt = stmt.where(Notice.state == state)
    if overdue:
        stmt = stmt.where(
            Notice.state.in_([NoticeState.ISSUED, NoticeState.RETURNED, NoticeState.ESCALATED]),
            Notice.due_on < clock.today(),
        )
    if circulated:
        stmt = stmt.where(Notice.circular_number.is_not(None))
    return stmt


def list_notices(
    db_session: Session,
    *,
    actor: Actor,
    state: NoticeState | None = None,
    overdue: bool = False,
    circulated: bool = False,
    own: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> list[Notice]:
    """Notices the actor may see, those waiting longest first: a department its own,
    overseers every department's; `circulated`: those escalated to a 通报, newest first."""
    require(actor, *READERS, action="查看整改通知")
    stmt = _notices(actor, state=state, overdue=overdue, circulated=circulated, own=own)
    if circulated:
        stmt = stmt.order_by(Notice.escalated_at.desc(), Notice.id.desc())
    else:
        stmt = stmt.order_by(Notice.closed_at.is_not(None), Notice.due_on, Notice.id)
    return list(db_session.scalars(stmt.offset(offset).limit(limit)))


def count_notices(
    db_session: Session,
    *,
    actor: Actor,
    state: NoticeState | None = None,
    overdue: bool = False,
    circulated: bool = False,
    own: bool = False,
) -> int:
    """How many notices `list_notices` would give with the same filters."""
    require(actor, *READERS, action="查看整改通知")
    stmt = _notices(actor, state=state, overdue=overdue, circulated=circulated, own=own)
    counted = sa.select(sa.func.count()).select_from(stmt.with_only_columns(Notice.id).subquery())
    return int(db_session.scalar(counted) or 0)


@dataclass(frozen=True)
class OpenCount:
    """A department's notices still open in one state, and how many of them are overdue."""

    department_id: int
    state: NoticeState
    notices: int
    overdue: int


def open_counts(db_session: Session, *, actor: Actor) -> list[OpenCount]:
    """Notices not yet accepted, counted per department and state, with those still waiting
    for their department past the deadline (as `list_notices(overdue=True)` finds them): a
    department its own, overseers every department's. One grouped query."""
    require(actor, *READERS, action="查看整改通知")
    waiting = [s for s in NoticeState if s.awaits_department]
    late = sa.case((sa.and_(Notice.state.in_(waiting), Notice.due_on < clock.today()), 1), else_=0)
    stmt = (
        sa.select(Notice.department_id, Notice.state, sa.func.count(), sa.func.sum(late))
        .where(Notice.state != NoticeState.ACCEPTED)
        .group_by(Notice.department_id, Notice.state)
    )
    if not actor.has(*OVERSEERS):
        stmt = stmt.where(Notice.department_id == own_organization(actor))
    return [
        OpenCount(int(d), NoticeState(s), int(n), int(late_ or 0))
        for d, s, n, late_ in db_session.execute(stmt)
    ]


@dataclass(frozen=True)
class Permitted:
    """What the actor may do with a notice (the page asks rather than works it out)."""

    answer: bool
    decide: bool


def _reviewer(notice: Notice, unit: int | None) -> Role:
    """Who reviews the rectification: the operator, or for a notice to the platform's
    management unit itself (`detectors.platform_unit`), the authority above it."""
    return Role.AUTHORITY if notice.department_id == unit else Role.PLATFORM_OPERATOR


def _may_answer(actor: Actor, notice: Notice, unit: int | None) -> bool:
    answerers = ANSWERERS if notice.department_id != unit else (*ANSWERERS, Role.PLATFORM_OPERATOR)
    return actor.has(*answerers) and actor.organization_id == notice.department_id


def permitted(actor: Actor, notice: Notice, unit: int | None = None) -> Permitted:
    """Answer: the department's data officer or head (for the platform's management unit
    `unit`, its operators too) while it waits for them; decide: the operator once it is
    answered, or for the management unit's own notice the authority."""
    return Permitted(
        answer=_may_answer(actor, notice, unit) and notice.state.awaits_department,
        decide=actor.has(_reviewer(notice, unit)) and notice.state == NoticeState.ANSWERED,
    )


# --- telling ---------------------------------------------------------------------------------


def _officers(db_session: Session, organization_id: int) -> set[int]:
    """The department's data officers and head: who answer a notice."""
    people = inbox.recipients(db_session, organization_ids=[organization_id])
    return people & inbox.recipients(db_session, roles=ANSWERERS)


def _notify(db_session: Session, user_ids: set[int], title: str, body: str, notice: Notice) -> None:
    inbox.notify(
        db_session,
        user_ids=user_ids,
        notice=inbox.Notice("supervision.notice", title, body, LINK.format(id=notice.id)),
    )
