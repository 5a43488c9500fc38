"""The databases the sync engine tests use, small builders for their tables, and — run as a
script — the child process the kill test SIGKILLs part-way.

    python -m tests.exchange.engine_child full|incremental SPEC_JSON DELAY_SECONDS

prints "rows N" after every batch (flushed), so the parent knows the run is mid-way.

    python -m tests.exchange.engine_child cli RESOURCE_CODE DELAY_SECONDS BATCH_ROWS [GO_FILE]

runs the real `govshare exchange sync RESOURCE_CODE --kind full` (the platform named by the
GOVSHARE_* environment), its batches made `BATCH_ROWS` rows and slowed by `DELAY_SECONDS`
until GO_FILE exists, printing "rows N" to stderr after every batch.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pymysql
from sqlalchemy.engine import make_url

from govshare.exchange.engine import Column, SyncSpec, run_full, run_incremental
from govshare.exchange.engine.copytext import timestamp_text
from tests.worker_db import own

PG_SRC = own(
    os.environ.get(
        "GOVSHARE_TEST_ENGINE_PG_SRC", "postgresql+psycopg://postgres@127.0.0.1:5432/gs_engine_src"
    )
)
PG_DST = own(
    os.environ.get(
        "GOVSHARE_TEST_ENGINE_PG_DST", "postgresql+psycopg://postgres@127.0.0.1:5432/gs_engine_dst"
    )
)
MYSQL = own(
    os.environ.get("GOVSHARE_TEST_ENGINE_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/gs_engine")
)

# A person table covering every portable type.
PERSON = (
    Column("id", "text"),
    Column("name", "text"),
    Column("born_on", "date"),
    Column("score", "numeric"),
    Column("height", "double"),
    Column("active", "boolean"),
    Column("visits", "integer"),
    Column("updated_at", "timestamp"),
    Column("record_no", "bigint"),
)
PG_PERSON = (
    "id text, name text, born_on date, score numeric(12,2), height double precision, "
    "active boolean, visits integer, updated_at timestamp, record_no bigint"
)
MYSQL_PERSON = (
    "id VARCHAR(32), name TEXT, born_on DATE, score DECIMAL(12,2), height DOUBLE, "
    "active TINYINT(1), visits INT, updated_at DATETIME(6), record_no BIGINT"
)
SQLITE_PERSON = (
    "id TEXT, name TEXT, born_on DATE, score NUMERIC, height REAL, active BOOLEAN, "
    "visits INTEGER, updated_at TIMESTAMP, record_no INTEGER"
)


def pg_conninfo(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    parts = {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "dbname": database or parsed.database,
    }
    if parsed.password:
        parts["password"] = parsed.password
    return " ".join(f"{k}={v}" for k, v in parts.items())


def ensure_pg(url: str) -> None:
    """Creates the test database if it is missing (never drops one)."""
    name = make_url(url).database
    with psycopg.connect(pg_conninfo(url, "postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def pg(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(pg_conninfo(url), autocommit=True)


def mysql_args(url: str, *, database: bool = True) -> dict[str, Any]:
    parsed = make_url(url)
    args: dict[str, Any] = {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 3306,
        "user": parsed.username or "root",
        "password": parsed.password or "",
        "charset": "utf8mb4",
        "autocommit": True,
    }
    if database:
        args["database"] = parsed.database
    return args


def ensure_mysql(url: str) -> None:
    name = make_url(url).database
    conn = pymysql.connect(**mysql_args(url, database=False))
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    conn.close()


def mysql(url: str = MYSQL) -> pymysql.Connection:
    return pymysql.connect(**mysql_args(url))


def person_rows(count: int, *, start: int = 1, stamp: str = "2024-03-01 08:00:00") -> list[tuple]:
    """`count` people with every kind of value, including NULLs and awkward text."""
    rows = []
    for n in range(start, start + count):
        name = ["张伟", "李娜", "O'Brien", "tab\there", "line\nbreak", "back\\slash", "", None][
            n % 8
        ]
        rows.append(
            (
                f"P{n:08d}",
                name,
                None if n % 11 == 0 else date(1950 + n % 60, 1 + n % 12, 1 + n % 28),
                Decimal(f"{n % 1000}.{n % 100:02d}"),
                None if n % 13 == 0 else 150 + (n % 500) / 10,
                None if n % 17 == 0 else n % 2 == 0,
                n % 1000,
                datetime.fromisoformat(stamp),
                n,
            )
        )
    return rows


def insert_pg(url: str, table: str, rows: Iterable[Sequence[Any]], columns: str) -> None:
    with (
        pg(url) as conn,
        conn.cursor() as cur,
        cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def insert_mysql(table: str, rows: Sequence[Sequence[Any]], columns: str) -> None:
    conn = mysql()
    width = len(columns.split(","))
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * width)})", rows
        )
    conn.close()


def insert_sqlite(path: Path, table: str, rows: Iterable[Sequence[Any]], columns: str) -> None:
    conn = sqlite3.connect(path)
    width = len(columns.split(","))
    adapted = (
        tuple(
            str(v)
            if isinstance(v, Decimal)
            else timestamp_text(v)
            if isinstance(v, datetime)
            else v.isoformat()
            if isinstance(v, date)
            else v
            for v in row
        )
        for row in rows
    )
    conn.executemany(
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['?'] * width)})", adapted
    )
    conn.commit()
    conn.close()


def norm(value: Any, type_: str) -> Any:
    """A value as comparable text whatever database it came from."""
    if value is None:
        return None
    if type_ == "boolean":
        return bool(int(value)) if not isinstance(value, str) else value in ("t", "true", "1")
    if type_ in ("numeric", "double"):
        return format(Decimal(str(value)).normalize(), "f")
    if type_ in ("integer", "bigint"):
        return int(value)
    if type_ == "timestamp":
        return timestamp_text(
            value if isinstance(value, datetime) else datetime.fromisoformat(value)
        )
    if type_ == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    return value


def fetch(url: str, table: str, columns: Sequence[Column], key: str = "id") -> list[tuple]:
    """Every row of `table`, normalised, ordered by key in Python (no collation involved)."""
    names = ", ".join(c.name for c in columns)
    if url.startswith("postgresql"):
        with pg(url) as conn:
            rows = conn.execute(f"SELECT {names} FROM {table}").fetchall()
    elif url.startswith("mysql"):
        conn = pymysql.connect(**mysql_args(url))
        with conn.cursor() as cur:
            cur.execute(f"SELECT {names} FROM {table}")
            rows = list(cur.fetchall())
        conn.close()
    else:
        lite = sqlite3.connect(make_url(url).database)
        rows = lite.execute(f"SELECT {names} FROM {table}").fetchall()
        lite.close()
    index = [c.name for c in columns].index(key)
    normed = [tuple(norm(v, c.type) for v, c in zip(row, columns, strict=True)) for row in rows]
    return sorted(normed, key=lambda r: r[index])


def spec_from_json(text: str) -> SyncSpec:
    data = json.loads(text)
    data["columns"] = tuple(Column(**c) for c in data["columns"])
    data["key"] = tuple(data["key"])
    return SyncSpec(**data)


def spec_to_json(spec: SyncSpec) -> str:
    data = dict(spec.__dict__)
    data["columns"] = [c.__dict__ for c in spec.columns]
    return json.dumps(data)


def cli_sync(code: str, delay: float, batch_rows: int, go: Path | None = None) -> None:
    """`govshare exchange sync CODE --kind full`, in small, slow batches."""
    import dataclasses

    from govshare import cli
    from govshare.exchange.service import run_execution

    plan, report = run_execution._plan, run_execution._Progress.__call__

    def small_batches(*args: Any, **kwargs: Any) -> run_execution.Plan:
        made = plan(*args, **kwargs)
        return dataclasses.replace(made, spec=dataclasses.replace(made.spec, batch_rows=batch_rows))

    def slowly(self: run_execution._Progress, rows: int) -> None:
        print(f"rows {rows}", file=sys.stderr, flush=True)
        if go is None or not go.exists():
            time.sleep(delay)
        report(self, rows)

    run_execution._plan = small_batches  # type: ignore[assignment]
    run_execution._Progress.__call__ = slowly  # type: ignore[method-assign]
    sys.argv = ["govshare", "exchange", "sync", code, "--kind", "full"]
    cli.main()


def main(argv: list[str]) -> int:
    if argv[1] == "cli":
        cli_sync(argv[2], float(argv[3]), int(argv[4]), Path(argv[5]) if argv[5:] else None)
        return 0
    mode, spec_json, delay = argv[1], argv[2], float(argv[3])

    def progress(rows: int) -> None:
        print(f"rows {rows}", flush=True)
        time.sleep(delay)  # a slow link, so the parent can catch the run mid-way

    spec = spec_from_json(spec_json)
    outcome = (run_full if mode == "full" else run_incremental)(spec, progress=progress)
    print(f"done {outcome.mode} {outcome.rows_written}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
