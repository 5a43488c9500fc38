"""Periodic work runs on the job workers, each task once per tick however many workers tick:
two workers' Huey schedulers each enqueue every periodic task, both work the queue, and each
task runs once per tick (the other finds the tick claimed). On SQLite and on PostgreSQL, with
the real job queue on a platform database of the test's own."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock, migrate, scheduler
from govshare.core.runtime import Runtime, build_runtime
from govshare.core.scheduler.models import PeriodicTick
from govshare.core.settings import load_settings
from govshare.exchange import jobs
from tests.conftest import BACKENDS, POSTGRES_URL

HOUR = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)  # 10:00 in Shangrao


@pytest.fixture(params=BACKENDS)
def environ(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a migrated platform database of this test's own."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    environ = {"GOVSHARE_DATA_DIR": str(data_dir)}
    admin = None
    if request.param == "postgresql":
        base = sa.make_url(POSTGRES_URL)
        url = base.set(database=f"{base.database}_ticks")
        admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
        environ["GOVSHARE_DATABASE_URL"] = url.render_as_string(hide_password=False)
    runtime = build_runtime(load_settings(environ=environ))
    migrate.upgrade(runtime.engine)
    runtime.engine.dispose()
    try:
        yield environ
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            admin.dispose()


def test_every_periodic_task_is_on_the_job_queue(environ: dict[str, str]) -> None:
    runtime = build_runtime(load_settings(environ=environ))
    queue = jobs.job_queue(runtime)
    try:
        hour = [HOUR + timedelta(minutes=m) for m in range(60)]
        names = {task.name for moment in hour for task in queue.huey.read_periodic(moment)}
        assert names == {task.name for task in scheduler.TASKS}
        assert {"catalog.apply_due", "sharing.reminders", "exchange.tick"} <= names
    finally:
        queue.huey.storage.close()
        runtime.engine.dispose()


def test_two_workers_run_each_periodic_task_once_per_tick(environ: dict[str, str]) -> None:
    # Two workers: each its own runtime, queue and database connections, as two processes.
    workers: list[Runtime] = [build_runtime(load_settings(environ=environ)) for _ in range(2)]
    queues = [jobs.job_queue(runtime) for runtime in workers]
    assert queues[0] is not queues[1]
    minutes = [HOUR + timedelta(minutes=m) for m in range(3)]  # the hourly tasks' minutes
    results: list[str] = []
    try:
        for moment in minutes:
            for queue in queues:  # what each worker's Huey scheduler does at the minute
                for task in queue.huey.read_periodic(moment):
                    queue.huey.enqueue(task)
            with clock.frozen(moment + timedelta(seconds=5)):
                turn = 0
                while queues[0].huey.pending_count():
                    queue = queues[turn % 2]  # the workers take turns at the queue
                    message = queue.huey.dequeue()
                    if message is not None:
                        results.append(queue.huey.execute(message))
                    turn += 1
    finally:
        for queue, runtime in zip(queues, workers, strict=True):
            queue.huey.storage.close()
            runtime.engine.dispose()

    ran = Counter(r.split(": ")[0] for r in results if "already run" not in r)
    skipped = Counter(r.split(": ")[0] for r in results if "already run" in r)
    # the minute tasks each minute; the hourly tasks at their minute past the hour
    expected = Counter(
        {
            "exchange.tick 2026-10-12 02:00": 1,
            "exchange.tick 2026-10-12 02:01": 1,
            "exchange.tick 2026-10-12 02:02": 1,
            "opendata.applications 2026-10-12 02:00": 1,
            "opendata.applications 2026-10-12 02:01": 1,
            "opendata.applications 2026-10-12 02:02": 1,
            "catalog.apply_due 2026-10-12 02:00": 1,
            "sharing.reminders 2026-10-12 02:00": 1,
            "federation.requests 2026-10-12 02:00": 1,
            "federation.requests 2026-10-12 02:01": 1,
            "federation.requests 2026-10-12 02:02": 1,
            "federation.catalogs 2026-10-12 02:00": 1,
            "federation.catalogs 2026-10-12 02:01": 1,
            "federation.catalogs 2026-10-12 02:02": 1,
            "audit.checkpoint 2026-10-12 02:00": 1,
            "audit.checkpoint 2026-10-12 02:01": 1,
            "audit.checkpoint 2026-10-12 02:02": 1,
            "gateway.ingest 2026-10-12 02:00": 1,
            "gateway.ingest 2026-10-12 02:01": 1,
            "gateway.ingest 2026-10-12 02:02": 1,
        }
    )
    assert ran == expected, results
    assert skipped == expected, results  # the other worker's copy found the tick claimed
    runtime = build_runtime(load_settings(environ=environ))
    with Session(runtime.engine) as db:
        ticks = db.execute(select(PeriodicTick.task, PeriodicTick.tick_at)).all()
    runtime.engine.dispose()
    assert sorted((t, clock.as_utc(at)) for t, at in ticks) == sorted(
        [("exchange.tick", m) for m in minutes]
        + [("opendata.applications", m) for m in minutes]
        + [("catalog.apply_due", HOUR), ("sharing.reminders", HOUR)]
        + [("federation.requests", m) for m in minutes]
        + [("federation.catalogs", m) for m in minutes]
        + [("audit.checkpoint", m) for m in minutes]
        + [("gateway.ingest", m) for m in minutes]
    )


def test_a_tick_is_claimed_once(db: Session) -> None:
    task = scheduler.TASKS[1]
    tick = scheduler.tick_of(task, HOUR + timedelta(minutes=31, seconds=7))
    assert tick == HOUR
    assert scheduler.claim(db, task, tick, "worker-a")
    assert not scheduler.claim(db, task, tick, "worker-b")
    assert scheduler.claim(db, task, tick + timedelta(hours=1), "worker-b")
    [first] = db.execute(select(PeriodicTick).where(PeriodicTick.tick_at == tick)).scalars()
    assert first.claimed_by == "worker-a"


def test_the_worker_runs_the_audit_sequencer_in_sequencer_mode(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from govshare.core.audit import service as audit_service
    from govshare.core.audit.models import AuditCheckpoint, AuditEntry
    from govshare.core.permissions import Actor

    monkeypatch.setattr(audit_service, "sequencing", "inline")  # restored afterwards
    environ = environ | {"GOVSHARE_AUDIT_SEQUENCING": "sequencer"}
    runtime = build_runtime(load_settings(environ=environ))
    try:
        with jobs.background_worker(runtime):
            with runtime.transaction() as db:
                audit_service.record(
                    db, actor=Actor.command_line("test"), action="test.step", object_type="x"
                )
            deadline = time.monotonic() + 30
            while True:
                with Session(runtime.engine) as db:
                    # (the worker's periodic tasks may audit entries of their own meanwhile)
                    seq = db.execute(
                        select(AuditEntry.seq).where(AuditEntry.action == "test.step")
                    ).scalar_one()
                    signed = db.execute(select(AuditCheckpoint.seq)).scalars().all()
                if seq is not None and signed and max(signed) >= seq:
                    break
                assert time.monotonic() < deadline, "the worker never sequenced the entry"
                time.sleep(0.05)
        with runtime.transaction() as db:
            assert audit_service.verify(db).ok
    finally:
        runtime.engine.dispose()
