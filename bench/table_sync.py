"""Benchmark of the exchange's table sync engine (`govshare.exchange.engine`).

    .venv/bin/python bench/table_sync.py                 # 1,000,000 population rows
    .venv/bin/python bench/table_sync.py --rows 20000    # a quick run

Builds a population table (人口基础信息, 15 columns, realistic rows from
`exchange.demo_data`) in PostgreSQL (gs_bench_src) and MariaDB (gs_bench), then measures:

  (a) PostgreSQL → PostgreSQL full sync with id_number, name and phone masked (the SELECT is
      built by `exchange.scope.scoped_select`), against the physical limit in the same run:
      COPY (the same SELECT) TO STDOUT piped straight into COPY … FROM STDIN. Target ≥ 0.6.
  (b) MariaDB → PostgreSQL full sync of the unmasked table against pgloader on the same
      table. Target: faster than pgloader. Debian's pgloader is installed when missing
      (`bench/apt_tools.py`); a run that cannot have it, or whose pgloader fails, stops.
  (c) incremental sync after 1% of the rows changed (right after (a), --repeat times, a
      different 1% each time), against (a)'s full sync. Target ≤ 5%. The 1% are scattered
      (every 100th record_no), so both servers touch thousands of pages, each for the first
      time since the checkpoint, as an hourly sync would with the server's own checkpoints
      every few minutes: the source prunes the dead row versions on the pages it reads
      (a WAL record and a full-page image each), the target writes a full-page image of
      each page it updates. The window fits one batch, so the engine reads it unordered and
      upserts it while it reads (see `exchange.engine.sync`). The source keeps the index on
      updated_at that an incremental source needs; it has none on (updated_at, record_no).
  (d) peak RSS of a sync process at rows/10 and at rows (each in a fresh child process).
      Target: < 300 MB and flat.

(a) and the limit run alternately, --repeat times each; the best of each is compared, since
the machine may be shared; (c) likewise takes its best run. Every measured run, full or
incremental, starts after a CHECKPOINT, so none pays for the writes the previous one left
behind and each pays the full-page images of its own first writes. Caches are left as they
are, the same for every run: PostgreSQL's shared_buffers (printed) are usually smaller than
one table, and a full scan or COPY goes through a small ring of buffers, so each measured run
reads most pages from the OS page cache or from disk. The masked id_number
cannot be the sync key (masking keeps 6 + 4 digits, so thousands of people would collide), so
the key is record_no, as the platform would choose for such a grant. Everything is written
into throwaway databases that are dropped and recreated: gs_bench_src, gs_bench_dst
(PostgreSQL) and gs_bench (MariaDB) unless --pg-url /
--mysql-url name others. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import apt_tools  # bench/apt_tools.py
import psycopg
import pymysql
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from govshare.exchange.engine import Column, SyncSpec, run_full, run_incremental

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/gs_bench_src"
DEFAULT_MYSQL = "mysql+pymysql://root@127.0.0.1:3306/gs_bench"
MASK_KEY = b"govshare-bench-masking-key-0001"
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id_number", "text"),
    ("name", "text"),
    ("gender", "text"),
    ("birth_date", "date"),
    ("ethnicity", "text"),
    ("phone", "text"),
    ("region_code", "text"),
    ("address", "text"),
    ("household_type", "text"),
    ("marital_status", "text"),
    ("education", "text"),
    ("occupation", "text"),
    ("registered_on", "date"),
    ("updated_at", "timestamp"),
    ("record_no", "bigint"),
)
NAMES = ", ".join(name for name, _ in COLUMNS)
MYSQL_DDL = (
    "id_number VARCHAR(18) NOT NULL PRIMARY KEY, name VARCHAR(50), gender VARCHAR(4), "
    "birth_date DATE, ethnicity VARCHAR(20), phone VARCHAR(20), region_code VARCHAR(6), "
    "address VARCHAR(200), household_type VARCHAR(20), marital_status VARCHAR(10), "
    "education VARCHAR(20), occupation VARCHAR(50), registered_on DATE, updated_at DATETIME, "
    "record_no BIGINT, KEY population_updated_at (updated_at)"
)


@dataclass
class Databases:
    src: str  # SQLAlchemy URLs
    dst: str
    mysql: str

    def pg_conninfo(self, url: str) -> str:
        return pg_conninfo(make_url(url))


def pg_conninfo(url: URL, database: str | None = None) -> str:
    parts = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "dbname": database or url.database,
    }
    if url.password:
        parts["password"] = url.password
    return " ".join(f"{k}={v}" for k, v in parts.items())


def mysql_connect(url: str, *, database: bool = True, **extra: Any) -> pymysql.Connection:
    parsed = make_url(url)
    return pymysql.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.username or "root",
        password=parsed.password or "",
        database=parsed.database if database else None,
        charset="utf8mb4",
        autocommit=True,
        **extra,
    )


# --- preparing the data ----------------------------------------------------------------------


def recreate_pg(url: str, *, create: bool = True) -> None:
    parsed = make_url(url)
    with psycopg.connect(pg_conninfo(parsed, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def recreate_mysql(url: str, *, create: bool = True) -> None:
    name = make_url(url).database
    conn = mysql_connect(url, database=False)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        if create:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()


def generate_population(db: Databases, rows: int) -> str:
    """Fills gs_bench_src.population; returns how (demo_data generator or SQL)."""
    try:
        from govshare.exchange.demo_data import load_table, population_rows
    except ImportError:
        load_table = None
    if load_table is not None:
        load_table(db.src, "population", COLUMNS, population_rows(rows, seed=7), key="id_number")
        how = "demo_data.population_rows"
    else:
        with psycopg.connect(db.pg_conninfo(db.src), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE population AS SELECT '3611' || lpad(g::text, 14, '0') AS id_number, "
                "'张' || (ARRAY['伟','芳','娜','敏','静'])[1 + g % 5] AS name, "
                "CASE WHEN g % 2 = 0 THEN '男' ELSE '女' END AS gender, "
                "DATE '1950-01-01' + g % 25000 AS birth_date, '汉族'::text AS ethnicity, "
                "'138' || lpad((g % 100000000)::text, 8, '0') AS phone, "
                "'3611' || lpad((g % 30)::text, 2, '0') AS region_code, "
                "'江西省上饶市信州区水南街道' || g % 500 || '号' AS address, "
                "'家庭户'::text AS household_type, '已婚'::text AS marital_status, "
                "'大学本科'::text AS education, '专业技术人员'::text AS occupation, "
                "DATE '2000-01-01' + g % 8000 AS registered_on, "
                "TIMESTAMP '2024-01-01' + g * interval '37 second' AS updated_at, "
                f"g::bigint AS record_no FROM generate_series(1, {rows}) g"
            )
            conn.execute("ALTER TABLE population ADD PRIMARY KEY (id_number)")
        how = "SQL generate_series"
    with psycopg.connect(db.pg_conninfo(db.src), autocommit=True) as conn:
        conn.execute("CREATE INDEX IF NOT EXISTS population_updated_at ON population (updated_at)")
        conn.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS population_record_no ON population (record_no)"
        )
        conn.execute("VACUUM ANALYZE population")
    return how


def copy_to_mysql(db: Databases) -> None:
    """The same rows into MariaDB: COPY text from PostgreSQL is LOAD DATA's default format
    (tab-separated, backslash escapes, \\N for NULL)."""
    with tempfile.NamedTemporaryFile(suffix=".tsv") as dump:
        with (
            psycopg.connect(db.pg_conninfo(db.src)) as conn,
            conn.cursor() as cur,
            cur.copy(f"COPY population ({NAMES}) TO STDOUT") as copy,
        ):
            for block in copy:
                dump.write(block)
        dump.flush()
        conn = mysql_connect(db.mysql, local_infile=True)
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE population ({MYSQL_DDL}) DEFAULT CHARSET=utf8mb4")
            cur.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE population CHARACTER SET utf8mb4 ({NAMES})",
                (dump.name,),
            )
            cur.execute("ANALYZE TABLE population")
        conn.close()


# --- the measurements ------------------------------------------------------------------------


def masked_select() -> tuple[str, str]:
    """The masked SELECT of (a) and who built it."""
    try:
        from govshare.exchange.masking import Mask
        from govshare.exchange.scope import literal_sql, scoped_select
        from govshare.sharing.models import MaskRule
    except ImportError:
        return (
            "SELECT left(id_number, 6) || repeat('*', 8) || right(id_number, 4) AS id_number, "
            "left(name, 1) || repeat('*', char_length(name) - 1) AS name, gender, birth_date, "
            "ethnicity, left(phone, 3) || '****' || right(phone, 4) AS phone, region_code, "
            "address, household_type, marital_status, education, occupation, registered_on, "
            "updated_at, record_no FROM population",
            "plain SQL left()/repeat()",
        )
    types = {"text": sa.Text, "date": sa.Date, "timestamp": sa.DateTime, "bigint": sa.BigInteger}
    table = sa.Table("population", sa.MetaData(), *(sa.Column(n, types[t]()) for n, t in COLUMNS))
    masks = {
        "id_number": Mask(MaskRule.ID_NUMBER),
        "name": Mask(MaskRule.NAME),
        "phone": Mask(MaskRule.MOBILE),
    }
    select = scoped_select(
        table,
        dialect="postgresql",
        columns=[n for n, _ in COLUMNS],
        conditions=(),
        masks=masks,
        key=MASK_KEY,
    )
    return literal_sql(select, "postgresql"), "exchange.scope.scoped_select"


def sync_spec(db: Databases, query: str | None, *, source: str, table: str) -> SyncSpec:
    return SyncSpec(
        source_url=source,
        source_query=query,
        source_table="population",
        target_url=db.dst,
        target_schema="bench",
        target_table=table,
        columns=tuple(Column(n, t) for n, t in COLUMNS),
        key=("record_no",) if query else ("id_number",),
        change_column="updated_at",
        state_name=f"bench_{table}",
    )


def physical_limit(db: Databases, query: str) -> float:
    """COPY (query) TO STDOUT piped into COPY … FROM STDIN, nothing else."""
    types = {"text": "text", "date": "date", "timestamp": "timestamp", "bigint": "bigint"}
    ddl = ", ".join(f"{n} {types[t]}" for n, t in COLUMNS)
    with psycopg.connect(db.pg_conninfo(db.dst), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.copy_limit")
        conn.execute(f"CREATE TABLE public.copy_limit ({ddl})")
    started = time.perf_counter()
    with (
        psycopg.connect(db.pg_conninfo(db.src)) as src,
        psycopg.connect(db.pg_conninfo(db.dst)) as dst,
    ):
        with (
            src.cursor().copy(f"COPY ({query}) TO STDOUT") as out,
            dst.cursor().copy("COPY public.copy_limit FROM STDIN") as into,
        ):
            for block in out:
                into.write(block)
        dst.commit()
    return time.perf_counter() - started


def quiesce(db: Databases) -> None:
    """A CHECKPOINT before each measured run, so no run pays for the previous one's writes
    (a million-row load leaves ~400 MB of WAL and dirty pages to be written behind it)."""
    with psycopg.connect(db.pg_conninfo(db.dst), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def conditions(db: Databases) -> dict[str, Any]:
    """What the caches can hold, beside the tables' sizes: the figures a reader needs to know
    whether a run read from memory."""
    with psycopg.connect(db.pg_conninfo(db.src)) as conn:
        row = conn.execute(
            "SELECT current_setting('shared_buffers'), current_setting('checkpoint_timeout'), "
            "pg_table_size('population') / 1048576"
        ).fetchone()
    assert row is not None
    return {"pg_shared_buffers": row[0], "pg_checkpoint_timeout": row[1], "population_mib": row[2]}


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def pgloader(db: Databases, binary: str) -> float:
    """pgloader's time for the MariaDB table into PostgreSQL (schema pgloader)."""
    src, dst = make_url(db.mysql), make_url(db.dst)

    def auth(url: URL) -> str:
        return url.username + (f":{url.password}" if url.password else "")

    command = (
        "LOAD DATABASE\n"
        f"  FROM mysql://{auth(src)}@{src.host}:{src.port or 3306}/{src.database}\n"
        f"  INTO postgresql://{auth(dst)}@{dst.host}:{dst.port or 5432}/{dst.database}\n"
        "WITH include drop, create tables, create indexes, reset sequences\n"
        "INCLUDING ONLY TABLE NAMES MATCHING 'population'\n"
        f"ALTER SCHEMA '{src.database}' RENAME TO 'pgloader';\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".load") as script:
        script.write(command)
        script.flush()
        seconds, done = timed(
            lambda: subprocess.run([binary, script.name], capture_output=True, text=True)
        )
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"pgloader failed (exit {done.returncode}): comparison (b) has no figure")
    return seconds


def change_one_percent(db: Databases, remainder: int) -> int:
    """Moves 1% of the people (a new address, a new updated_at); returns how many."""
    with psycopg.connect(db.pg_conninfo(db.src), autocommit=True) as conn:
        cur = conn.execute(
            "UPDATE population SET address = address || '（迁）', "
            "updated_at = (SELECT max(updated_at) FROM population) + interval '1 hour' "
            f"WHERE record_no % 100 = {remainder}"
        )
        return cur.rowcount


def count(db: Databases, table: str) -> int:
    with psycopg.connect(db.pg_conninfo(db.dst)) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def child_rss(spec: SyncSpec) -> tuple[float, int]:
    """A full sync in a fresh process: its seconds and peak RSS in MiB."""
    data = dict(spec.__dict__)
    data["columns"] = [c.__dict__ for c in spec.columns]
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(data)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], result["rss_mib"]


def child_main(spec_json: str) -> None:
    data = json.loads(spec_json)
    data["columns"] = tuple(Column(**c) for c in data["columns"])
    data["key"] = tuple(data["key"])
    outcome = run_full(SyncSpec(**data))
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": outcome.seconds, "rss_mib": round(rss_kib / 1024, 1)}))


# --- report ----------------------------------------------------------------------------------


def report(figures: dict[str, Any]) -> None:
    rows = figures["rows"]
    lines = [
        ("data", f"{rows:,} rows generated by {figures['generated_by']}", ""),
        (
            "caches",
            f"shared_buffers {figures['pg_shared_buffers']}, "
            f"source table {figures['population_mib']} MiB",
            "CHECKPOINT before every measured run",
        ),
        (
            "(a) PG→PG masked full sync",
            f"{figures['a_engine_s']:.2f} s  ({rows / figures['a_engine_s']:,.0f} rows/s)",
            "",
        ),
        (
            "    COPY→COPY physical limit",
            f"{figures['a_limit_s']:.2f} s  ({rows / figures['a_limit_s']:,.0f} rows/s)",
            "",
        ),
        (
            "    ratio limit / engine",
            f"{figures['a_ratio']:.2f}",
            f"target ≥ 0.6: {'met' if figures['a_met'] else 'NOT met'}",
        ),
        (
            "(b) MariaDB→PG full sync",
            f"{figures['b_engine_s']:.2f} s  ({rows / figures['b_engine_s']:,.0f} rows/s)",
            "",
        ),
    ]
    lines += [
        (
            "    pgloader",
            f"{figures['b_pgloader_s']:.2f} s  ({rows / figures['b_pgloader_s']:,.0f} rows/s)",
            "",
        ),
        (
            "    ratio pgloader / engine",
            f"{figures['b_ratio']:.2f}",
            f"target > 1: {'met' if figures['b_met'] else 'NOT met'}",
        ),
    ]
    lines += [
        (
            "(c) incremental, 1% changed",
            f"{figures['c_incremental_s']:.2f} s for {figures['c_rows']:,} rows",
            "",
        ),
        (
            "    ratio incremental / full",
            f"{figures['c_ratio']:.3f}",
            f"target ≤ 0.05: {'met' if figures['c_met'] else 'NOT met'}",
        ),
        (
            "(d) peak RSS",
            f"{figures['d_rss_small_mib']:.0f} MiB at {figures['d_rows_small']:,} rows, "
            f"{figures['d_rss_large_mib']:.0f} MiB at {rows:,}",
            f"target < 300 MiB and flat: {'met' if figures['d_met'] else 'NOT met'}",
        ),
    ]
    width = max(len(a) for a, _, _ in lines)
    middle = max(len(b) for _, b, _ in lines)
    print()
    for a, b, c in lines:
        print(f"{a.ljust(width)}  {b.ljust(middle)}  {c}".rstrip())
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG, help="source database; gs_bench_dst beside it"
    )
    parser.add_argument("--mysql-url", default=DEFAULT_MYSQL)
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of (a), of its limit and of (c)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return
    pgloader_binary = apt_tools.require("pgloader")  # before minutes of work, not after
    src = make_url(args.pg_url)
    db = Databases(
        src=src.render_as_string(hide_password=False),
        dst=src.set(database=f"{src.database.removesuffix('_src')}_dst").render_as_string(
            hide_password=False
        ),
        mysql=args.mysql_url,
    )
    rows = args.rows
    figures: dict[str, Any] = {"rows": rows}
    try:
        print(f"preparing {rows:,} rows …", flush=True)
        for url in (db.src, db.dst):
            recreate_pg(url)
        recreate_mysql(db.mysql)
        seconds, figures["generated_by"] = timed(lambda: generate_population(db, rows))
        figures["generate_s"] = round(seconds, 2)
        copy_to_mysql(db)
        figures.update(conditions(db))

        query, figures["masked_by"] = masked_select()
        spec_a = sync_spec(db, query, source=db.src, table="population_masked")
        engine_runs, limit_runs = [], []
        for i in range(args.repeat):
            print(f"(a) run {i + 1}/{args.repeat} …", flush=True)
            quiesce(db)
            limit_runs.append(physical_limit(db, query))
            quiesce(db)
            seconds, outcome = timed(lambda: run_full(spec_a))
            engine_runs.append(seconds)
            assert outcome.rows_written == rows, outcome
        figures["a_engine_s"] = round(min(engine_runs), 3)
        figures["a_limit_s"] = round(min(limit_runs), 3)
        figures["a_engine_runs_s"] = [round(s, 3) for s in engine_runs]
        figures["a_limit_runs_s"] = [round(s, 3) for s in limit_runs]
        figures["a_ratio"] = round(figures["a_limit_s"] / figures["a_engine_s"], 3)
        figures["a_met"] = figures["a_ratio"] >= 0.6
        figures["a_checksum"] = outcome.checksum

        with psycopg.connect(db.pg_conninfo(db.dst), autocommit=True) as conn:
            conn.execute(
                "DROP TABLE IF EXISTS public.copy_limit"
            )  # spare it autovacuum's attention

        incremental_runs = []
        for i in range(args.repeat):
            print(f"(c) incremental after 1% changed, run {i + 1}/{args.repeat} …", flush=True)
            changed = change_one_percent(db, 7 + i)
            quiesce(db)
            seconds, outcome_c = timed(lambda: run_incremental(spec_a))
            assert (outcome_c.mode, outcome_c.rows_written) == ("incremental", changed), outcome_c
            incremental_runs.append(seconds)
        figures["c_rows"] = changed
        figures["c_incremental_s"] = round(min(incremental_runs), 3)
        figures["c_incremental_runs_s"] = [round(s, 3) for s in incremental_runs]
        figures["c_ratio"] = round(figures["c_incremental_s"] / figures["a_engine_s"], 4)
        figures["c_met"] = figures["c_ratio"] <= 0.05

        print("(b) MariaDB → PostgreSQL …", flush=True)
        spec_b = sync_spec(db, None, source=db.mysql, table="population_mysql")
        quiesce(db)
        seconds, outcome_b = timed(lambda: run_full(spec_b))
        assert outcome_b.rows_written == rows, outcome_b
        figures["b_engine_s"] = round(seconds, 3)
        print("(b) pgloader …", flush=True)
        quiesce(db)
        loader = pgloader(db, pgloader_binary)
        figures["b_pgloader_s"] = round(loader, 3)
        assert count(db, "pgloader.population") == rows
        figures["b_ratio"] = round(loader / seconds, 3)
        figures["b_met"] = loader > seconds

        print("(d) peak RSS in child processes …", flush=True)
        small = max(rows // 10, 1)
        limited = f"SELECT * FROM ({query}) AS q WHERE record_no < (SELECT min(record_no) FROM population) + {small}"
        spec_small = replace(
            spec_a, source_query=limited, target_table="population_rss", state_name="bench_rss"
        )
        _, rss_small = child_rss(spec_small)
        _, rss_large = child_rss(
            replace(spec_a, target_table="population_rss", state_name="bench_rss")
        )
        figures["d_rows_small"] = small
        figures["d_rss_small_mib"] = rss_small
        figures["d_rss_large_mib"] = rss_large
        figures["d_rss_growth"] = round(rss_large / rss_small, 3)
        figures["d_met"] = rss_large < 300 and rss_large <= rss_small * 1.25 + 10
        figures["cpus"] = os.cpu_count()

        report(figures)
        print(json.dumps(figures, ensure_ascii=False))
    finally:  # the throwaway databases go, whatever happened
        for url in (db.src, db.dst):
            recreate_pg(url, create=False)
        recreate_mysql(db.mysql, create=False)


if __name__ == "__main__":
    main()
