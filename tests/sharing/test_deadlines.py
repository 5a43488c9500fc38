"""The review chain's deadlines over time: reminders, overdue notices, the operator's queue,
the count against each department, grants about to expire."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from govshare.core import clock
from govshare.core.inbox.models import Notification
from govshare.core.permissions import Actor, Role
from govshare.identity.models import User
from govshare.sharing.schemas import DecisionIn, PreReviewIn
from govshare.sharing.service import applications, deadlines, decisions
from govshare.sharing.service.deadlines import Urgency
from tests.sharing.builders import SHANGRAO, Sharing, approved, sharing_world, submitted

JOB = Actor(label="job:test", roles=frozenset({Role.SYSTEM}))


@pytest.fixture
def w(db) -> Sharing:
    with clock.frozen("2026-09-01T09:00:00+08:00"):
        return sharing_world(db)


def _titles(w: Sharing, org_id: int | None = None, role_user: Actor | None = None) -> list[str]:
    query = select(Notification.title)
    if org_id is not None:
        query = query.join(User, User.id == Notification.recipient_id).where(
            User.organization_id == org_id
        )
    if role_user is not None:
        query = query.where(Notification.recipient_id == role_user.user_id)
    return list(w.db.execute(query).scalars())


def test_reminder_the_working_day_before_and_overdue_notice_once(w: Sharing) -> None:
    with clock.frozen("2026-10-12T09:00:00+08:00"):  # Monday
        application = submitted(w)
    assert application.steps[0].due_on == date(2026, 10, 15)
    with clock.frozen("2026-10-13T09:00:00+08:00"):
        assert deadlines.send_reminders(w.db, actor=JOB).reminded == 0
    with clock.frozen("2026-10-14T09:00:00+08:00"):  # one working day left
        first = deadlines.send_reminders(w.db, actor=JOB)
        again = deadlines.send_reminders(w.db, actor=JOB)
    assert (first.reminded, again.reminded) == (1, 0)
    assert any("平台预审临近期限" in t for t in _titles(w, role_user=w.op))
    with clock.frozen("2026-10-16T09:00:00+08:00"):  # past the deadline
        (row,) = deadlines.queue(w.db, actor=w.op)
        assert row.urgency is Urgency.OVERDUE and row.working_days_left == -1
        assert deadlines.send_reminders(w.db, actor=JOB).overdue == 1
        assert deadlines.send_reminders(w.db, actor=JOB).overdue == 0
        decisions.pre_review(
            w.db, actor=w.op, application_id=application.id, data=PreReviewIn(forward=True)
        )
    assert application.steps[0].late
    with clock.frozen("2026-10-29T09:00:00+08:00"):  # decision due 30 Oct
        assert application.steps[1].due_on == date(2026, 10, 30)
        assert deadlines.send_reminders(w.db, actor=JOB).reminded == 1
    assert any("提供部门答复临近期限" in t for t in _titles(w, org_id=w.provider.id))


def test_the_queue_colours_and_the_count_against_each_department(w: Sharing) -> None:
    with clock.frozen("2026-10-12T09:00:00+08:00"):
        late = submitted(w)
        decisions.pre_review(
            w.db, actor=w.op, application_id=late.id, data=PreReviewIn(forward=True)
        )
    with clock.frozen("2026-10-13T09:00:00+08:00"):
        from tests.sharing.builders import application_in, sealed_letter
        from tests.sharing.test_applications import _second_conditional

        fresh = applications.submit_application(
            w.db,
            actor=w.consumer_officer,
            profile=SHANGRAO,
            data=application_in(_second_conditional(w), w.consumer_system),
            uploads=[sealed_letter()],
        )
    with clock.frozen("2026-10-15T09:00:00+08:00"):
        rows = deadlines.queue(w.db, actor=w.op)
        assert [(r.application.id, r.urgency) for r in rows] == [
            (fresh.id, Urgency.DUE_SOON),  # pre-review due 16 Oct
            (late.id, Urgency.OK),  # decision due 26 Oct
        ]
    with clock.frozen("2026-10-28T09:00:00+08:00"):
        records = {r.name: r for r in deadlines.department_records(w.db, actor=w.authority)}
        provider = records[w.provider.name]
        assert (provider.answered, provider.answered_late, provider.open_overdue) == (0, 0, 1)
        decisions.decide(
            w.db,
            actor=w.provider_officer,
            profile=SHANGRAO,
            application_id=late.id,
            data=DecisionIn(approve=True),
        )
        records = {r.name: r for r in deadlines.department_records(w.db, actor=w.op)}
        assert records[w.provider.name].answered_late == 1
        operator = records["平台管理单位（预审）"]
        assert (operator.answered, operator.open_overdue) == (1, 1)
    with pytest.raises(Exception, match="无权"):
        deadlines.queue(w.db, actor=w.consumer_officer)


def test_consumers_hear_before_a_grant_expires(w: Sharing) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        approved(w, valid_until=date(2026, 12, 31))
    with clock.frozen("2026-11-30T09:00:00+08:00"):
        assert deadlines.send_reminders(w.db, actor=JOB).expiring == 0
    with clock.frozen("2026-12-02T09:00:00+08:00"):
        assert deadlines.send_reminders(w.db, actor=JOB).expiring == 1
        assert deadlines.send_reminders(w.db, actor=JOB).expiring == 0
    assert any("授权即将到期" in t for t in _titles(w, org_id=w.consumer.id))


def test_the_remind_command_and_calendar_import_recount(govshare_cli, tmp_path) -> None:
    """End to end through the CLI: a provisional 2027 deadline becomes exact once the operator
    enters 2027 with `govshare workdays import`."""
    from govshare.core.runtime import get_runtime
    from govshare.sharing.models import ApplicationStep

    runtime = get_runtime()
    with runtime.transaction() as db, clock.frozen("2026-12-24T10:00:00+08:00"):
        w = sharing_world(db)
        application = submitted(w)
        application_id = application.id
        assert application.steps[1].due_provisional
    schedule = tmp_path / "2027.csv"
    schedule.write_text(
        "date,type,name,source\n2027-01-01,休,元旦,国办通知\n2027-01-04,休,元旦,国办通知\n",
        encoding="utf-8",
    )
    result = govshare_cli("workdays", "import", str(schedule))
    assert result.exit_code == 0, result.output
    with runtime.transaction() as db:
        steps = (
            db.execute(
                select(ApplicationStep)
                .where(ApplicationStep.application_id == application_id)
                .order_by(ApplicationStep.position)
            )
            .scalars()
            .all()
        )
        assert [(s.due_on, s.due_provisional) for s in steps] == [
            (date(2026, 12, 29), False),
            (date(2027, 1, 14), False),
        ]
    result = govshare_cli("sharing", "remind")
    assert result.exit_code == 0 and "超期通知" in result.output
