"""Exactly once under SIGKILL: a sync of 200,000 rows runs in a child process, is killed
part-way (a full run before its swap, an incremental run between batches), is started again,
and the target must then equal the source row for row. And on the platform: the real
`govshare exchange sync` killed mid-copy can be rerun at once, while a live one cannot."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import select

from govshare.core import migrate
from govshare.core.audit.models import AuditEntry
from govshare.core.runtime import Runtime, build_runtime
from govshare.core.settings import load_settings
from govshare.exchange import jobs
from govshare.exchange.demo_data import POPULATION_COLUMNS, load_table, population_rows
from govshare.exchange.engine import SyncSpec, run_full, run_incremental
from govshare.exchange.masking import text_form
from govshare.exchange.models import (
    BindingState,
    ConnectionRole,
    DatabaseKind,
    RunState,
    SyncRun,
    TableBinding,
)
from govshare.exchange.schemas import ConnectionIn
from govshare.exchange.service import bindings, connections, runs
from govshare.identity.models import User
from govshare.web.app import create_app
from tests.conftest import BACKENDS, POSTGRES_URL
from tests.exchange.builders import population_binding_in, population_resource, source_directory
from tests.exchange.engine_child import PERSON, PG_DST, PG_SRC, ensure_pg, pg, spec_to_json
from tests.http import csrf_for, sign_in
from tests.sharing.builders import sharing_world

ROWS = 200_000
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def table() -> Iterator[str]:
    """A 200,000-row source table whose column types are exactly the target's, so a row's
    text is the same on both sides; updated_at ties in groups of 100 rows."""
    ensure_pg(PG_SRC)
    ensure_pg(PG_DST)
    name = f"k{uuid.uuid4().hex[:10]}"
    with pg(PG_SRC) as conn:
        conn.execute(
            f"CREATE TABLE {name} AS SELECT 'K' || lpad(g::text, 8, '0') AS id, "
            "'名字' || g || E'\\t' || (g % 7) AS name, DATE '1950-01-01' + g % 20000 AS born_on, "
            "(g % 1000)::numeric / 4 AS score, (g % 500) / 10.0::float8 AS height, "
            "g % 2 = 0 AS active, (g % 1000)::int AS visits, "
            "TIMESTAMP '2024-01-01' + (g / 100) * interval '1 second' AS updated_at, "
            f"g::bigint AS record_no FROM generate_series(1, {ROWS}) g"
        )
        conn.execute(f"CREATE INDEX ON {name} (updated_at)")
    yield name
    with pg(PG_SRC) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
    with pg(PG_DST) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def spec_for(name: str, batch_rows: int) -> SyncSpec:
    return SyncSpec(
        source_url=PG_SRC,
        source_query=None,
        source_table=name,
        target_url=PG_DST,
        target_schema=name,
        target_table="person",
        columns=PERSON,
        key=("id",),
        change_column="updated_at",
        state_name=name,
        batch_rows=batch_rows,
    )


def digest(url: str, table: str) -> tuple[int, str]:
    """Row count and an MD5 over every row's text in key order: equal means row-for-row equal."""
    names = ", ".join(c.name for c in PERSON)
    with pg(url) as conn:
        row = conn.execute(
            f"SELECT count(*), md5(string_agg(md5(t::text), '' ORDER BY t.id)) "
            f"FROM (SELECT {names} FROM {table}) AS t"
        ).fetchone()
    assert row is not None
    return row[0], row[1] or ""


def start(mode: str, spec: SyncSpec, delay: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.exchange.engine_child", mode, spec_to_json(spec), str(delay)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def kill(child: subprocess.Popen[str]) -> None:
    """SIGKILL after a random few milliseconds, so the blow lands at varying points of the
    work (a COPY block, an upsert, a commit), not always in the progress callback."""
    time.sleep(random.uniform(0, 0.04))
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL


def test_full_run_killed_before_its_swap_leaves_the_old_table_and_reruns_clean(table: str) -> None:
    spec = spec_for(table, batch_rows=5000)
    run_full(spec)
    with pg(PG_SRC) as conn:
        conn.execute(f"UPDATE {table} SET name = 'changed' WHERE record_no % 3 = 0")
        conn.execute(f"DELETE FROM {table} WHERE record_no % 7 = 0")
    old = digest(PG_DST, f"{table}.person")

    child = start("full", spec, delay=0.05)
    assert child.stdout is not None
    rows = 0
    while rows < 60_000:  # well into the load: past the first COPY blocks
        line = child.stdout.readline()
        assert line.startswith("rows "), f"child ended early: {line!r}"
        rows = int(line.split()[1])
    kill(child)

    assert digest(PG_DST, f"{table}.person") == old
    outcome = run_full(spec)
    assert outcome.rows_written == ROWS - ROWS // 7
    assert digest(PG_DST, f"{table}.person") == digest(PG_SRC, table)


def test_incremental_run_killed_between_batches_resumes_from_its_watermark(table: str) -> None:
    spec = spec_for(table, batch_rows=2000)
    run_full(spec)
    with pg(PG_SRC) as conn:
        conn.execute(
            f"UPDATE {table} SET name = 'changed', "
            "updated_at = TIMESTAMP '2024-06-01' + (record_no % 300) * interval '1 second' "
            "WHERE record_no % 5 = 0"
        )
        conn.execute(
            f"INSERT INTO {table} SELECT 'N' || lpad(g::text, 8, '0'), 'new', NULL, NULL, NULL, "
            "NULL, NULL, TIMESTAMP '2024-06-01' + (g % 300) * interval '1 second', g "
            "FROM generate_series(1, 10000) g"
        )
    changed = ROWS // 5 + 10_000

    child = start("incremental", spec, delay=0.05)
    deadline = time.monotonic() + 60
    state = None
    while time.monotonic() < deadline:
        with pg(PG_DST) as conn:
            state = conn.execute(
                f"SELECT mode, watermark, watermark_key FROM {table}.govshare_sync_state"
            ).fetchone()
        if state and state[0] == "incremental":
            break
        assert child.poll() is None, "child finished before it could be killed"
        time.sleep(0.01)
    kill(child)
    with pg(PG_DST) as conn:
        state = conn.execute(
            f"SELECT mode, watermark, watermark_key FROM {table}.govshare_sync_state"
        ).fetchone()
    assert state is not None and state[0] == "incremental"  # some batches committed...
    assert digest(PG_DST, f"{table}.person") != digest(PG_SRC, table)  # ...not all

    outcome = run_incremental(spec)

    assert outcome.mode == "incremental"
    assert outcome.watermark_before == state[1]
    assert 0 < outcome.rows_read < changed  # resumed where the killed run stopped
    assert digest(PG_DST, f"{table}.person") == digest(PG_SRC, table)


# --- a platform's sync killed: the run lock tells a dead run from a live one --------------
# The real `govshare exchange sync` runs in a child process on a platform database of this
# test's own (SQLite in the data directory, or a PostgreSQL database with the center as a
# schema in it), with no worker anywhere. Killed mid-copy, it leaves its run "running"; a
# rerun through the command line or the API must start at once and end with the center
# equal to the source. While the child lives, its lock makes every rerun a 409.

PLATFORM_ROWS = 12_000
BATCH = 400  # rows per batch in the child: 30 batches, each one slowed
AS_OF = datetime(2026, 7, 1)
GOVSHARE = Path(sys.executable).with_name("govshare")


@dataclass
class Platform:
    runtime: Runtime
    environ: dict[str, str]
    source_url: str
    code: str
    binding_id: int
    officer: str  # the provider's data officer's user name

    def center_rows(self) -> list[tuple[str | None, ...]]:
        """The center table's rows, read through its typed columns, as text forms."""
        with self.runtime.transaction() as db:
            binding = db.get(TableBinding, self.binding_id)
            assert binding is not None
            name, columns, key = binding.center_table, binding.columns, binding.key_columns
        table = self.runtime.center.table(name, columns, key)
        order = [c for c, _ in POPULATION_COLUMNS]
        with self.runtime.center.engine.connect() as conn:
            rows = conn.execute(select(*(table.c[c] for c in order))).all()
        return as_text([tuple(r) for r in rows])

    def load_source(self, rows: list[tuple[object, ...]]) -> list[tuple[str | None, ...]]:
        load_table(self.source_url, "population", POPULATION_COLUMNS, rows, key="id_number")
        return as_text(rows)


def as_text(rows: list[tuple[object, ...]]) -> list[tuple[str | None, ...]]:
    """Rows as text forms, in order: equal when the data is equal."""
    return sorted(tuple(text_form(v) for v in row) for row in rows)


def source_rows(count: int, *, drop_every: int = 0, seed: int = 0) -> list[tuple[object, ...]]:
    rows = list(population_rows(count, seed=seed, as_of=AS_OF))
    return [r for i, r in enumerate(rows) if not drop_every or i % drop_every]


@pytest.fixture(params=BACKENDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    """A migrated platform with the sharing cast and a population resource bound to a SQLite
    source in the data directory (paused: synchronised on request only)."""
    data_dir = tmp_path / "data"
    (data_dir / "sources").mkdir(parents=True)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
    environ["GOVSHARE_DATA_DIR"] = str(data_dir)
    admin = None
    if request.param == "postgresql":
        base = sa.make_url(POSTGRES_URL)
        url = base.set(database=f"{base.database}_kill")
        admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
        rendered = url.render_as_string(hide_password=False)
        environ["GOVSHARE_DATABASE_URL"] = environ["GOVSHARE_CENTER_DATABASE_URL"] = rendered
    settings = load_settings(environ=environ)
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.engine)
    source_url = f"sqlite:///{data_dir / 'sources' / 'population.db'}"
    load_table(source_url, "population", POPULATION_COLUMNS, source_rows(10), key="id_number")
    with runtime.transaction() as db:
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
        resource = population_resource(w)
        binding = bindings.save_binding(
            db,
            actor=w.provider_officer,
            settings=settings,
            data=population_binding_in(resource.id, source.id, "population"),
        )
        bindings.set_binding_state(
            db, actor=w.provider_officer, binding_id=binding.id, state=BindingState.PAUSED
        )
        officer = db.get(User, w.provider_officer.user_id)
        assert officer is not None
        made = Platform(runtime, environ, source_url, resource.code, binding.id, officer.username)
    try:
        yield made
    finally:
        if "center" in runtime.__dict__:
            runtime.center.engine.dispose()
        runtime.engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    """The child processes a test starts: none outlives it."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for child in started:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)


def sync_child(
    p: Platform, started: list[subprocess.Popen[str]], delay: float, go: Path | None = None
) -> subprocess.Popen[str]:
    """`govshare exchange sync CODE --kind full` in a child, slowed (until `go` exists);
    returns once it has copied a few batches (mid-copy)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.exchange.engine_child", "cli", p.code, str(delay), str(BATCH)]
        + ([str(go)] if go else []),
        cwd=ROOT,
        env=p.environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(child)
    assert child.stderr is not None
    rows = 0
    while rows < 3 * BATCH:
        line = child.stderr.readline()
        if not line:
            pytest.fail(f"the sync ended before it could be caught mid-copy: {child.wait()}")
        if line.startswith("rows "):
            rows = int(line.split()[1])
    return child


def the_cli(p: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GOVSHARE), *args], env=p.environ, capture_output=True, text=True, timeout=120
    )


def open_run(p: Platform) -> SyncRun:
    with p.runtime.transaction() as db:
        [run] = db.execute(
            select(SyncRun).where(
                SyncRun.binding_id == p.binding_id,
                SyncRun.state.in_((RunState.QUEUED, RunState.RUNNING)),
            )
        ).scalars()
        return run


def signed_in(p: Platform) -> tuple[TestClient, dict[str, str]]:
    app = create_app(p.runtime)
    client = TestClient(app)
    assert sign_in(client, p.officer).status_code == 200
    return client, csrf_for(app, client)


def test_a_killed_full_sync_is_rerun_at_once_by_the_cli_and_the_api(
    platform: Platform, children: list[subprocess.Popen[str]]
) -> None:
    p = platform
    first = p.load_source(source_rows(PLATFORM_ROWS))
    assert the_cli(p, "exchange", "sync", p.code, "--kind", "full").returncode == 0
    assert p.center_rows() == first

    # Killed mid-copy: the run stays "running", the center keeps the last full copy.
    second = p.load_source(source_rows(PLATFORM_ROWS + 1000, drop_every=7))
    kill(sync_child(p, children, delay=0.2))
    killed = open_run(p)
    assert killed.state is RunState.RUNNING and killed.rows_read > 0
    assert p.center_rows() == first

    # At once, with no worker: the command line fails the dead run and syncs.
    rerun = the_cli(p, "exchange", "sync", p.code, "--kind", "full")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert p.center_rows() == second
    with p.runtime.transaction() as db:
        dead = db.get(SyncRun, killed.id)
        assert dead is not None and dead.state is RunState.FAILED
        assert dead.error == runs.OWNER_DEAD
        [entry] = db.execute(
            select(AuditEntry).where(
                AuditEntry.action == "exchange.run.stalled", AuditEntry.object_id == str(killed.id)
            )
        ).scalars()
        assert json.loads(entry.details)["error"] == runs.OWNER_DEAD

    # Again, and this time the rerun comes through the API; the queue is worked here.
    third = p.load_source(source_rows(PLATFORM_ROWS, drop_every=5, seed=3))
    kill(sync_child(p, children, delay=0.2))
    killed = open_run(p)
    assert killed.state is RunState.RUNNING
    queue = jobs.job_queue(p.runtime)
    try:
        client, headers = signed_in(p)
        with client:
            asked = client.post(
                f"/api/v1/exchange/bindings/{p.binding_id}/runs",
                json={"kind": "full"},
                headers=headers,
            )
        assert asked.status_code == 202, asked.text
        task = queue.huey.dequeue()
        assert task is not None
        assert queue.huey.execute(task) == f"run {asked.json()['id']}: succeeded"
    finally:
        queue.huey.storage.close()
    assert p.center_rows() == third
    with p.runtime.transaction() as db:
        dead = db.get(SyncRun, killed.id)
        assert dead is not None and dead.state is RunState.FAILED


def test_a_live_sync_holds_its_lock_so_a_rerun_is_refused(
    platform: Platform, children: list[subprocess.Popen[str]]
) -> None:
    p = platform
    rows = p.load_source(source_rows(PLATFORM_ROWS))
    go = p.runtime.settings.data_dir / "go"
    child = sync_child(p, children, delay=5.0, go=go)  # slow until the reruns were tried
    running = open_run(p)
    assert running.state is RunState.RUNNING

    client, headers = signed_in(p)
    with client:
        asked = client.post(
            f"/api/v1/exchange/bindings/{p.binding_id}/runs", json={"kind": "full"}, headers=headers
        )
    assert asked.status_code == 409, asked.text
    assert "该同步任务正在排队或运行中" in asked.json()["detail"]
    refused = the_cli(p, "exchange", "sync", p.code, "--kind", "full")
    assert refused.returncode != 0 and "该同步任务正在排队或运行中" in refused.stderr
    assert child.poll() is None, "the live sync ended before the reruns were tried"
    assert open_run(p).id == running.id  # still the live one's, untouched

    go.touch()
    assert child.stderr is not None
    child.stderr.read()
    assert child.wait(timeout=120) == 0
    with p.runtime.transaction() as db:
        done = db.get(SyncRun, running.id)
        assert done is not None and done.state is RunState.SUCCEEDED
    assert p.center_rows() == rows
