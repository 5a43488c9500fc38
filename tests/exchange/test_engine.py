"""The table sync engine against real PostgreSQL, MariaDB and SQLite: full, incremental and
compare-keys runs in every direction, rejected rows, checksums, progress and cancellation."""

from __future__ import annotations

import gc
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pymysql
import pytest
from hypothesis import given
from hypothesis import strategies as st

from govshare.exchange import engine
from govshare.exchange.engine import (
    Cancelled,
    Column,
    ConnectionFailed,
    SourceFailed,
    SyncBusy,
    SyncSpec,
    TypeMismatch,
    run_compare_keys,
    run_full,
    run_incremental,
)
from govshare.exchange.engine.copytext import decode_field, escape
from govshare.exchange.engine.model import RejectLog
from govshare.exchange.engine.mysql import MySqlSource, MySqlTarget
from govshare.exchange.engine.postgres import PgTarget
from govshare.exchange.engine.sync import _Reader, _Spill
from tests.exchange.engine_child import (
    MYSQL,
    MYSQL_PERSON,
    PERSON,
    PG_DST,
    PG_PERSON,
    PG_SRC,
    SQLITE_PERSON,
    ensure_mysql,
    ensure_pg,
    fetch,
    insert_mysql,
    insert_pg,
    insert_sqlite,
    mysql,
    person_rows,
    pg,
    spec_to_json,
)

NAMES = ", ".join(c.name for c in PERSON)
LATER = "2024-03-02 09:30:00"


@pytest.fixture(scope="module", autouse=True)
def databases() -> None:
    ensure_pg(PG_SRC)
    ensure_pg(PG_DST)
    ensure_mysql(MYSQL)


@pytest.fixture
def name() -> Iterator[str]:
    """A fresh name: source tables `<name>` in gs_engine_src and gs_engine, target schema
    `<name>` in gs_engine_dst (or table `<name>_t` in MariaDB); all dropped afterwards."""
    label = f"e{uuid.uuid4().hex[:10]}"
    yield label
    with pg(PG_SRC) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {label}")
    with pg(PG_DST) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {label} CASCADE")
    conn = mysql()
    with conn.cursor() as cur:
        cur.execute(f"SHOW TABLES LIKE '{label}%'")
        for (table,) in cur.fetchall():
            cur.execute(f"DROP TABLE `{table}`")
        if _has_state(cur):
            cur.execute("DELETE FROM govshare_sync_state WHERE name LIKE %s", (f"{label}%",))
    conn.close()


def _has_state(cur: pymysql.cursors.Cursor) -> bool:
    cur.execute("SHOW TABLES LIKE 'govshare_sync_state'")
    return bool(cur.fetchall())


def pg_source(name: str, rows: list[tuple], ddl: str = PG_PERSON) -> None:
    with pg(PG_SRC) as conn:
        conn.execute(f"CREATE TABLE {name} ({ddl})")
    insert_pg(PG_SRC, name, rows, ", ".join(part.split()[0] for part in ddl.split(", ")))


def spec_for(name: str, **changes: object) -> SyncSpec:
    spec = SyncSpec(
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
        batch_rows=64,
    )
    return replace(spec, **changes)


def target_rows(spec: SyncSpec) -> list[tuple]:
    table = f"{spec.target_schema}.{spec.target_table}" if spec.target_schema else spec.target_table
    return fetch(spec.target_url, table, spec.columns)


def source_rows(spec: SyncSpec) -> list[tuple]:
    return fetch(spec.source_url, spec.source_table, spec.columns)


def pg_state(spec: SyncSpec) -> tuple | None:
    with pg(PG_DST) as conn:
        return conn.execute(
            f"SELECT mode, watermark, watermark_key FROM {spec.target_schema}.govshare_sync_state "
            "WHERE name = %s",
            (spec.state_name,),
        ).fetchone()


def touch_pg(name: str, where: str, stamp: str = LATER) -> None:
    with pg(PG_SRC) as conn:
        conn.execute(
            f"UPDATE {name} SET updated_at = %s, name = 'changed ' || id "
            f"WHERE {where.replace('%', '%%')}",
            (stamp,),
        )


# --- PostgreSQL → PostgreSQL ---------------------------------------------------------------


def test_full_copies_every_row_and_sets_the_watermark(name: str) -> None:
    pg_source(name, person_rows(500))
    spec = spec_for(name)

    outcome = run_full(spec)

    assert (outcome.mode, outcome.rows_read, outcome.rows_written) == ("full", 500, 500)
    assert outcome.rows_rejected == 0 and outcome.rejected == []
    assert outcome.watermark_before is None
    assert outcome.watermark_after == "2024-03-01 08:00:00"
    assert target_rows(spec) == source_rows(spec)
    assert pg_state(spec) == ("full", "2024-03-01 08:00:00", None)


def test_full_run_replaces_the_target_and_drops_a_leftover_load_table(name: str) -> None:
    pg_source(name, person_rows(100))
    spec = spec_for(name)
    run_full(spec)
    with pg(PG_SRC) as conn:
        conn.execute(f"DELETE FROM {name} WHERE record_no <= 30")
    insert_pg(PG_SRC, name, person_rows(20, start=1000), NAMES)
    with pg(PG_DST) as conn:  # what a run killed before its swap would leave behind
        conn.execute(f"CREATE TABLE {name}.person__load (junk int)")

    outcome = run_full(spec)

    assert outcome.rows_written == 90
    assert target_rows(spec) == source_rows(spec)
    with pg(PG_DST) as conn:
        assert conn.execute(f"SELECT to_regclass('{name}.person__load')").fetchone() == (None,)


def test_incremental_upserts_rows_changed_since_the_watermark(name: str) -> None:
    pg_source(name, person_rows(200))
    spec = spec_for(name)
    run_full(spec)
    touch_pg(name, "record_no % 20 = 0")
    insert_pg(PG_SRC, name, person_rows(5, start=500, stamp=LATER), NAMES)

    outcome = run_incremental(spec)

    assert (outcome.mode, outcome.rows_read, outcome.rows_written) == ("incremental", 15, 15)
    assert outcome.watermark_before == "2024-03-01 08:00:00"
    assert outcome.watermark_after == LATER
    assert pg_state(spec) == ("incremental", LATER, None)  # window done: no key to resume at
    assert target_rows(spec) == source_rows(spec)
    assert run_incremental(spec).rows_read == 0


def test_incremental_resumes_exactly_inside_a_tie_on_the_change_value(name: str) -> None:
    pg_source(name, person_rows(40))
    spec = spec_for(name, batch_rows=4)
    run_full(spec)
    touch_pg(name, "record_no % 5 = 0")  # 8 updated rows...
    insert_pg(
        PG_SRC, name, person_rows(50, start=100, stamp=LATER), NAMES
    )  # ...and 50 new, one tie
    calls: list[int] = []

    def cancel_after_three() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        run_incremental(spec, cancel=cancel_after_three)
    mode, watermark, watermark_key = pg_state(spec) or ()
    assert (mode, watermark) == ("incremental", LATER)  # stopped in the middle of the tie
    changed = [r for r in source_rows(spec) if r[7] == LATER]
    done = [r for r in changed if r[0] <= watermark_key.strip('[]"')]
    assert len(changed) == 58 and 0 < len(done) < 58

    outcome = run_incremental(spec)

    assert outcome.rows_read == 58 - len(done)
    assert target_rows(spec) == source_rows(spec)


def test_incremental_without_a_watermark_runs_full(name: str) -> None:
    pg_source(name, person_rows(30))
    spec = spec_for(name)

    outcome = run_incremental(spec)

    assert (outcome.mode, outcome.rows_written) == ("full", 30)
    assert target_rows(spec) == source_rows(spec)


def test_a_change_of_columns_forces_a_full_run(name: str) -> None:
    pg_source(name, person_rows(30))
    spec = spec_for(name)
    run_full(spec)
    narrower = replace(spec, columns=PERSON[:3] + PERSON[7:8])

    assert run_incremental(narrower).mode == "full"
    assert run_incremental(narrower).mode == "incremental"


def test_compare_keys_deletes_rows_gone_from_the_source(name: str) -> None:
    pg_source(name, person_rows(120))
    spec = spec_for(name)
    run_full(spec)
    with pg(PG_SRC) as conn:
        conn.execute(f"DELETE FROM {name} WHERE record_no % 17 = 3")

    outcome = run_compare_keys(spec)

    assert (outcome.mode, outcome.rows_read, outcome.rows_deleted) == ("compare_keys", 113, 7)
    assert outcome.watermark_after == outcome.watermark_before == "2024-03-01 08:00:00"
    assert target_rows(spec) == source_rows(spec)


def test_null_and_duplicate_keys_are_rejected_keeping_the_newest_row(name: str) -> None:
    rows = person_rows(50)
    rows[3] = (None, *rows[3][1:])
    rows[4] = (None, *rows[4][1:])
    newest = ("P00000010", "newest", *rows[9][2:7], datetime(2024, 3, 5), 9999)
    rows += [newest, ("P00000010", "older", *rows[9][2:8], 9998)]
    pg_source(name, rows)

    outcome = run_full(spec_for(name))

    reasons = sorted(r.reason for r in outcome.rejected)
    assert reasons == ["主键为空", "主键为空", "主键重复", "主键重复"]
    assert (outcome.rows_read, outcome.rows_written, outcome.rows_rejected) == (52, 48, 4)
    kept = [r for r in target_rows(spec_for(name)) if r[0] == "P00000010"]
    assert [r[1] for r in kept] == ["newest"]
    duplicate = next(r for r in outcome.rejected if r.reason == "主键重复")
    assert duplicate.key == "P00000010" and '"id": "P00000010"' in duplicate.row


def test_duplicate_keys_in_an_incremental_batch_keep_one_row_by_content(name: str) -> None:
    pg_source(name, person_rows(10))
    spec = spec_for(name)
    run_full(spec)
    tie = datetime(2024, 3, 3)
    template = person_rows(1)[0]
    rows = [
        ("P00000500", "first", *template[2:7], tie, 1),
        ("P00000500", "second", *template[2:7], tie, 2),
        ("P00000600", "older", *template[2:7], tie, 3),
        ("P00000600", "newer", *template[2:7], datetime(2024, 3, 4), 4),
    ]
    insert_pg(PG_SRC, name, rows, NAMES)

    outcome = run_incremental(spec)

    # A snapshot holding one key twice is a defect whatever the change values; the newest
    # row (or, on a tie, the greater row text) is the one kept.
    assert sorted((r.key, r.reason) for r in outcome.rejected) == [
        ("P00000500", "主键重复"),
        ("P00000600", "主键重复"),
    ]
    names = {r[0]: r[1] for r in target_rows(spec)}
    assert (names["P00000500"], names["P00000600"]) == ("second", "newer")


def test_values_out_of_the_target_range_are_rejected_with_the_value(name: str) -> None:
    ddl = (
        "id text, visits bigint, height double precision, born_on timestamptz, updated_at timestamp"
    )
    columns = (
        Column("id", "text"),
        Column("visits", "integer"),
        Column("height", "double"),
        Column("born_on", "date"),
        Column("updated_at", "timestamp"),
    )
    ts = datetime(2024, 1, 1)
    rows = [
        ("a", 1, 1.5, "2000-01-01 00:00+00", ts),
        ("b", 3_000_000_000, 1.5, "2000-01-01 00:00+00", ts),
        ("c", 2, float("nan"), "2000-01-01 00:00+00", ts),
        ("d", 3, 2.5, "infinity", ts),
    ]
    pg_source(name, rows, ddl)
    spec = spec_for(name, columns=columns)

    outcome = run_full(spec)

    assert {r.reason for r in outcome.rejected} == {
        "整数超出范围：3000000000",
        "数值无效：NaN",
        "时间值超出范围：infinity",
    }
    assert [r[0] for r in target_rows(spec)] == ["a"]


def test_masked_source_query_is_synced_as_written(name: str) -> None:
    pg_source(name, person_rows(20))
    query = (
        f"SELECT id, left(name, 1) || '**' AS name, born_on, score, height, active, visits, "
        f"updated_at, record_no FROM {name} WHERE visits % 2 = 0"
    )
    spec = spec_for(name, source_query=query)

    outcome = run_full(spec)

    assert outcome.rows_written == 10
    assert {r[1] for r in target_rows(spec)} <= {
        "张**",
        "李**",
        "O**",
        "t**",
        "l**",
        "b**",
        "**",
        None,
    }


def test_a_source_column_of_another_type_is_a_clear_error(name: str) -> None:
    pg_source(name, [("a", "not a date")], "id text, born_on text")
    spec = spec_for(
        name, columns=(Column("id", "text"), Column("born_on", "date")), change_column=None
    )

    with pytest.raises(TypeMismatch, match="born_on"):
        run_full(spec)


def test_checksum_is_stable_for_the_same_data_and_changes_with_it(name: str) -> None:
    pg_source(name, person_rows(80))
    spec = spec_for(name)
    first = run_full(spec).checksum
    with pg(PG_SRC) as conn:  # same rows, another physical order
        conn.execute(f"CREATE TABLE {name}_copy AS SELECT * FROM {name} ORDER BY id DESC")
    try:
        reordered = run_full(spec_for(name, source_table=f"{name}_copy")).checksum
    finally:
        with pg(PG_SRC) as conn:
            conn.execute(f"DROP TABLE {name}_copy")
    touch_pg(name, "record_no = 7")

    assert reordered == first
    assert run_full(spec).checksum != first


def test_progress_reports_rows_read_at_every_batch(name: str) -> None:
    pg_source(name, person_rows(300))
    seen: list[int] = []

    run_full(spec_for(name, batch_rows=50), progress=seen.append)

    assert seen == sorted(seen) and seen[-1] == 300
    assert len(seen) >= 300 // 50


def test_cancel_before_the_swap_keeps_the_old_target(name: str) -> None:
    pg_source(name, person_rows(200))
    spec = spec_for(name, batch_rows=20)
    run_full(spec)
    before = target_rows(spec)
    with pg(PG_SRC) as conn:
        conn.execute(f"DELETE FROM {name} WHERE record_no > 100")
    asked: list[int] = []

    with pytest.raises(Cancelled):
        run_full(spec, cancel=lambda: bool(asked.append(1)) or len(asked) > 2)

    assert target_rows(spec) == before
    assert pg_state(spec) == ("full", "2024-03-01 08:00:00", None)


def test_a_second_run_of_the_same_sync_is_refused(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_source(name, person_rows(5))
    spec = spec_for(name)
    monkeypatch.setattr(PgTarget, "lock_wait", 0.2)
    holder = PgTarget(spec, RejectLog())  # a run in progress
    holder.open()
    try:
        with pytest.raises(SyncBusy, match="正在运行"):
            run_full(spec)
    finally:
        holder.close()
    assert run_full(spec).rows_written == 5  # free again once it ends


def test_a_missing_source_table_is_a_chinese_source_error(name: str) -> None:
    with pytest.raises(SourceFailed, match=r"读取源数据失败.*表或视图不存在"):
        run_full(spec_for(name))


# --- MariaDB as a source ----------------------------------------------------------------------


def mysql_source(name: str, rows: list[tuple], ddl: str = MYSQL_PERSON) -> None:
    conn = mysql()
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} ({ddl}) DEFAULT CHARSET=utf8mb4")
    conn.close()
    insert_mysql(name, rows, ", ".join(part.split()[0] for part in ddl.split(", ")))


def test_mysql_source_reaches_postgresql_with_exact_escaping(name: str) -> None:
    rows = person_rows(64)
    rows.append(("P99", "\\N", None, Decimal("0.00"), 0.1, True, -5, datetime(2024, 3, 1, 8), -1))
    rows.append(("P98", "\t\n\r\\\\t", None, None, None, None, None, datetime(2024, 3, 1, 8), None))
    mysql_source(name, rows)
    spec = spec_for(name, source_url=MYSQL)

    outcome = run_full(spec)

    assert (outcome.rows_written, outcome.rows_rejected) == (66, 0)
    assert outcome.watermark_after == "2024-03-01 08:00:00.000000"
    assert target_rows(spec) == source_rows(spec)
    texts = {r[0]: r[1] for r in target_rows(spec)}
    assert (texts["P99"], texts["P98"], texts["P00000006"]) == ("\\N", "\t\n\r\\\\t", "")


def test_mysql_text_in_other_character_sets_arrives_as_utf8(name: str) -> None:
    conn = mysql()
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {name} (id VARCHAR(10) CHARACTER SET latin1, "
            "zh VARCHAR(20) CHARACTER SET gbk, de VARCHAR(20) CHARACTER SET latin1, note TEXT)"
        )
        cur.executemany(
            f"INSERT INTO {name} VALUES (%s, %s, %s, %s)",
            [("a", "张伟\t信州区", "Müller\\x", "ÿþ\n"), ("b", None, "", None)],
        )
    conn.close()
    columns = tuple(Column(n, "text") for n in ("id", "zh", "de", "note"))

    outcome = run_full(spec_for(name, source_url=MYSQL, columns=columns, change_column=None))

    assert outcome.rows_written == 2
    assert target_rows(spec_for(name, columns=columns, change_column=None)) == [
        ("a", "张伟\t信州区", "Müller\\x", "ÿþ\n"),
        ("b", None, "", None),
    ]


def test_mysql_zero_dates_and_nul_bytes_are_rejected(name: str) -> None:
    ddl = "id VARCHAR(10), name TEXT, born_on DATE NOT NULL, updated_at DATETIME(6)"
    columns = (
        Column("id", "text"),
        Column("name", "text"),
        Column("born_on", "date"),
        Column("updated_at", "timestamp"),
    )
    conn = mysql()
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} ({ddl})")
        cur.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
        cur.executemany(
            f"INSERT INTO {name} VALUES (%s, %s, %s, '2024-01-01')",
            [
                ("ok", "好", "2000-01-31"),
                ("zero", "z", "0000-00-00"),
                ("feb30", "f", "2023-02-30"),
                ("nul", "a\x00b", "2000-01-01"),
                (None, "no key", "2000-01-01"),
            ],
        )
    conn.close()
    spec = spec_for(name, source_url=MYSQL, columns=columns)

    outcome = run_full(spec)

    assert {(r.key, r.reason) for r in outcome.rejected} == {
        ("zero", "日期值无效：0000-00-00"),
        ("feb30", "日期值无效：2023-02-30"),
        ("nul", "文本含空字符（\\0）"),
        ("", "主键为空"),
    }
    assert (outcome.rows_read, outcome.rows_written) == (5, 1)
    assert [r[0] for r in target_rows(spec)] == ["ok"]


def test_mysql_source_incremental_and_compare_keys(name: str) -> None:
    mysql_source(name, person_rows(90))
    spec = spec_for(name, source_url=MYSQL, batch_rows=7)
    run_full(spec)
    conn = mysql()
    with conn.cursor() as cur:
        cur.execute(
            f"UPDATE {name} SET name = 'changed', updated_at = %s WHERE record_no %% 9 = 0",
            (LATER,),
        )
        cur.execute(f"DELETE FROM {name} WHERE record_no % 10 = 1")
    conn.close()
    insert_mysql(name, person_rows(12, start=300, stamp=LATER), NAMES)

    incremental = run_incremental(spec)
    deleted = run_compare_keys(spec)

    assert (incremental.mode, incremental.rows_written) == ("incremental", 21)
    assert deleted.rows_deleted == 9
    assert target_rows(spec) == source_rows(spec)


# --- other targets ----------------------------------------------------------------------------


def test_postgresql_to_sqlite_full_incremental_and_compare(name: str, tmp_path: Path) -> None:
    pg_source(name, person_rows(150))
    spec = spec_for(name, target_url=f"sqlite:///{tmp_path / 'center.db'}", target_schema=None)
    run_full(spec)
    touch_pg(name, "record_no % 10 = 0")
    with pg(PG_SRC) as conn:
        conn.execute(f"DELETE FROM {name} WHERE record_no % 25 = 1")

    assert run_incremental(spec).rows_written == 15
    assert run_compare_keys(spec).rows_deleted == 6
    assert target_rows(spec) == source_rows(spec)


def test_postgresql_to_mysql_full_incremental_and_compare(name: str) -> None:
    pg_source(name, person_rows(150))
    spec = spec_for(name, target_url=MYSQL, target_schema=None, target_table=f"{name}_t")
    run_full(spec)
    touch_pg(name, "record_no % 10 = 0")
    with pg(PG_SRC) as conn:
        conn.execute(f"DELETE FROM {name} WHERE record_no % 25 = 1")

    assert run_incremental(spec).rows_written == 15
    assert run_compare_keys(spec).rows_deleted == 6
    assert target_rows(spec) == source_rows(spec)
    assert run_full(spec).rows_written == 144  # a second full run renames over the first


@pytest.mark.parametrize("target", ["mysql", "sqlite"])
def test_duplicate_keys_are_removed_after_a_full_load_on_every_target(
    name: str, target: str, tmp_path: Path
) -> None:
    rows = person_rows(30)
    rows.append(("P00000005", "newest", *rows[4][2:7], datetime(2024, 3, 9), 5))
    pg_source(name, rows)
    url = MYSQL if target == "mysql" else f"sqlite:///{tmp_path / 'center.db'}"
    spec = spec_for(name, target_url=url, target_schema=None, target_table=f"{name}_t")

    outcome = run_full(spec)

    assert [(r.key, r.reason) for r in outcome.rejected] == [("P00000005", "主键重复")]
    assert (outcome.rows_read, outcome.rows_written) == (31, 30)
    assert [r[1] for r in target_rows(spec) if r[0] == "P00000005"] == ["newest"]


def test_rejections_are_all_counted_but_only_the_first_thousand_kept(name: str) -> None:
    pg_source(name, [(None, *row[1:]) for row in person_rows(1200)] + person_rows(3))

    outcome = run_full(spec_for(name))

    assert (outcome.rows_rejected, len(outcome.rejected), outcome.rows_written) == (1200, 1000, 3)


def test_mysql_target_killed_between_rename_and_state_loses_nothing(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_source(name, person_rows(60))
    spec = spec_for(name, target_url=MYSQL, target_schema=None, target_table=f"{name}_t")
    run_full(spec)
    touch_pg(name, "record_no % 6 = 0")
    insert_pg(PG_SRC, name, person_rows(4, start=900, stamp=LATER), NAMES)

    def killed(*_: object) -> None:
        raise KeyboardInterrupt  # stands for SIGKILL right after the RENAME

    with monkeypatch.context() as patch:
        patch.setattr(MySqlTarget, "_write_state", killed)
        with pytest.raises(KeyboardInterrupt):
            run_full(spec)

    outcome = run_incremental(spec)

    assert outcome.watermark_before == "2024-03-01 08:00:00"  # the old state survived
    assert outcome.rows_written == 14  # re-applied onto the new table, harmlessly
    assert target_rows(spec) == source_rows(spec)


def test_sqlite_source_checks_values_in_python(name: str, tmp_path: Path) -> None:
    path = tmp_path / "source.db"
    lite = sqlite3.connect(path)
    lite.execute(f"CREATE TABLE person ({SQLITE_PERSON})")
    lite.close()
    insert_sqlite(path, "person", person_rows(40), NAMES)
    insert_sqlite(
        path,
        "person",
        [
            ("bad1", "x", "2024-13-01", "1", 1.0, 1, 1, "2024-03-01 08:00:00", 1),
            ("bad2", "x", None, "1", 1.0, 1, "many", "2024-03-01 08:00:00", 1),
            (None, "x", None, "1", 1.0, 1, 1, "2024-03-01 08:00:00", 1),
        ],
        NAMES,
    )
    spec = spec_for(name, source_url=f"sqlite:///{path}", source_table="person")

    outcome = run_full(spec)

    assert {(r.key, r.reason) for r in outcome.rejected} == {
        ("bad1", "日期值无效：2024-13-01"),
        ("bad2", "整数值无效：many"),
        ("", "主键为空"),
    }
    assert (outcome.rows_read, outcome.rows_written) == (43, 40)
    lite = sqlite3.connect(path)
    lite.execute("DELETE FROM person WHERE id LIKE 'bad%' OR id IS NULL")
    lite.execute(f"UPDATE person SET name = 'changed', updated_at = '{LATER}' WHERE visits % 4 = 0")
    lite.commit()
    lite.close()
    assert run_incremental(spec).rows_written == 10
    assert target_rows(spec) == source_rows(spec)


# --- connections and introspection -------------------------------------------------------------


def test_connection_reports_the_server_version() -> None:
    assert "PostgreSQL" in engine.test_connection(PG_SRC)
    assert "MariaDB" in engine.test_connection(MYSQL)


def test_connection_failures_are_chinese_and_never_show_the_password() -> None:
    with pytest.raises(ConnectionFailed) as refused:
        engine.test_connection("postgresql+psycopg://postgres:Secr3tPw@127.0.0.1:1/gs_engine_src")
    with pytest.raises(ConnectionFailed) as denied:
        engine.test_connection("mysql+pymysql://root:Secr3tPw@127.0.0.1:3306/gs_engine")

    assert "无法连接数据库 127.0.0.1:1/gs_engine_src：连接被拒绝" in refused.value.message
    assert "用户名或密码错误" in denied.value.message
    for error in (refused.value, denied.value):
        assert "Secr3tPw" not in error.message and "Secr3tPw" not in error.detail


def test_list_columns_maps_each_dialect_to_portable_types(name: str, tmp_path: Path) -> None:
    pg_source(
        name,
        [],
        "id varchar(10), n int2, big int8, amount numeric(8,2), at timestamptz, ok boolean, tag uuid",
    )
    conn = mysql()
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {name} (id CHAR(3), flag TINYINT(1), n INT UNSIGNED, big BIGINT UNSIGNED, "
            "amount DECIMAL(8,2), at DATETIME, day DATE, t TIME)"
        )
    conn.close()
    lite = sqlite3.connect(tmp_path / "s.db")
    lite.execute(
        "CREATE TABLE t (id TEXT, n INTEGER, x REAL, d DATE, at DATETIME, amount DECIMAL(8,2))"
    )
    lite.close()

    def types(url: str, table: str) -> list[str]:
        return [c.type for c in engine.list_columns(url, table)]

    assert types(PG_SRC, name) == [
        "text",
        "integer",
        "bigint",
        "numeric",
        "timestamp",
        "boolean",
        "text",
    ]
    assert types(MYSQL, name) == [
        "text",
        "boolean",
        "bigint",
        "numeric",
        "numeric",
        "timestamp",
        "date",
        "text",
    ]
    assert types(f"sqlite:///{tmp_path / 's.db'}", "t") == [
        "text",
        "bigint",
        "double",
        "date",
        "timestamp",
        "numeric",
    ]
    with pytest.raises(SourceFailed, match="不存在"):
        engine.list_columns(PG_SRC, f"{name}_missing")


@pytest.mark.parametrize(
    "change",
    [
        {"target_table": "person; DROP TABLE x"},
        {"columns": (Column("id", "text"), Column("updated_at", "timestamp"))} | {"key": ("nope",)},
        {"key": ()},
        {"change_column": "name"},
        {"source_table": "a.b.c"},
    ],
)
def test_invalid_names_and_keys_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        spec_for("valid", **change)


def test_column_names_must_be_plain_identifiers() -> None:
    with pytest.raises(ValueError, match="not a valid identifier"):
        Column("姓名", "text")
    with pytest.raises(ValueError, match="type"):
        Column("name", "varchar")


@given(st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=("Cs",))))
def test_copy_text_escaping_round_trips_any_text(text: str) -> None:
    assert decode_field(escape(text).encode()) == text
    assert b"\t" not in escape(text).encode() and b"\n" not in escape(text).encode()


# --- incremental windows: one transaction read while written, or ordered batches ----------------


def _target_url(target: str, tmp_path: Path) -> str:
    return {"postgresql": PG_DST, "mysql": MYSQL, "sqlite": f"sqlite:///{tmp_path / 'c.db'}"}[
        target
    ]


def _state_of(spec: SyncSpec) -> tuple | None:
    if spec.target_url.startswith("postgresql"):
        return pg_state(spec)
    sql = "SELECT mode, watermark, watermark_key FROM govshare_sync_state WHERE name = "
    if spec.target_url.startswith("mysql"):
        conn = mysql()
        with conn.cursor() as cur:
            cur.execute(sql + "%s", (spec.state_name,))
            row = cur.fetchone()
        conn.close()
        return row
    lite = sqlite3.connect(spec.target_url.removeprefix("sqlite:///"))
    row = lite.execute(sql + "?", (spec.state_name,)).fetchone()
    lite.close()
    return row


@pytest.mark.parametrize("target", ["postgresql", "mysql", "sqlite"])
def test_a_window_within_one_batch_is_written_whole_or_not_at_all(
    name: str, target: str, tmp_path: Path
) -> None:
    pg_source(name, person_rows(150))
    spec = spec_for(name, target_url=_target_url(target, tmp_path), batch_rows=1000)
    if target != "postgresql":
        spec = replace(spec, target_schema=None, target_table=f"{name}_t")
    run_full(spec)
    before, state = target_rows(spec), _state_of(spec)
    touch_pg(name, "record_no % 3 = 0")
    insert_pg(PG_SRC, name, person_rows(20, start=700, stamp=LATER), NAMES)
    asked: list[int] = []

    # The first question is asked before the run reads; the second once every row of the
    # window has been upserted, before the commit.
    with pytest.raises(Cancelled):
        run_incremental(spec, cancel=lambda: bool(asked.append(1)) or len(asked) > 1)

    assert len(asked) == 2
    assert target_rows(spec) == before and _state_of(spec) == state
    outcome = run_incremental(spec)
    assert (outcome.mode, outcome.rows_read, outcome.rows_written) == ("incremental", 70, 70)
    assert _state_of(spec) == ("incremental", LATER, None)
    assert target_rows(spec) == source_rows(spec)


@pytest.mark.parametrize("source", ["mysql", "sqlite"])
def test_a_window_larger_than_a_batch_is_written_in_ordered_batches(
    name: str, source: str, tmp_path: Path
) -> None:
    """The window is read once unordered, found to exceed a batch, and read again in (change,
    key) order; the batches then commit one by one, each with its watermark, and what the
    first reading saw is neither written nor counted."""
    if source == "mysql":
        mysql_source(name, person_rows(60))
        spec = spec_for(name, source_url=MYSQL, batch_rows=8)
    else:
        path = tmp_path / "source.db"
        lite = sqlite3.connect(path)
        lite.execute(f"CREATE TABLE {name} ({SQLITE_PERSON})")
        lite.close()
        insert_sqlite(path, name, person_rows(60), NAMES)
        spec = spec_for(name, source_url=f"sqlite:///{path}", batch_rows=8)
    run_full(spec)
    changed = person_rows(30, start=1, stamp=LATER)  # the first 30 people, changed
    if source == "mysql":
        conn = mysql()
        with conn.cursor() as cur:
            cur.execute(f"DELETE FROM {name} WHERE record_no <= 30")
        conn.close()
        insert_mysql(name, changed, NAMES)
    else:
        lite = sqlite3.connect(path)
        lite.execute(f"DELETE FROM {name} WHERE record_no <= 30")
        lite.commit()
        lite.close()
        insert_sqlite(path, name, changed, NAMES)
    asked: list[int] = []
    seen: list[int] = []

    with pytest.raises(Cancelled):
        run_incremental(
            spec, progress=seen.append, cancel=lambda: bool(asked.append(1)) or len(asked) > 3
        )

    mode, watermark, key = _state_of(spec) or ()
    assert mode == "incremental" and watermark.startswith(LATER) and key  # mid-window
    assert seen == [8, 16, 24]  # counted from the start of the ordered reading
    done = sum(1 for r in changed if r[0] <= json.loads(key)[0])
    assert 0 < done < 30
    outcome = run_incremental(spec, progress=seen.append)
    assert outcome.rows_read == outcome.rows_written == 30 - done
    assert target_rows(spec) == source_rows(spec)


def test_rows_rejected_before_a_window_spills_are_counted_once(name: str) -> None:
    mysql_source(name, person_rows(40))
    spec = spec_for(name, source_url=MYSQL, batch_rows=8)
    run_full(spec)
    nul = ("PNUL", "a\x00b", *person_rows(1, stamp=LATER)[0][2:])
    insert_mysql(name, [nul, *person_rows(20, start=100, stamp=LATER)], NAMES)

    outcome = run_incremental(spec)

    assert (outcome.rows_read, outcome.rows_written, outcome.rows_rejected) == (21, 20, 1)
    assert [(r.key, r.reason) for r in outcome.rejected] == [("PNUL", "文本含空字符（\\0）")]
    assert target_rows(spec) == [r for r in source_rows(spec) if r[0] != "PNUL"]


def test_a_killed_one_transaction_window_leaves_the_target_as_it_was(name: str) -> None:
    """SIGKILL once the whole window is upserted but not committed: nothing of it is kept, the
    watermark stays, and the next run ends equal to the source."""
    pg_source(name, person_rows(3000))
    spec = spec_for(name, batch_rows=5000)
    run_full(spec)
    touch_pg(name, "record_no % 2 = 0")
    old, state = target_rows(spec), pg_state(spec)
    # The child reports progress once, before the commit, then waits a minute.
    command = ["-m", "tests.exchange.engine_child", "incremental", spec_to_json(spec), "60"]
    child = subprocess.Popen(
        [sys.executable, *command],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "rows 1500\n"
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL

    assert target_rows(spec) == old and pg_state(spec) == state
    outcome = run_incremental(spec)
    assert (outcome.mode, outcome.rows_written) == ("incremental", 1500)
    assert target_rows(spec) == source_rows(spec)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_mysql_stream_left_early_is_dropped_not_read_to_its_end(name: str) -> None:
    mysql_source(name, person_rows(5000))
    source = MySqlSource(spec_for(name, source_url=MYSQL, batch_rows=100), RejectLog())
    source.begin()
    stream = source.rows(None)
    assert len(next(stream)) == 100
    connection = source.connection
    read_after_close: list[int] = []
    read_packet = connection._read_packet  # PyMySQL reads every server packet through it

    def counted(*args: Any, **kwargs: Any) -> Any:
        read_after_close.append(1)
        return read_packet(*args, **kwargs)

    connection._read_packet = counted
    source.close()
    stream.close()  # PyMySQL would read the remaining 4,900 rows here, from a closed socket
    gc.collect()

    assert connection.open is False
    assert read_after_close == []


def _reader(blocks: Iterator[list[bytes]], batch_rows: int = 10, then: Any = None) -> _Reader:
    spec = replace(spec_for("reader"), batch_rows=batch_rows)
    return _Reader(blocks, spec, then or (lambda: None))


def _line(key: str) -> bytes:
    return f"{key}\tname\t\\N\t\\N\t\\N\t\\N\t\\N\t2024-03-02 09:30:00\t1\n".encode()


def test_the_reader_hands_on_rows_while_the_source_still_reads() -> None:
    first_written = threading.Event()
    events: list[str] = []

    def blocks() -> Iterator[list[bytes]]:
        yield [_line("a"), _line("b")]
        yield [_line("c")]
        # The caller must get the first rows while this stream is still open.
        assert first_written.wait(timeout=10)
        yield [_line("d")]

    reader = _reader(blocks(), then=lambda: events.append("then"))
    groups = []
    for group in reader:
        groups.append(len(group))
        first_written.set()
    reader.close(abandon=lambda: events.append("abandoned"))

    assert len(groups) >= 2 and sum(groups) == 4
    assert events == ["then"]


@pytest.mark.parametrize(
    "blocks",
    [
        [[_line(k) for k in "abcd"], [_line(k) for k in "efghij"]],  # a whole batch of 10...
        [[_line("a"), _line("b")], [_line("c"), _line("a")]],  # a key twice
    ],
)
def test_the_reader_spills_before_the_caller_sees_a_batch(blocks: list[list[bytes]]) -> None:
    order: list[str] = []
    handed: list[int] = []
    caught_up = threading.Event()

    def stream() -> Iterator[list[bytes]]:
        try:
            yield from blocks
            caught_up.wait(timeout=0.5)  # time for the caller to take all it was given
            yield [_line(k) for k in "xyz"]  # ...and more
        finally:
            order.append("stream closed")

    reader = _reader(stream(), then=lambda: order.append("then"))
    with pytest.raises(_Spill):
        for group in reader:
            handed.append(len(group))
            if sum(handed) == sum(map(len, blocks)):
                caught_up.set()
    reader.close(abandon=lambda: order.append("abandoned"))

    assert sum(handed) < 10  # never a whole batch before the spill
    assert order == ["abandoned", "stream closed"]  # the connection first, then the stream


def test_the_reader_hands_on_a_window_of_exactly_one_batch() -> None:
    events: list[str] = []
    blocks = iter([[_line(k) for k in "abcd"], [_line(k) for k in "efghij"]])

    reader = _reader(blocks, then=lambda: events.append("then"))
    handed = [len(group) for group in reader]
    reader.close(abandon=lambda: events.append("abandoned"))

    assert sum(handed) == 10 and events == ["then"]


def test_the_reader_passes_a_source_failure_to_the_caller() -> None:
    def stream() -> Iterator[list[bytes]]:
        yield [_line("a")]
        raise SourceFailed("读取源数据失败")

    reader = _reader(stream())
    with pytest.raises(SourceFailed):
        list(reader)
    reader.close(abandon=lambda: None)
