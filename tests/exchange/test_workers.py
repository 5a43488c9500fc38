"""Two real `govshare worker` processes share one PostgreSQL platform database and a batch of
queued sync runs: every run is claimed and executed exactly once (one claim, one start and one
finish entry, one data update), both workers take part, and every center table ends equal to
its source. The workers are stopped with SIGINT (Huey's graceful shutdown); whatever happens,
no worker process outlives the test.

PostgreSQL only: the platform database is a database of this test's own, next to the one
GOVSHARE_TEST_POSTGRES_URL names, created, migrated and dropped here. The center is the
`center` schema of the same database; the sources are tables of a SQLite file in the data
directory the workers share with the test."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from govshare.core import migrate
from govshare.core.audit.models import AuditEntry
from govshare.core.db import make_engine, make_sessionmaker
from govshare.core.runtime import Runtime
from govshare.exchange import jobs
from govshare.exchange.demo_data import POPULATION_COLUMNS, load_table, population_rows
from govshare.exchange.masking import text_form
from govshare.exchange.models import (
    BindingState,
    ConnectionRole,
    DatabaseKind,
    RunKind,
    RunState,
    SyncRun,
)
from govshare.exchange.schemas import ConnectionIn
from govshare.exchange.service import bindings, connections, runs
from govshare.sharing.models import DataUpdate
from tests.conftest import BACKENDS, POSTGRES_URL
from tests.exchange.builders import (
    population_binding_in,
    population_resource,
    settings_for,
    source_directory,
)
from tests.sharing.builders import sharing_world

PROCESSES = 2  # worker processes
THREADS = 2  # `govshare worker --workers`: runs each process executes at once
RESOURCES = 8  # bound tables, one queued full run each
ROWS = 10_000  # per source table: a run takes long enough that no process can take all
AS_OF = datetime(2026, 7, 1)
STARTED = "工作进程启动"  # the worker's first line
DEADLINE = 45.0  # seconds for the whole batch
GOVSHARE = Path(sys.executable).with_name("govshare")


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def name(self) -> str:
        """How the worker names itself on the runs it claims (run_execution.execute_run)."""
        return f"{socket.gethostname()}:{self.process.pid}"

    def output(self) -> str:
        return f"--- stdout\n{self.out.read_text()}\n--- stderr\n{self.err.read_text()[-4000:]}"


@pytest.fixture
def platform_url() -> Iterator[str]:
    """A migrated PostgreSQL platform database of this test's own."""
    if "postgresql" not in BACKENDS:
        pytest.skip("PostgreSQL is not among GOVSHARE_TEST_BACKENDS")
    base = make_url(POSTGRES_URL)
    url = base.set(database=f"{base.database}_workers")
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        admin.connect().close()
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {base.render_as_string()}: {exc.orig}")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    engine = make_engine(url.render_as_string(hide_password=False))
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """The worker processes this test starts (in `start_workers`): interrupted at the end if
    still running, killed if they do not stop."""
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGINT)
    for worker in started:
        try:
            worker.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.process.pid, signal.SIGKILL)  # its own session: it and its children
            worker.process.wait(timeout=15)


def start_workers(started: list[Worker], tmp_path: Path, environ: dict[str, str]) -> list[Worker]:
    """Starts the worker processes, each in a session of its own, and waits until each has
    started (a process that ends early fails the test with its output)."""
    for i in range(PROCESSES):
        out, err = tmp_path / f"worker{i}.out", tmp_path / f"worker{i}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [str(GOVSHARE), "worker", "--workers", str(THREADS)],
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        started.append(Worker(process, out, err))
    deadline = time.monotonic() + 30
    for worker in started:
        while STARTED not in worker.out.read_text():
            assert worker.process.poll() is None, f"worker ended at start:\n{worker.output()}"
            assert time.monotonic() < deadline, f"worker did not start:\n{worker.output()}"
            time.sleep(0.1)
    time.sleep(0.5)  # the queue opens after the first line: a broken start shows by now
    for worker in started:
        assert worker.process.poll() is None, f"worker ended at start:\n{worker.output()}"
    return started


def stop(started: list[Worker]) -> None:
    """SIGINT to each (graceful: a running job finishes first); each must exit by itself."""
    for worker in started:
        assert worker.process.poll() is None, (
            f"worker ended before it was stopped:\n{worker.output()}"
        )
        worker.process.send_signal(signal.SIGINT)
    for worker in started:
        try:
            code = worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker did not stop on SIGINT:\n{worker.output()}")
        assert code == 0, f"worker exited with {code}:\n{worker.output()}"


def worker_environment(platform_url: str, data_dir: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
    environ |= {
        "GOVSHARE_DATABASE_URL": platform_url,
        "GOVSHARE_CENTER_DATABASE_URL": platform_url,
        "GOVSHARE_DATA_DIR": str(data_dir),
    }
    return environ


def source_rows(seed: int) -> list[tuple[object, ...]]:
    return list(population_rows(ROWS, seed=seed, as_of=AS_OF))


def as_text(rows: list[tuple[object, ...]]) -> list[tuple[str | None, ...]]:
    """Rows as text forms, ordered by ID number: equal when the data is equal."""
    return sorted(tuple(text_form(v) for v in row) for row in rows)


def wait_until_done(engine: Engine, run_ids: list[int], started: list[Worker]) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        with engine.connect() as conn:
            open_runs = conn.execute(
                select(SyncRun.id).where(
                    SyncRun.id.in_(run_ids),
                    SyncRun.state.in_((RunState.QUEUED, RunState.RUNNING)),
                )
            ).all()
        if not open_runs:
            return
        for worker in started:
            assert worker.process.poll() is None, f"worker died:\n{worker.output()}"
        if time.monotonic() > deadline:
            logs = "\n".join(w.output() for w in started)
            pytest.fail(f"{len(open_runs)} runs still open after {DEADLINE} s:\n{logs}")
        time.sleep(0.2)


def entries(db: Session, action: str) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
    return list(db.execute(query).scalars())


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_workers_run_each_queued_run_exactly_once(
    backend: str, platform_url: str, tmp_path: Path, workers: list[Worker]
) -> None:
    began = time.monotonic()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    source_file = data_dir / "sources" / "population.db"
    source_file.parent.mkdir()
    expected: dict[str, list[tuple[str | None, ...]]] = {}
    for i in range(RESOURCES):
        rows = source_rows(seed=i)
        load_table(
            f"sqlite:///{source_file}", f"people_{i}", POPULATION_COLUMNS, rows, key="id_number"
        )
        expected[f"people_{i}"] = as_text(rows)

    settings = settings_for(data_dir, database_url=platform_url, center_database_url=platform_url)
    engine = make_engine(platform_url)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    with Session(engine, expire_on_commit=False) as db:
        w = sharing_world(db)
        source_directory(db, settings, w.provider.id, "sources")
        source = connections.register_connection(
            db,
            actor=w.provider_officer,
            settings=settings,
            data=ConnectionIn(
                name="公安人口库只读副本",
                role=ConnectionRole.SOURCE,
                kind=DatabaseKind.SQLITE,
                database="sources/population.db",
            ),
        )
        bound = {}
        for i in range(RESOURCES):
            resource = population_resource(w, name=f"人口基础信息（第{i + 1}批）")
            binding = bindings.save_binding(
                db,
                actor=w.provider_officer,
                settings=settings,
                data=population_binding_in(resource.id, source.id, f"people_{i}"),
            )
            # Synchronised on request only: the workers' minute ticks queue nothing more.
            bindings.set_binding_state(
                db, actor=w.provider_officer, binding_id=binding.id, state=BindingState.PAUSED
            )
            bound[binding.id] = (binding.center_table, resource.id, f"people_{i}")
        db.commit()
    prepared = time.monotonic()

    queue = jobs.job_queue(runtime)  # the queue the API hands runs to, on the same database
    try:
        started = start_workers(workers, tmp_path, worker_environment(platform_url, data_dir))
        with runtime.transaction() as db:
            run_ids = [
                runs.request_run(
                    db,
                    actor=w.provider_officer,
                    binding_id=binding_id,
                    kind=RunKind.FULL,
                    enqueue=queue.enqueue,
                ).id
                for binding_id in bound
            ]
        # handed to the queue once committed
        wait_until_done(engine, run_ids, started)
        worked = time.monotonic()
        stop(started)
        pending = [m.name for m in queue.huey.pending()]
    finally:
        queue.huey.storage.close()

    names = {worker.name for worker in started}
    with Session(engine) as db:
        done = db.execute(select(SyncRun).order_by(SyncRun.id)).scalars().all()
        assert sorted(r.id for r in done) == sorted(run_ids)  # no other run appeared
        assert sorted(r.binding_id for r in done) == sorted(bound)  # one per binding
        for run in done:
            assert run.state is RunState.SUCCEEDED, run.error
            assert run.kind is RunKind.FULL and run.worker in names
            assert (run.rows_read, run.rows_written, run.rows_rejected) == (ROWS, ROWS, 0)
            assert run.started_at and run.finished_at and run.started_at <= run.finished_at
        by_worker = Counter(r.worker for r in done)
        seconds = sorted(round(r.seconds or 0, 1) for r in done)
        assert set(by_worker) == names, f"only {dict(by_worker)} of {sorted(names)} took runs"

        # Exactly one claim per run, by the worker the run names; queued once, finished once.
        for action in ("exchange.run.queue", "exchange.run.start", "exchange.run.finish"):
            counted = Counter(e.object_id for e in entries(db, action))
            assert counted == {str(r.id): 1 for r in done}, action
        assert entries(db, "exchange.run.fail") == []
        claims = {
            e.object_id: json.loads(e.details)["worker"] for e in entries(db, "exchange.run.start")
        }
        assert claims == {str(r.id): r.worker for r in done}
        # One data update (freshness record) per run, on the run's resource.
        updates = db.execute(select(DataUpdate.resource_id, DataUpdate.note)).all()
        resource_of = {r.id: bound[r.binding_id][1] for r in done}
        assert sorted(updates) == sorted(
            (resource_of[run_id], f"库表同步 #{run_id}（全量同步），写入 {ROWS} 行")
            for run_id in run_ids
        )
    assert "exchange.run" not in pending  # nothing left for a worker to take again

    with engine.connect() as conn:
        for center_table, _, source_table in bound.values():
            columns = ", ".join(f'"{c}"' for c, _ in POPULATION_COLUMNS)
            got = conn.execute(text(f'SELECT {columns} FROM "center"."{center_table}"')).all()
            assert as_text([tuple(r) for r in got]) == expected[source_table], center_table
    engine.dispose()
    finished = time.monotonic()
    print(
        f"\n{backend}: setup {prepared - began:.1f} s, {RESOURCES} runs × {ROWS} rows by"
        f" {dict(by_worker)} in {worked - prepared:.1f} s (each {seconds}), checks"
        f" {finished - worked:.1f} s"
    )
