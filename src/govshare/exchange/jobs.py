"""The platform's job queue: Huey, keeping its jobs in the platform database (tables
`job_task`, `job_schedule`, `job_kv`, `job_counter`, created by the migrations), worked by
`govshare worker`. It carries the exchange's runs and every periodic task of the platform
(`govshare.core.scheduler.TASKS`).

Huey takes a job off the queue inside a transaction (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite) and deletes it there, so two workers never take one
job. A run is further claimed by a compare-and-set on its state
(`run_execution.execute_run`), so a job handed out twice — after a lost enqueue was repeated —
still runs once.

Each minute the exchange ticks: it queues the runs whose time has come (`runs.schedule_due`,
itself a compare-and-set per binding) and recovers runs whose process died (their run lock is
free). Huey's scheduler runs in every worker; `scheduler.run` claims each tick in the
database, so a periodic task runs once per tick however many workers there are.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import peewee
from huey import Huey, crontab
from huey.consumer import Consumer
from huey.contrib.sql_huey import SqlStorage
from huey.exceptions import RetryTask
from sqlalchemy import make_url

from govshare.core import scheduler
from govshare.core.audit import sequencer
from govshare.core.migrate import JOB_TABLE_PREFIX
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.exchange.models import SyncRun
from govshare.exchange.service import run_execution, runs

log = logging.getLogger(__name__)
SCHEDULER = Actor(label="job:exchange.tick", roles=frozenset({Role.SYSTEM}))


class _Storage(SqlStorage):
    """Huey's SQL storage with its tables prefixed, beside the platform's own. The tables
    come from the migrations (0006), never from Huey: creating them on first use, inside a
    request, would wait on that request's own write lock on SQLite."""

    def create_models(self) -> Any:
        models = super().create_models()
        for model in models:
            model._meta.set_table_name(JOB_TABLE_PREFIX + model._meta.table_name)
        return models


@dataclass(frozen=True)
class JobQueue:
    huey: Huey
    run_task: Any  # the Huey task executing one run

    def enqueue(self, run_id: int) -> None:
        self.run_task(run_id)


def peewee_database(url: str) -> peewee.Database:
    """The platform database as Peewee (Huey's storage layer) opens it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return peewee.SqliteDatabase(
            parsed.database, pragmas={"journal_mode": "wal", "busy_timeout": 30000}
        )
    return peewee.PostgresqlDatabase(
        parsed.database,
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
    )


@functools.cache
def job_queue(runtime: Runtime) -> JobQueue:
    """The queue of this process's platform database, with the exchange's tasks on it."""
    huey = Huey(
        "govshare",
        storage_class=_Storage,
        database=peewee_database(runtime.settings.database_url),
        create_tables=False,
        utc=True,
    )

    @huey.task(retries=5, retry_delay=1, name="exchange.run")
    def run_task(run_id: int) -> str:
        return execute(runtime, run_id)

    for periodic in scheduler.TASKS:
        _register_periodic(huey, runtime, periodic)
    return JobQueue(huey, run_task)


def _register_periodic(huey: Huey, runtime: Runtime, task: scheduler.PeriodicTask) -> None:
    when = crontab(minute="*") if task.every == "minute" else crontab(minute=str(task.minute))

    def periodic() -> str:
        return scheduler.run(runtime, task)

    huey.periodic_task(when, name=task.name)(periodic)


def execute(runtime: Runtime, run_id: int) -> str:
    """Runs one queued run. A run not yet visible (its request still committing) is retried."""
    with runtime.transaction() as db_session:
        if db_session.get(SyncRun, run_id) is None:
            raise RetryTask(f"run {run_id} not committed yet")
    run = run_execution.execute_run(
        runtime.sessions, settings=runtime.settings, center=runtime.center, run_id=run_id
    )
    if run is None:
        return f"run {run_id}: taken by another worker"
    return f"run {run_id}: {run.state.value} {run.error}".strip()


def tick(runtime: Runtime) -> str:
    """Queues due runs and recovers those whose process died (each minute, once)."""
    queue = job_queue(runtime)
    with runtime.transaction() as db_session:
        due = runs.schedule_due(db_session, actor=SCHEDULER, enqueue=queue.enqueue)
        again = runs.recover_stalled(db_session, actor=SCHEDULER, enqueue=queue.enqueue)
    return f"queued {len(due)}, recovered {len(again)}"


class _ThreadConsumer(Consumer):
    """A consumer started beside other work in the process: the process's own signal
    handling (Uvicorn's) stays in charge, and `stop` ends it."""

    def _set_signal_handlers(self) -> None:
        pass


@contextlib.contextmanager
def background_worker(runtime: Runtime, *, workers: int = 1) -> Iterator[None]:
    """The queue worked by threads of this process while the block runs, periodic tasks
    included (the demo city's single process); a deployment runs `govshare worker`
    processes instead."""
    _mapped()
    consumer = _ThreadConsumer(
        job_queue(runtime).huey, workers=workers, worker_type="thread", periodic=True
    )
    audit_loop = sequencer.loop_for(runtime)
    if audit_loop is not None:
        audit_loop.start()
    consumer.start()
    try:
        yield
    finally:
        consumer.stop(graceful=False)
        if audit_loop is not None:
            audit_loop.stop()


def _mapped() -> None:
    """Every table's class imported and the mappers configured before worker threads start:
    a job importing a domain lazily in one thread must never race another thread's first
    query into configuring classes half imported."""
    import sqlalchemy.orm

    import govshare.core.models  # noqa: F401  (every table module)

    sqlalchemy.orm.configure_mappers()


def run_worker(runtime: Runtime, *, workers: int = 2) -> None:
    """Works the queue until interrupted (`govshare worker`), with the audit sequencer's loop
    beside it when the platform sequences (one worker's is active, the others stand by)."""
    _mapped()
    queue = job_queue(runtime)
    audit_loop = sequencer.loop_for(runtime)
    if audit_loop is not None:
        audit_loop.start()
    try:
        Consumer(queue.huey, workers=workers, worker_type="thread", periodic=True).run()
    finally:
        if audit_loop is not None:
            audit_loop.stop()
