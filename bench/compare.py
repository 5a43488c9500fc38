"""Benchmark of the verification domain's comparison engine (比对,
`govshare.verification.comparison`) against reladiff's joindiff on the same tables.

    .venv/bin/python bench/compare.py                 # 100,000 and 1,000,000 rows per side
    .venv/bin/python bench/compare.py --quick         # 100,000 only
    .venv/bin/python bench/compare.py --rows 300000   # 30,000 and 300,000

Two population tables (人口基础信息: ID number as key, name, gender, birth date, phone,
region, address) are generated in a PostgreSQL center (schema `center` of a throwaway
database, `gs_bench_compare` unless --pg-url names another, dropped at the start and the
end) with 1% planted differences: 0.3% of the keys only on the left (公安局's register),
0.3% only on the right (民政局's copy), 0.4% with one item differing (name, birth date,
phone or address in turn). Then, on the same tables in the same run, each in a fresh child
process so that its peak resident memory (VmHWM) is its own:

  govshare        the engine, exact items (what reladiff compares)
  govshare+norm   the engine, every item and the key normalised (half-width, trim, case,
                  dates): what a comparison between departments usually asks
  govshare-group  the engine, exact items, kept to its one grouping (``raw_key_join=False``):
                  what runs when a key is not unique, NOT NULL text on both sides
  reladiff        reladiff's joindiff (an OUTER JOIN in the database, its best mode when both
                  tables share a database), threaded, validating unique keys as the engine
                  does

and at rows/10 as well, to show how cost grows. Every run's counts (only left, only right,
differing, unchanged) must equal the planted ones; a disagreement is reported loudly and
fails the run. Targets: the same counts as reladiff, faster than reladiff, peak RSS under
300 MB. reladiff (and psycopg2, its PostgreSQL driver) is installed with pip into this
interpreter's environment when missing, before anything is measured. The machine may be
shared: figures are noisy, so compare the rows of one run, not runs. The last line printed
is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from typing import Any

import psycopg
from sqlalchemy.engine import URL, make_url

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/gs_bench_compare"
SCHEMA = "center"
ITEMS = ("name", "gender", "birth_date", "phone", "region_code", "address")
ENGINES = ("govshare", "govshare+norm", "govshare-group", "reladiff")
RSS_TARGET_MIB = 300


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


def require_reladiff() -> str:
    """reladiff's version, installing it (and psycopg2) with pip when missing."""
    try:
        import psycopg2  # noqa: F401
        import reladiff
    except ImportError:
        print("== installing reladiff and psycopg2-binary with pip (the comparison)", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "reladiff", "psycopg2-binary"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(
                f"reladiff is needed and pip failed (exit {done.returncode}):\n{done.stderr[-2000:]}"
            ) from None
        importlib.invalidate_caches()
        import reladiff
    return str(reladiff.__version__)


# --- the data --------------------------------------------------------------------------------


def recreate_database(url: URL, *, create: bool = True) -> None:
    with psycopg.connect(pg_conninfo(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{url.database}"')


def population(side: str, rows: int) -> str:
    """The SELECT of one side: person g, the left missing g % 1000 in 0–2, the right missing
    3–5, and g % 1000 in 6–9 differing on the right in one item chosen by g / 1000."""
    changed = "g % 1000 BETWEEN 6 AND 9"
    which = "(g / 1000) % 4"

    def item(plain: str, n: int, different: str) -> str:
        if side == "a":
            return plain
        return f"CASE WHEN {changed} AND {which} = {n} THEN {different} ELSE {plain} END"

    missing = "0 AND 2" if side == "a" else "3 AND 5"
    return (
        "SELECT '3611' || lpad(g::text, 14, '0') AS id_number, "
        + item(
            "(ARRAY['张','王','李','赵','刘'])[1 + g % 5] || (ARRAY['伟','芳','娜','敏','静','强'])[1 + g % 6]",
            0,
            "'改名'",
        )
        + " AS name, CASE WHEN g % 2 = 0 THEN '男' ELSE '女' END AS gender, "
        + item("DATE '1950-01-01' + g % 25000", 1, "DATE '1950-01-01' + g % 25000 + 1")
        + " AS birth_date, "
        + item(
            "'138' || lpad((g % 100000000)::text, 8, '0')",
            2,
            "'139' || lpad((g % 100000000)::text, 8, '0')",
        )
        + " AS phone, '3611' || lpad((g % 30)::text, 2, '0') AS region_code, "
        + item(
            "'江西省上饶市信州区水南街道' || g % 500 || '号'",
            3,
            "'江西省上饶市广丰区' || g % 500 || '号'",
        )
        + f" AS address FROM generate_series(1, {rows}) g WHERE g % 1000 NOT BETWEEN {missing}"
    )


def expected(rows: int) -> dict[str, int]:
    counted = {r: sum(1 for g in range(1, rows + 1) if g % 1000 == r) for r in range(10)}
    only_left = sum(counted[r] for r in (3, 4, 5))
    only_right = sum(counted[r] for r in (0, 1, 2))
    differing = sum(counted[r] for r in (6, 7, 8, 9))
    return {
        "only_left": only_left,
        "only_right": only_right,
        "differing": differing,
        "unchanged": rows - only_left - only_right - differing,
    }


def generate(url: URL, rows: int) -> float:
    started = time.perf_counter()
    with psycopg.connect(pg_conninfo(url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
        for side in ("a", "b"):
            table = f'"{SCHEMA}".population_{side}'
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"CREATE TABLE {table} AS {population(side, rows)}")
            conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id_number)")
            conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute("CHECKPOINT")
    return time.perf_counter() - started


# --- the measured runs (each in a child process) ---------------------------------------------


def run_govshare(url: str, normalised: bool, raw_key_join: bool) -> dict[str, int]:
    from govshare.core.db import make_engine
    from govshare.exchange.center import Center
    from govshare.verification.comparison import ComparisonSpec, Pair, compare

    steps = ("halfwidth", "trim", "case", "empty_as_null") if normalised else ()
    items = tuple(
        Pair(name, name, name, (*steps, "date") if normalised and name == "birth_date" else steps)
        for name in ITEMS
    )
    key = Pair("id_number", "id_number", "id_number", ("halfwidth", "case") if normalised else ())
    spec = ComparisonSpec("population_a", "population_b", (key,), items)
    engine = make_engine(url)
    seen = 0

    def count(_: object) -> None:
        nonlocal seen
        seen += 1

    run = compare(Center(engine, SCHEMA), spec, raw_key_join=raw_key_join)
    for difference in run:
        count(difference)
    counts = run.counts
    engine.dispose()
    assert seen == counts.only_left + counts.only_right + counts.differing, seen
    return {
        "only_left": counts.only_left,
        "only_right": counts.only_right,
        "differing": counts.differing,
        "unchanged": counts.equal,
    }


def run_reladiff(url: str) -> dict[str, int]:
    from reladiff import Algorithm, connect_to_table, diff_tables

    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    threads = os.cpu_count() or 2
    left = connect_to_table(dsn, (SCHEMA, "population_a"), "id_number", thread_count=threads)
    right = connect_to_table(left.database, (SCHEMA, "population_b"), "id_number")
    with diff_tables(
        left,
        right,
        extra_columns=ITEMS,
        algorithm=Algorithm.JOINDIFF,
        threaded=True,
        max_threadpool_size=threads,
        validate_unique_key=True,
    ) as diff:
        for _ in diff:
            pass
        stats = diff.get_stats_dict()
    return {
        "only_left": stats["exclusive_A"],
        "only_right": stats["exclusive_B"],
        "differing": stats["updated"],
        "unchanged": stats["unchanged"],
    }


def child_main(which: str, url: str) -> None:
    # imports before the clock starts: a process's start-up is not the comparison's cost
    importlib.import_module(
        "reladiff" if which == "reladiff" else "govshare.verification.comparison"
    )
    importlib.import_module("govshare.core.db")
    started = time.perf_counter()
    if which == "reladiff":
        counts = run_reladiff(url)
    else:
        counts = run_govshare(url, which.endswith("norm"), not which.endswith("group"))
    seconds = time.perf_counter() - started
    with open("/proc/self/status") as status:
        hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": seconds, "rss_mib": round(hwm / 1024, 1), "counts": counts}))


def measure(which: str, url: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", which, "--pg-url", url],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{which} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report ----------------------------------------------------------------------------------


def report(figures: dict[str, Any]) -> None:
    header = (
        "rows/side",
        "engine",
        "seconds",
        "rows/s",
        "only L",
        "only R",
        "differ",
        "equal",
        "peak RSS",
        "counts",
    )
    lines = [header]
    for size in figures["sizes"]:
        for which in ENGINES:
            run = figures["runs"][f"{which}@{size}"]
            c = run["counts"]
            lines.append(
                (
                    f"{size:,}",
                    which,
                    f"{run['seconds']:.2f}",
                    f"{size / run['seconds']:,.0f}",
                    f"{c['only_left']:,}",
                    f"{c['only_right']:,}",
                    f"{c['differing']:,}",
                    f"{c['unchanged']:,}",
                    f"{run['rss_mib']:.0f} MiB",
                    "as planted" if run["agrees"] else "DISAGREE",
                )
            )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print()
    for line in lines:
        print(
            "  ".join(
                cell.rjust(w) if i > 1 else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    print()
    for size in figures["sizes"]:
        print(
            f"{size:,} rows: reladiff / govshare = {figures['speedup'][str(size)]:.2f}× "
            f"(target > 1: {'met' if figures['speedup'][str(size)] > 1 else 'NOT met'})"
        )
    print(
        f"peak RSS {figures['max_rss_mib']:.0f} MiB (target < {RSS_TARGET_MIB}: "
        f"{'met' if figures['rss_met'] else 'NOT met'}); counts "
        f"{'agree everywhere' if figures['counts_agree'] else 'DISAGREE — see the table'}"
    )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows only")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="a throwaway database (dropped)")
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.pg_url)
        return
    version = require_reladiff()  # before minutes of work, not after
    sizes = [100_000] if args.quick else [max(args.rows // 10, 1000), args.rows]
    url = make_url(args.pg_url)
    figures: dict[str, Any] = {
        "sizes": sizes,
        "reladiff": version,
        "runs": {},
        "cpus": os.cpu_count(),
    }
    recreate_database(url)
    try:
        for size in sizes:
            print(f"generating 2 × {size:,} rows …", flush=True)
            figures[f"generate_s@{size}"] = round(generate(url, size), 2)
            planted = expected(size)
            for which in ENGINES:
                print(f"{which} at {size:,} …", flush=True)
                run = measure(which, url.render_as_string(hide_password=False))
                run["seconds"] = round(run["seconds"], 3)
                run["agrees"] = run["counts"] == planted
                if not run["agrees"]:
                    print(
                        f"!!! {which} at {size:,}: counts {run['counts']} != planted {planted}",
                        file=sys.stderr,
                    )
                figures["runs"][f"{which}@{size}"] = run
            figures[f"planted@{size}"] = planted
    finally:
        recreate_database(url, create=False)
    figures["speedup"] = {
        str(s): round(
            figures["runs"][f"reladiff@{s}"]["seconds"]
            / figures["runs"][f"govshare@{s}"]["seconds"],
            2,
        )
        for s in sizes
    }
    figures["max_rss_mib"] = max(
        r["rss_mib"] for k, r in figures["runs"].items() if k.startswith("govshare")
    )
    figures["rss_met"] = figures["max_rss_mib"] < RSS_TARGET_MIB
    figures["counts_agree"] = all(r["agrees"] for r in figures["runs"].values())
    report(figures)
    print(json.dumps(figures, ensure_ascii=False))
    if not figures["counts_agree"]:
        raise SystemExit("counts disagree: see the table")


if __name__ == "__main__":
    main()
