"""The scheduled job makes announced changes effective on their date, once, through the
CLI (`govshare catalog apply-due`) and the background runner the served platform uses."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from govshare.catalog import jobs
from govshare.catalog.models import ResourceVersion, VersionState
from govshare.catalog.schemas import ReviewIn
from govshare.catalog.service import resources, retirements
from govshare.core import clock
from govshare.core.errors import Invalid
from govshare.core.runtime import get_runtime
from tests.builders import actor_of, operator, organization, user
from tests.catalog.builders import RULES, published
from tests.conftest import Cli


def _scheduled_change(cli: Cli) -> tuple[str, date]:
    runtime = get_runtime()
    with clock.frozen("2026-11-02T10:00:00+08:00"), runtime.transaction() as db:
        op, _ = operator(db)
        officer = actor_of(user(db, organization(db, "江州市民政局"), ["data_officer"]))
        resource = published(db, officer, op)
        v2 = resources.start_revision(db, actor=officer, resource_id=resource.id)
        resources.submit_version(db, actor=officer, version_id=v2.id, rules=RULES)
        resources.review_version(
            db, actor=op, version_id=v2.id, decision=ReviewIn(approve=True), rules=RULES
        )
        return resource.code, v2.effective_on


def _versions(runtime) -> list[tuple[VersionState, date | None]]:
    with runtime.transaction() as db:
        rows = db.execute(
            select(ResourceVersion.state, ResourceVersion.published_on).order_by(
                ResourceVersion.number
            )
        )
        return [tuple(r) for r in rows]


def test_apply_due_from_the_cli_publishes_on_the_date_and_only_once(govshare_cli: Cli) -> None:
    code, effective_on = _scheduled_change(govshare_cli)
    assert effective_on == date(2026, 12, 2)
    with clock.frozen("2026-12-01T08:00:00+08:00"):
        early = govshare_cli("catalog", "apply-due")
    assert early.exit_code == 0 and "发布新版本 0 个" in early.output
    with clock.frozen("2026-12-03T08:00:00+08:00"):
        due = govshare_cli("catalog", "apply-due", "--today", "2026-12-02")
        assert due.exit_code == 0 and f"发布 {code}#2" in due.output
        again = govshare_cli("catalog", "apply-due", "--today", "2026-12-03")
        assert again.exit_code == 0 and "发布新版本 0 个" in again.output
    # Published on its effective date, not on the day the job ran.
    assert _versions(get_runtime()) == [
        (VersionState.SUPERSEDED, date(2026, 11, 2)),
        (VersionState.PUBLISHED, date(2026, 12, 2)),
    ]


def test_a_date_after_today_is_refused_and_nothing_is_brought_forward(govshare_cli: Cli) -> None:
    """Inside the notice period no date given on the command line makes the change effective:
    a `--today` later than the platform's today is refused in one line (exit 2)."""
    _scheduled_change(govshare_cli)
    with clock.frozen("2026-11-20T09:00:00+08:00"):
        early = govshare_cli("catalog", "apply-due", "--today", "2026-12-02")
        assert early.exit_code == 2, early.output
        [line] = early.output.strip().splitlines()
        assert line.startswith("错误: 执行日期 2026-12-02 晚于今天（2026-11-20）"), line
        assert "不能提前执行" in line
        assert _versions(get_runtime())[-1] == (VersionState.SCHEDULED, None)
        # Today itself, or a day already past, is accepted (a job catching up after downtime).
        assert govshare_cli("catalog", "apply-due", "--today", "2026-11-20").exit_code == 0
        assert govshare_cli("catalog", "apply-due", "--today", "2026-11-19").exit_code == 0
    assert _versions(get_runtime())[-1] == (VersionState.SCHEDULED, None)
    with clock.frozen("2026-12-02T00:30:00+08:00"):
        later = govshare_cli("catalog", "apply-due", "--today", "2026-12-03")
        assert later.exit_code == 2 and "不能提前执行" in later.output
        assert govshare_cli("catalog", "apply-due").exit_code == 0
    assert _versions(get_runtime())[-1] == (VersionState.PUBLISHED, date(2026, 12, 2))


def test_the_service_refuses_a_day_after_today(govshare_cli: Cli) -> None:
    """Whoever calls the job's service with a later day is refused too."""
    _scheduled_change(govshare_cli)
    runtime = get_runtime()
    with clock.frozen("2026-11-20T09:00:00+08:00"), runtime.transaction() as db:
        with pytest.raises(Invalid) as refused:
            retirements.apply_due_changes(db, actor=jobs.SCHEDULER, today=date(2026, 12, 2))
        assert refused.value.field == "today"
    assert _versions(runtime)[-1] == (VersionState.SCHEDULED, None)


def test_the_background_runner_applies_due_changes(govshare_cli: Cli) -> None:
    _scheduled_change(govshare_cli)
    runtime = get_runtime()
    with clock.frozen("2026-12-05T08:00:00+08:00"):
        result = jobs.apply_due(runtime)
    assert len(result.published) == 1
    # The job ran three days late (the platform was down): still published on 2 December.
    assert _versions(runtime) == [
        (VersionState.SUPERSEDED, date(2026, 11, 2)),
        (VersionState.PUBLISHED, date(2026, 12, 2)),
    ]
