"""The supervision jobs on a runtime, as the workers run them each hour: probe, detect,
circulate; each idempotent."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from govshare.core import clock
from govshare.core.runtime import Runtime
from govshare.core.scheduler import TASKS
from govshare.core.settings import load_settings
from govshare.supervision import jobs
from govshare.supervision.models import Finding, Notice, NoticeState, Probe
from tests.exchange.gateway_scenarios import service_world
from tests.supervision.builders import FOUND_AT, PAST_NOTICE, overdue_application


def _runtime(db: Session, data_dir: Path) -> Runtime:
    environ = {
        "GOVSHARE_DATA_DIR": str(data_dir),
        "GOVSHARE_POLICY_PROFILE": "shangrao",
        "GOVSHARE_CITY_NAME": "江州市",
    }
    return Runtime(
        settings=load_settings(environ=environ),
        engine=db.get_bind().engine,
        sessions=sessionmaker(
            bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
    )


def test_the_jobs_find_notify_and_circulate_once(db: Session, data_dir: Path) -> None:
    runtime = _runtime(db, data_dir)
    _, application = overdue_application(db)
    db.commit()
    with clock.frozen(FOUND_AT):
        first = jobs.detect(runtime)
        again = jobs.detect(runtime)
    assert len(first.found) == len(first.issued) >= 1  # the decision, and stale data
    assert (again.found, again.issued) == ([], [])
    decision = db.scalar(select(Finding).where(Finding.kind == "decision_overdue"))
    assert decision is not None and decision.subject_id == application.id
    with clock.frozen(PAST_NOTICE):
        circulated = jobs.escalate(runtime)
        assert circulated.startswith(f"circulated {len(first.issued)}: TB2026")
        assert jobs.escalate(runtime) == "circulated 0"
    assert set(db.scalars(select(Notice.state))) == {NoticeState.ESCALATED}


def test_the_probe_job_keeps_one_outcome_per_target(db: Session, data_dir: Path) -> None:
    runtime = _runtime(db, data_dir)
    service_world(db)  # an interface at a closed port
    db.commit()
    with clock.frozen(FOUND_AT):
        assert jobs.probe(runtime) == "probed 1, unreachable 1"
    assert db.scalar(select(func.count(Probe.id))) == 1


def test_the_jobs_are_on_the_schedule() -> None:
    names = {t.name: t.function for t in TASKS}
    assert names["supervision.probe"] == "govshare.supervision.jobs:probe"
    assert names["supervision.detect"] == "govshare.supervision.jobs:detect"
    assert names["supervision.escalate"] == "govshare.supervision.jobs:escalate"
