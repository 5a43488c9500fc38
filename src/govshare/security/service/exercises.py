"""The yearly security test (安全测评) and emergency drill (应急演练), SR§25 (每年至少开展一次),
SY§27 (定期开展): the operator plans each, then records its result with the scanned plan and
report. A year whose test or drill is not done by the profile's `security_exercise_due` is a
violation the supervision detector `exercise_missing` finds, against the platform's
management unit; recording the result resolves it on the next detection run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.documents import Document
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.permissions import Actor, require
from govshare.core.policy import Profile
from govshare.security.models import Exercise, ExerciseKind, SecurityDocument
from govshare.security.schemas import ExerciseIn, ExerciseResultIn
from govshare.security.service.common import OPERATOR, OVERSEERS, store_documents

LINK = "/security/exercises/{id}"


def plan(
    db_session: Session, *, actor: Actor, data: ExerciseIn, documents: Sequence[Document] = ()
) -> Exercise:
    """The operator plans a test or drill of a year, with its scanned plan if it has one."""
    require(actor, OPERATOR, action="制定安全测评和应急演练计划")
    exercise = Exercise(
        kind=data.kind,
        year=data.year,
        title=data.title,
        planned_on=data.planned_on,
        plan=data.plan,
        created_at=clock.now(),
        created_by=actor.label,
    )
    db_session.add(exercise)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="security.exercise.plan",
        object_type="exercise",
        object_id=exercise.id,
        details={
            "kind": data.kind.value,
            "year": data.year,
            "title": data.title,
            "planned_on": data.planned_on.isoformat(),
        },
    )
    store_documents(db_session, actor, exercise, documents)
    return exercise


def record_result(
    db_session: Session,
    *,
    actor: Actor,
    exercise_id: int,
    data: ExerciseResultIn,
    documents: Sequence[Document] = (),
) -> Exercise:
    """The operator records that the test or drill was done: when, by whom, what it found,
    with the scanned report; once."""
    require(actor, OPERATOR, action="登记安全测评和应急演练结果")
    exercise = _exercise(db_session, actor, exercise_id)
    if exercise.conducted_on is not None:
        raise Conflict(f"“{exercise.title}”已登记结果", field="result")
    if data.conducted_on.year != exercise.year:
        raise Invalid(f"开展日期须在计划的 {exercise.year} 年内", field="conducted_on")
    exercise.conducted_on, exercise.conducted_by = data.conducted_on, data.conducted_by
    exercise.result, exercise.result_at, exercise.result_by = data.result, clock.now(), actor.label
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="security.exercise.result",
        object_type="exercise",
        object_id=exercise.id,
        details={
            "conducted_on": data.conducted_on.isoformat(),
            "conducted_by": data.conducted_by,
            "result": data.result,
        },
    )
    store_documents(db_session, actor, exercise, documents)
    return exercise


def attach(
    db_session: Session, *, actor: Actor, exercise_id: int, documents: Sequence[Document]
) -> list[SecurityDocument]:
    """The operator adds scanned documents (plan, report, sign-in sheets) to an exercise."""
    require(actor, OPERATOR, action="上传安全测评和应急演练附件")
    return store_documents(db_session, actor, _exercise(db_session, actor, exercise_id), documents)


def _exercise(db_session: Session, actor: Actor, exercise_id: int) -> Exercise:
    exercise = db_session.get(Exercise, exercise_id)
    if exercise is None or not actor.has(*OVERSEERS):
        raise NotFound(f"没有编号为 {exercise_id} 的安全测评或应急演练")
    return exercise


def get_exercise(db_session: Session, *, actor: Actor, exercise_id: int) -> Exercise:
    """One test or drill, for those who oversee security; reading it is logged."""
    require(actor, *OVERSEERS, action="查看安全测评和应急演练")
    exercise = _exercise(db_session, actor, exercise_id)
    record(
        db_session,
        actor=actor,
        action="security.exercise.read",
        object_type="exercise",
        object_id=exercise.id,
        details={"title": exercise.title},
    )
    return exercise


def list_exercises(db_session: Session, *, actor: Actor, year: int | None = None) -> list[Exercise]:
    """Tests and drills, newest year first, of one `year` or all."""
    require(actor, *OVERSEERS, action="查看安全测评和应急演练")
    stmt = sa.select(Exercise)
    if year is not None:
        stmt = stmt.where(Exercise.year == year)
    return list(
        db_session.scalars(stmt.order_by(Exercise.year.desc(), Exercise.planned_on, Exercise.id))
    )


@dataclass(frozen=True)
class YearDuty:
    """A year's test or drill against the profile's date: done, still due, or missed."""

    kind: ExerciseKind
    year: int
    due_on: date
    done: Exercise | None

    @property
    def missed(self) -> bool:
        return self.done is None and clock.today() > self.due_on

    @property
    def label(self) -> str:
        if self.done is not None:
            return f"已于 {self.done.conducted_on} 开展"
        return (
            f"逾期未开展（应于 {self.due_on} 前）" if self.missed else f"应于 {self.due_on} 前开展"
        )


def year_duties(
    db_session: Session, *, actor: Actor, profile: Profile, year: int
) -> list[YearDuty]:
    """The year's test and drill: each done (the first recorded), due, or missed."""
    require(actor, *OVERSEERS, action="查看安全测评和应急演练")
    done = {}
    for exercise in list_exercises(db_session, actor=actor, year=year):
        if exercise.conducted_on is not None:
            done.setdefault(exercise.kind, exercise)
    return [
        YearDuty(kind, year, profile.rules.exercise_due_on(year), done.get(kind))
        for kind in ExerciseKind
    ]
