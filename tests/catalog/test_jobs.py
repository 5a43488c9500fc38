"""The scheduled job makes announced changes effective on their date, once, through the
CLI (`govshare catalog apply-due`) and the background runner the served platform uses."""

from __future__ import annotations

from datetime import date

from govshare.catalog import jobs
from govshare.catalog.models import ResourceVersion, VersionState
from govshare.catalog.schemas import ReviewIn
from govshare.catalog.service import resources
from govshare.core import clock
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


def test_apply_due_from_the_cli_publishes_on_the_date_and_only_once(govshare_cli: Cli) -> None:
    code, effective_on = _scheduled_change(govshare_cli)
    assert effective_on == date(2026, 12, 2)
    early = govshare_cli("catalog", "apply-due", "--today", "2026-12-01")
    assert early.exit_code == 0 and "发布新版本 0 个" in early.output
    due = govshare_cli("catalog", "apply-due", "--today", "2026-12-02")
    assert due.exit_code == 0 and f"发布 {code}#2" in due.output
    again = govshare_cli("catalog", "apply-due", "--today", "2026-12-03")
    assert "发布新版本 0 个" in again.output


def test_the_background_runner_applies_due_changes(govshare_cli: Cli) -> None:
    _scheduled_change(govshare_cli)
    runtime = get_runtime()
    with clock.frozen("2026-12-05T08:00:00+08:00"):
        result = jobs.apply_due(runtime)
    assert len(result.published) == 1
    with runtime.transaction() as db:
        states = db.query(ResourceVersion.state).order_by(ResourceVersion.number).all()
    assert [s for (s,) in states] == [VersionState.SUPERSEDED, VersionState.PUBLISHED]
