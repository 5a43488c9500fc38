"""Benchmark of the audit log: audited events/s from concurrent writers on PostgreSQL with
today's inline chain (the head locked at every commit) and with the sequencer (writers only
insert; one sequencer chains in batches), side by side; the sequencer's lag; and the time
`govshare audit verify` takes per 1,000,000 entries.

    .venv/bin/python bench/audit.py                      # 32 writers, 20 s each mode, 1M verify
    .venv/bin/python bench/audit.py --writers 8 --duration 5 --verify-rows 100000

It creates and drops the PostgreSQL database `gs_bench_audit` (never point it at one you keep).
Each writer is a process of its own (not a thread, so Python's GIL is not what is measured)
repeating a small audited data access, as a request does: read a row, `audit.record` with
details, commit. The sequencer runs as the worker runs it (`sequencer.SequencerLoop`, every
`--interval` s) in a process of its own; its lag is sampled every 50 ms as the age of the
oldest committed entry not yet sequenced. For verification, 1,000,000 entries are written
with COPY (each with its leaf hash, as a writer computes it), chained by the sequencer (its
rate is reported too) and walked by `audit_service.verify`.
The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import statistics
import sys
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine, text
from throwaway import drop, recreate  # bench/throwaway.py

DB = "gs_bench_audit"
TARGET_EVENTS = 5000
TARGET_VERIFY_S = 10.0


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def reset(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_entry, audit_checkpoint"))
        conn.execute(text("UPDATE audit_head SET last_seq = 0, last_hash = :g"), {"g": "0" * 64})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE audit_entry"))
    engine.dispose()


# --- writers ------------------------------------------------------------------------------


def writer(url: str, mode: str, start: Any, stop_at: Any, done: Any, n: int, ready: Any) -> None:
    from sqlalchemy.orm import Session

    from govshare.core.audit import service as audit_service
    from govshare.core.db import make_engine
    from govshare.core.permissions import Actor, Role

    audit_service.sequencing = mode
    engine = make_engine(url, pool_size=1, max_overflow=0)
    actor = Actor(
        label=f"bench{n}", roles=frozenset({Role.DEPARTMENT_STAFF}), user_id=n, organization_id=n
    )
    count = 0
    with engine.connect() as conn:  # connected before the clock starts
        conn.execute(text("SELECT 1"))
    ready.put(n)
    start.wait()
    deadline = stop_at.value
    with Session(engine) as db:
        while time.time() < deadline:
            db.execute(text("SELECT version_num FROM alembic_version")).scalar()
            audit_service.record(
                db,
                actor=actor,
                action="exchange.data.lookup",
                object_type="resource",
                object_id=count,
                details={"code": "R0001", "fields": ["name", "address"], "rows": 1},
            )
            db.commit()
            count += 1
    engine.dispose()
    done.put(count)


def sequencer_process(url: str, interval: float, stop: Any, ready: Any) -> None:
    from govshare.core.audit import sequencer
    from govshare.core.audit.signing import private_key
    from govshare.core.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    loop = sequencer.SequencerLoop(
        engine,
        make_sessionmaker(engine),
        key=private_key(bytes(32)),
        interval=interval,
        checkpoint_every=timedelta(seconds=10),
    )
    loop.start()
    ready.set()
    stop.wait()
    loop.stop(timeout=60)
    engine.dispose()


def unsequenced_age(conn: Any) -> tuple[float, int]:
    row = conn.execute(
        text(
            "SELECT extract(epoch FROM now() - min(occurred_at)), count(*)"
            " FROM audit_entry WHERE seq IS NULL"
        )
    ).one()
    return float(row[0] or 0.0), int(row[1])


def run_mode(url: str, mode: str, writers: int, duration: float, interval: float) -> dict[str, Any]:
    reset(url)
    ctx = mp.get_context("spawn")
    start, done = ctx.Event(), ctx.Queue()
    stop_at = ctx.Value("d", 0.0)
    seq_stop, seq_ready = ctx.Event(), ctx.Event()
    seq_proc = None
    if mode == "sequencer":
        seq_proc = ctx.Process(target=sequencer_process, args=(url, interval, seq_stop, seq_ready))
        seq_proc.start()
        seq_ready.wait(60)
    ready = ctx.Queue()
    procs = [
        ctx.Process(target=writer, args=(url, mode, start, stop_at, done, n, ready))
        for n in range(writers)
    ]
    for p in procs:
        p.start()
    for _ in procs:  # every writer imported, connected and waiting
        ready.get()
    stop_at.value = time.time() + duration
    began = time.time()
    start.set()
    lags: list[float] = []
    engine = create_engine(url)
    with engine.connect() as conn:
        while time.time() < stop_at.value:
            if mode == "sequencer":
                lags.append(unsequenced_age(conn)[0])
                conn.rollback()
            time.sleep(0.05)
    counts = [done.get() for _ in procs]
    elapsed = time.time() - began
    for p in procs:
        p.join()
    drain = 0.0
    if seq_proc is not None:
        t0 = time.time()
        with engine.connect() as conn:
            while unsequenced_age(conn)[1]:
                conn.rollback()
                time.sleep(0.02)
        drain = time.time() - t0
        seq_stop.set()
        seq_proc.join()
    engine.dispose()
    total = sum(counts)
    return {
        "mode": mode,
        "events": total,
        "events_per_s": round(total / min(elapsed, duration + 0.5)),
        "lag_p50_s": round(statistics.median(lags), 3) if lags else None,
        "lag_max_s": round(max(lags), 3) if lags else None,
        "drain_s": round(drain, 3),
    }


# --- verification -------------------------------------------------------------------------


def build_entries(url: str, rows: int) -> float:
    """`rows` unsequenced entries by COPY, each with its leaf hash; returns the sequencing time."""
    import psycopg

    from govshare.core import clock
    from govshare.core.audit import hashing, sequencer
    from govshare.core.db import make_engine, make_sessionmaker

    reset(url)
    now = clock.now()
    buf = io.StringIO()
    for i in range(rows):
        at = now + timedelta(microseconds=i)
        details = json.dumps({"code": "R0001", "row": i}, separators=(",", ":"))
        leaf = hashing.leaf_of(
            "sha256", at, "bench", i % 500, i % 40, None, "10.0.0.1", "exchange.data.lookup",
            "resource", str(i), details,
        )  # fmt: skip
        buf.write(
            f"{at.isoformat()}\tbench\t{i % 500}\t{i % 40}\t\\N\t10.0.0.1\texchange.data.lookup"
            f"\tresource\t{i}\t{details}\tsha256\t{leaf}\n"
        )
    with (
        psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn,
        conn.cursor() as cur,
        cur.copy(
            "COPY audit_entry (occurred_at, actor_label, actor_user_id, actor_organization_id,"
            " actor_token_id, source_ip, action, object_type, object_id, details, algorithm,"
            " leaf_hash) FROM STDIN"
        ) as copy,
    ):
        copy.write(buf.getvalue())
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    t0 = time.perf_counter()
    with sessions() as db:
        sequencer.sequence_all(db, limit=50_000)
    took = time.perf_counter() - t0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE audit_entry"))
    engine.dispose()
    return took


def time_verify(url: str) -> tuple[float, int, bool]:
    from sqlalchemy.orm import Session

    from govshare.core.audit import service as audit_service
    from govshare.core.db import make_engine

    engine = make_engine(url)
    with Session(engine) as db:
        t0 = time.perf_counter()
        result = audit_service.verify(db)
        took = time.perf_counter() - t0
    engine.dispose()
    return took, result.checked, result.ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per mode")
    parser.add_argument("--interval", type=float, default=0.1, help="sequencer interval, s")
    parser.add_argument("--verify-rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)

    from govshare.core import migrate
    from govshare.core.db import make_engine

    url = recreate(DB)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        modes = []
        for mode in ("inline", "sequencer"):
            say(f"{mode}: {args.writers} writers for {args.duration:g} s …")
            modes.append(run_mode(url, mode, args.writers, args.duration, args.interval))
            say(f"  {modes[-1]}")
        say(f"building {args.verify_rows:,} entries …")
        sequencing_s = build_entries(url, args.verify_rows)
        say(f"verifying {args.verify_rows:,} entries …")
        verify_s, checked, ok = time_verify(url)
    finally:
        if not args.keep:
            drop(DB)
    per_million = verify_s * 1_000_000 / max(checked, 1)
    print()
    print(f"Audit log on PostgreSQL — {args.writers} writer processes, {args.duration:g} s each")
    print(f"{'':<22}{'events':>10}{'events/s':>10}{'lag p50 s':>11}{'lag max s':>11}{'drain s':>9}")
    for m in modes:
        print(
            f"{m['mode'] + (' (head lock)' if m['mode'] == 'inline' else ''):<22}{m['events']:>10}"
            f"{m['events_per_s']:>10}{m['lag_p50_s'] if m['lag_p50_s'] is not None else '-':>11}"
            f"{m['lag_max_s'] if m['lag_max_s'] is not None else '-':>11}{m['drain_s']:>9}"
        )
    print(
        f"sequencing {args.verify_rows:,} entries: {sequencing_s:.1f} s "
        f"({args.verify_rows / sequencing_s:,.0f}/s)"
    )
    print(
        f"verify {checked:,} entries: {verify_s:.1f} s ({per_million:.1f} s per million, "
        f"target ≤ {TARGET_VERIFY_S:g}); chain {'intact' if ok else 'BROKEN'}"
    )
    sequencer_mode = modes[1]
    result = {
        "writers": args.writers,
        "duration_s": args.duration,
        "inline_events_per_s": modes[0]["events_per_s"],
        "sequencer_events_per_s": sequencer_mode["events_per_s"],
        "target_events_per_s": TARGET_EVENTS,
        "sequencer_lag_p50_s": sequencer_mode["lag_p50_s"],
        "sequencer_lag_max_s": sequencer_mode["lag_max_s"],
        "sequencer_drain_s": sequencer_mode["drain_s"],
        "sequencing_per_s": round(args.verify_rows / sequencing_s),
        "verify_rows": checked,
        "verify_s": round(verify_s, 2),
        "verify_s_per_million": round(per_million, 2),
        "target_verify_s_per_million": TARGET_VERIFY_S,
        "verify_ok": ok,
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
