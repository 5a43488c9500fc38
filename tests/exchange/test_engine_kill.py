"""Exactly once under SIGKILL: a sync of 200,000 rows runs in a child process, is killed
part-way (a full run before its swap, an incremental run between batches), is started again,
and the target must then equal the source row for row."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from govshare.exchange.engine import SyncSpec, run_full, run_incremental
from tests.exchange.engine_child import PERSON, PG_DST, PG_SRC, ensure_pg, pg, spec_to_json

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
