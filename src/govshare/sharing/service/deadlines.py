"""Deadlines of the review chain (SHR-2): counted in working days through `core.calendar`
from the day counts an application copied from its profile.

A step not started yet (the provider's decision while the operator pre-reviews) carries a
projected deadline counted from the step before's deadline; it is counted again from the
day the step really starts. A deadline counted over a year whose holidays are not entered
is provisional, and is counted again when the operator enters that year.

The reminder job tells the answerer the working day before a deadline, and tells the answerer
and the operator once a step is overdue. Overdue steps count against the answering department.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.calendar import Deadline, WorkingCalendar
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, require
from govshare.identity.models import Organization
from govshare.sharing.models import (
    Application,
    ApplicationStep,
    Grant,
    GrantState,
    StepKind,
    StepOutcome,
)

REMIND_WORKING_DAYS = 1  # the reminder goes out this many working days before a deadline
EXPIRY_NOTICE_DAYS = 30  # consumers hear this many calendar days before a grant ends


class Urgency(StrEnum):
    """The operator queue's colours."""

    DONE = "done"
    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"

    @property
    def label(self) -> str:
        return {"done": "已办结", "ok": "期限内", "due_soon": "临近期限", "overdue": "已超期"}[
            self.value
        ]


def deadline(step: ApplicationStep) -> Deadline:
    """The step's deadline as the calendar counted it."""
    return Deadline(on=step.due_on, provisional=step.due_provisional)


def _count(step: ApplicationStep, calendar: WorkingCalendar) -> None:
    due = calendar.add_working_days(step.started_on, step.days)
    step.due_on, step.due_provisional = due.on, due.provisional


def plan(
    application: Application, calendar: WorkingCalendar, submitted_on: date
) -> list[ApplicationStep]:
    """The steps of a freshly submitted application: the pre-review (if the profile has one)
    starts on submission, the decision is projected from its deadline."""
    steps: list[ApplicationStep] = []
    start, started = submitted_on, True
    if application.pre_review_days:
        steps.append(
            ApplicationStep(
                kind=StepKind.PRE_REVIEW, organization_id=None, days=application.pre_review_days
            )
        )
    steps.append(
        ApplicationStep(
            kind=StepKind.DECISION,
            organization_id=application.provider_id,
            days=application.decision_days,
        )
    )
    for position, step in enumerate(steps, start=1):
        step.position, step.started_on, step.started = position, start, started
        _count(step, calendar)
        start, started = step.due_on, False
    return steps


def start(step: ApplicationStep, calendar: WorkingCalendar, on: date) -> None:
    """The step begins now: its deadline is counted from today."""
    step.started_on, step.started = on, True
    _count(step, calendar)


def open_step(application: Application) -> ApplicationStep | None:
    """The step waiting for an answer, if any."""
    return next((s for s in application.steps if s.started and s.finished_at is None), None)


def urgency(step: ApplicationStep, calendar: WorkingCalendar, today: date) -> Urgency:
    if step.finished_at is not None:
        return Urgency.DONE
    if today > step.due_on:
        return Urgency.OVERDUE
    if calendar.working_days_between(today, step.due_on) <= REMIND_WORKING_DAYS:
        return Urgency.DUE_SOON
    return Urgency.OK


@working_days.on_year_entered
def recount(db_session: Session, calendar: WorkingCalendar) -> int:
    """Counts the deadlines of unfinished steps again (a year was entered); a projected step
    follows its predecessor's new deadline."""
    steps = db_session.execute(
        select(ApplicationStep)
        .where(ApplicationStep.finished_at.is_(None))
        .order_by(ApplicationStep.application_id, ApplicationStep.position)
    ).scalars()
    changed = 0
    previous_due: dict[int, date] = {}
    for step in steps:
        if not step.started and step.application_id in previous_due:
            step.started_on = previous_due[step.application_id]
        before = (step.due_on, step.due_provisional)
        _count(step, calendar)
        previous_due[step.application_id] = step.due_on
        changed += before != (step.due_on, step.due_provisional)
    db_session.flush()
    return changed


@dataclass(frozen=True)
class QueueRow:
    """One unanswered step in the operator's queue."""

    step: ApplicationStep
    application: Application
    urgency: Urgency
    working_days_left: int


def queue(db_session: Session, *, actor: Actor) -> list[QueueRow]:
    """Every step waiting for an answer, most urgent first (the operator's queue)."""
    require(actor, Role.PLATFORM_OPERATOR, Role.AUTHORITY, action="查看共享申请督办队列")
    calendar, today = working_days.load(db_session), clock.today()
    steps = db_session.execute(
        select(ApplicationStep)
        .where(ApplicationStep.started.is_(True), ApplicationStep.finished_at.is_(None))
        .order_by(ApplicationStep.due_on, ApplicationStep.id)
    ).scalars()
    return [
        QueueRow(
            step,
            step.application,
            urgency(step, calendar, today),
            calendar.working_days_between(today, step.due_on),
        )
        for step in steps
    ]


@dataclass(frozen=True)
class DepartmentRecord:
    """How a department answers its applications: the count against it (SHR-2 deadlines)."""

    organization: Organization | None  # None: the operator's pre-review
    answered: int
    answered_late: int
    open_overdue: int

    @property
    def name(self) -> str:
        return self.organization.name if self.organization else "平台管理单位（预审）"


def department_records(db_session: Session, *, actor: Actor) -> list[DepartmentRecord]:
    """Per answering department: steps answered, answered late, and open past their deadline."""
    require(actor, Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR, action="查看超期统计")
    today = clock.today()
    steps = db_session.execute(
        select(ApplicationStep).where(
            ApplicationStep.started.is_(True),
            # A step the consumer withdrew or a retirement closed was never the department's
            # to answer.
            ApplicationStep.outcome.is_(None)
            | ApplicationStep.outcome.notin_((StepOutcome.WITHDRAWN, StepOutcome.CLOSED)),
        )
    ).scalars()
    tally: dict[int | None, list[int]] = {}
    orgs: dict[int | None, Organization | None] = {}
    for step in steps:
        counts = tally.setdefault(step.organization_id, [0, 0, 0])
        orgs[step.organization_id] = step.organization
        if step.finished_on is not None:
            counts[0] += 1
            counts[1] += step.finished_on > step.due_on
        elif today > step.due_on:
            counts[2] += 1
    records = [DepartmentRecord(orgs[k], *v) for k, v in tally.items()]
    return sorted(records, key=lambda r: (-r.open_overdue, -r.answered_late, r.name))


@dataclass
class ReminderResult:
    reminded: int = 0
    overdue: int = 0
    expiring: int = 0


def _answerers(db_session: Session, step: ApplicationStep) -> set[int]:
    if step.organization_id is None:
        return inbox.recipients(db_session, roles=[Role.PLATFORM_OPERATOR])
    return inbox.recipients(db_session, organization_ids=[step.organization_id])


def send_reminders(db_session: Session, *, actor: Actor) -> ReminderResult:
    """The daily reminder run: deadlines close, deadlines passed, grants about to end.
    Each reminder goes out once (the step or grant remembers the day it was sent)."""
    require(actor, Role.SYSTEM, Role.PLATFORM_OPERATOR, action="发送期限提醒")
    calendar, today = working_days.load(db_session), clock.today()
    result = ReminderResult()
    steps = db_session.execute(
        select(ApplicationStep)
        .where(ApplicationStep.started.is_(True), ApplicationStep.finished_at.is_(None))
        .with_for_update(of=ApplicationStep)
    ).scalars()
    for step in steps:
        app = step.application
        link = f"/sharing/applications/{app.id}"
        what = f"{app.number}（{app.consumer.name} 申请 {app.version.name}）"
        level = urgency(step, calendar, today)
        if level is Urgency.OVERDUE and step.overdue_notified_on is None:
            step.overdue_notified_on = today
            result.overdue += 1
            users = _answerers(db_session, step) | inbox.recipients(
                db_session, roles=[Role.PLATFORM_OPERATOR]
            )
            inbox.notify(
                db_session,
                user_ids=users,
                notice=inbox.Notice(
                    "sharing.overdue",
                    f"{step.kind.label}已超期：{app.number}",
                    f"{what}的{step.kind.label}期限为 {deadline(step).label}，现已超期。",
                    link,
                ),
            )
        elif level is Urgency.DUE_SOON and step.reminded_on is None:
            step.reminded_on = today
            result.reminded += 1
            inbox.notify(
                db_session,
                user_ids=_answerers(db_session, step),
                notice=inbox.Notice(
                    "sharing.reminder",
                    f"{step.kind.label}临近期限：{app.number}",
                    f"{what}须在 {deadline(step).label} 前{step.kind.label}。",
                    link,
                ),
            )
    grants = db_session.execute(
        select(Grant)
        .where(
            Grant.state == GrantState.ACTIVE,
            Grant.valid_until.is_not(None),
            Grant.valid_until >= today,
            Grant.expiry_notified_on.is_(None),
        )
        .with_for_update(of=Grant)
    ).scalars()
    for grant in grants:
        assert grant.valid_until is not None
        if (grant.valid_until - today).days > EXPIRY_NOTICE_DAYS:
            continue
        grant.expiry_notified_on = today
        result.expiring += 1
        inbox.notify(
            db_session,
            user_ids=inbox.recipients(db_session, organization_ids=[grant.consumer_id]),
            notice=inbox.Notice(
                "sharing.expiry",
                f"授权即将到期：{grant.number}",
                f"{grant.version.name}的使用授权于 {grant.valid_until} 到期，如需继续使用请申请续期。",
                f"/sharing/grants/{grant.id}",
            ),
        )
    db_session.flush()
    if result.reminded or result.overdue or result.expiring:
        record(
            db_session,
            actor=actor,
            action="sharing.reminders.send",
            object_type="sharing",
            details={
                "reminded": result.reminded,
                "overdue": result.overdue,
                "expiring": result.expiring,
            },
        )
    return result
