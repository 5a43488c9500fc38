"""Benchmark of the keyed lookup (EXC-5): "check this citizen's record by ID number" through
the online query API, with the grant check, masking and audit entries of every call.

    .venv/bin/python bench/lookup.py                      # 1,000,000 rows, 30 s of load
    .venv/bin/python bench/lookup.py --rows 50000 --duration 10

It builds a data resource center in the PostgreSQL database `gs_lookup_center` (a
population table of N rows from `exchange.demo_data`, in the `center` schema) and a platform
database `gs_lookup_platform` — both dropped and recreated — with, through the services, a
provider, a consumer department, the published population resource bound to the center
table, the consumer's grant (7 of 15 fields, 5 of 12 counties, ID number, name, address and
mobile masked) and an API token of the consumer's system. It then runs the real application
under Uvicorn (`govshare.web.main:app`, several worker processes) and measures
`GET /api/v1/exchange/data/{code}/{id_number}` for random ID numbers inside the grant:

1. sequentially (one client, no contention): p50/p95 latency of a lone lookup;
2. under load (wrk with a Lua script picking random IDs, installed from Debian when missing;
   or, with --loader httpx, N concurrent httpx clients): lookups/s and p50/p95/p99.

It checks that answers are right (masked exactly as `mask_value` says) and counts the audit
entries written. The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import apt_tools  # bench/apt_tools.py
import httpx
from sqlalchemy import create_engine, func, select, text
from throwaway import PG, drop, recreate  # bench/throwaway.py

PLATFORM_DB, CENTER_DB = "gs_lookup_platform", "gs_lookup_center"
CENTER_TABLE = "r_population"
PASSWORD = "bench2026pw"

GRANTED = ["id_number", "name", "gender", "birth_date", "region_code", "address", "phone"]
MASKED = {"id_number": "id_number", "name": "name", "address": "address", "phone": "mobile"}
REGIONS = ["361102", "361103", "361104", "361123", "361181"]


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def load_center(url: str, rows: int) -> float:
    """The population table in the center's schema; returns the seconds it took."""
    from govshare.exchange.demo_data import POPULATION_COLUMNS, load_table, population_rows

    started = time.perf_counter()
    load_table(url, CENTER_TABLE, POPULATION_COLUMNS, population_rows(rows), key="id_number")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA center"))
        conn.execute(text(f"ALTER TABLE public.{CENTER_TABLE} SET SCHEMA center"))
    engine.dispose()
    return time.perf_counter() - started


def sample_ids(url: str, count: int) -> list[str]:
    """Random ID numbers inside the grant's regions (every lookup is a hit)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        ids = conn.execute(
            text(
                f"SELECT id_number FROM center.{CENTER_TABLE} WHERE region_code = ANY(:r)"
                " ORDER BY random() LIMIT :n"
            ),
            {"r": REGIONS, "n": count},
        ).scalars()
        found = list(ids)
    engine.dispose()
    return found


# --- the platform: cast, resource, binding, grant, token ----------------------------------


@dataclass(frozen=True)
class World:
    code: str
    token: str
    grant: str


def environ(data_dir: Path, platform_url: str, center_url: str, mask_key: str) -> dict[str, str]:
    return {
        "GOVSHARE_DATA_DIR": str(data_dir),
        "GOVSHARE_DATABASE_URL": platform_url,
        "GOVSHARE_CENTER_DATABASE_URL": center_url,
        "GOVSHARE_CENTER_SCHEMA": "center",
        "GOVSHARE_SECRET_KEY": secrets.token_urlsafe(48),
        "GOVSHARE_MASK_KEY": mask_key,
        "GOVSHARE_POLICY_PROFILE": "shangrao",
        # The lock-free audit log a city on PostgreSQL runs: writers only insert their
        # entries, the worker's sequencer chains them.
        "GOVSHARE_AUDIT_SEQUENCING": "sequencer",
    }


def _uscc(serial: int) -> str:
    from govshare.core.uscc import check_character

    first17 = f"11361100{serial:09d}"
    return first17 + check_character(first17)


def build_world(env: dict[str, str]) -> World:
    """Everything through the services (audited), except the binding row, which the binding
    service would only write after reading a real source table."""
    from govshare.catalog.schemas import ResourceIn, ReviewIn
    from govshare.catalog.service import resources
    from govshare.core import clock, migrate
    from govshare.core.audit.service import record
    from govshare.core.permissions import Actor, Role
    from govshare.core.runtime import build_runtime
    from govshare.core.settings import load_settings
    from govshare.exchange.demo_data import POPULATION_COLUMNS, POPULATION_ITEMS
    from govshare.exchange.models import (
        BindingState,
        Cipher,
        Connection,
        ConnectionRole,
        DatabaseKind,
        TableBinding,
    )
    from govshare.identity import service as identity
    from govshare.identity.schemas import ApiTokenIn, OrganizationIn, UserIn
    from govshare.sharing.models import GrantSource
    from govshare.sharing.schemas import Condition, Mask
    from govshare.sharing.service import grants
    from govshare.systems import service as systems
    from govshare.systems.schemas import SystemIn

    runtime = build_runtime(load_settings(environ=env))
    migrate.upgrade(runtime.engine)
    console = Actor.command_line("bench")
    rules = runtime.profile.rules
    with runtime.transaction() as db:
        people = []
        for serial, (org, username, role) in enumerate(
            [
                ("市大数据发展管理局", "bench_operator", Role.PLATFORM_OPERATOR),
                ("市公安局", "bench_provider", Role.DATA_OFFICER),
                ("市民政局", "bench_consumer", Role.DATA_OFFICER),
            ],
            start=1,
        ):
            data = OrganizationIn(name=org, uscc=_uscc(serial), level="city")
            org_id = identity.create_organization(db, actor=console, data=data).id
            account = identity.create_user(
                db,
                actor=console,
                data=UserIn(
                    username=username,
                    real_name="测试用户",
                    mobile="13800000000",
                    organization_id=org_id,
                    roles=[role],
                    password=PASSWORD,
                ),
            )
            people.append((org_id, identity.actor_for_user(account)))
        (_, op), (provider_id, provider), (consumer_id, consumer) = people
        items = [
            {"name": name, "data_type": kind} | ({"length": length} if length else {})
            for name, kind, length in POPULATION_ITEMS.values()
        ]
        resource = resources.create_resource(
            db,
            actor=provider,
            rules=rules,
            data=ResourceIn.model_validate(
                {
                    "catalog_kind": "department",
                    "name": "人口基础信息",
                    "summary": "全市户籍人口的基础信息",
                    "format": "database",
                    "format_detail": "PostgreSQL",
                    "share_type": "conditional",
                    "share_conditions": "仅限办理社会救助、户籍业务的部门使用",
                    "legal_basis": "《中华人民共和国个人信息保护法》第三十四条",
                    "share_methods": ["table"],
                    "update_frequency": "daily",
                    "domain": "public_administration",
                    "items": items,
                }
            ),
        )
        version = resources.list_versions(db, actor=provider, resource_id=resource.id)[0]
        resources.submit_version(db, actor=provider, version_id=version.id, rules=rules)
        resources.review_version(
            db, actor=op, version_id=version.id, decision=ReviewIn(approve=True), rules=rules
        )
        now = clock.now()
        source = Connection(
            organization_id=provider_id,
            name="公安人口库只读副本",
            role=ConnectionRole.SOURCE,
            kind=DatabaseKind.POSTGRESQL,
            host="127.0.0.1",
            port=5432,
            database="population",
            cipher=Cipher.AES_GCM,
            created_at=now,
            created_by=provider.label,
            updated_at=now,
        )
        db.add(source)
        db.flush()
        binding = TableBinding(
            resource_id=resource.id,
            connection_id=source.id,
            source_table="population",
            columns=[
                {"item": POPULATION_ITEMS[c][0], "column": c, "type": kind}
                for c, kind in POPULATION_COLUMNS
            ],
            key_columns=["id_number"],
            change_column="updated_at",
            center_table=CENTER_TABLE,
            state=BindingState.ACTIVE,
            created_at=now,
            created_by=provider.label,
            updated_at=now,
        )
        db.add(binding)
        db.flush()
        record(
            db,
            actor=provider,
            action="exchange.binding.save",
            object_type="binding",
            object_id=binding.id,
            details={"resource": resource.code, "center_table": CENTER_TABLE},
        )
        db.refresh(resource)
        system = systems.register_system(
            db,
            actor=consumer,
            data=SystemIn(name="社会救助信息系统", purpose="最低生活保障审核", owner="社会救助科"),
        )
        grant = grants.issue(
            db,
            actor=provider,
            rules=rules,
            source=GrantSource.APPLICATION,
            resource=resource,
            version=resource.current_version,
            consumer_id=consumer_id,
            fields=[POPULATION_ITEMS[c][0] for c in GRANTED],
            row_filter=[Condition(field="行政区划代码", op="in", values=REGIONS)],
            masking=[Mask(field=POPULATION_ITEMS[c][0], rule=rule) for c, rule in MASKED.items()],
            purpose="核对最低生活保障申请人的户籍和身份信息",
            system_id=system.id,
            system_name=system.name,
            valid_from=clock.today(),
            valid_until=clock.today() + timedelta(days=365),
            accepted_at=now,
            accepted_by=consumer.label,
        )
        _, token = identity.issue_api_token(
            db,
            actor=consumer,
            data=ApiTokenIn(
                name="社会救助信息系统", organization_id=consumer_id, system_id=system.id
            ),
        )
        world = World(resource.code, token, grant.number)
    runtime.engine.dispose()
    return world


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(env: dict[str, str], workers: int) -> Iterator[tuple[str, int]]:
    """The real application (`govshare.web.main:app`) under Uvicorn in its own processes."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "govshare.web.main:app",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--workers={workers}",
            "--log-level=warning",
            "--no-access-log",
        ],
        env={**os.environ, **env},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/api/openapi.json", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        stop(process)


def stop(process: subprocess.Popen[Any]) -> None:
    """Asks a server process to stop; kills it if it has not within 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def sequencing(env: dict[str, str]) -> Iterator[int]:
    """`govshare worker` beside the web workers: its sequencer chains the audit entries."""
    process = subprocess.Popen(
        [sys.executable, "-m", "govshare", "worker", "--workers=1"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )
    try:
        yield process.pid
    finally:
        stop(process)


def unsequenced(platform_url: str) -> int:
    from govshare.core.audit.models import AuditEntry

    engine = create_engine(platform_url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).where(AuditEntry.seq.is_(None))).scalar_one()
    engine.dispose()
    return count


def drain_and_verify(env: dict[str, str], platform_url: str) -> dict[str, Any]:
    """Waits until the sequencer has chained every entry, then runs `govshare audit verify`."""
    started = time.monotonic()
    while (waiting := unsequenced(platform_url)) and time.monotonic() - started < 120:
        time.sleep(0.2)
    drained = time.monotonic() - started
    verified = subprocess.run(
        [sys.executable, "-m", "govshare", "audit", "verify"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if verified.returncode != 0:
        say(verified.stdout, verified.stderr)
    return {
        "unsequenced_after_load": waiting,
        "sequenced_within_s": round(drained, 2),
        "verify_ok": verified.returncode == 0,
    }


# --- measuring ----------------------------------------------------------------------------


def check_answers(url: str, world: World, rows: list[dict[str, Any]], key: bytes) -> None:
    """A few lookups checked against the reference masking, and a refusal outside the grant."""
    from govshare.exchange.masking import Mask, mask_value

    headers = {"Authorization": f"Bearer {world.token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for row in rows:
            got = client.get(f"/api/v1/exchange/data/{world.code}/{row['id_number']}")
            if got.status_code != 200:
                raise RuntimeError(f"lookup {got.status_code}: {got.text}")
            (answer,) = got.json()["rows"]
            for column in GRANTED:
                value = row[column]
                want = (
                    mask_value(value, Mask(MASKED[column]), key=key)
                    if column in MASKED
                    else (value.isoformat() if hasattr(value, "isoformat") else value)
                )
                if answer[column] != want:
                    raise RuntimeError(f"{column}: got {answer[column]!r}, want {want!r}")
        refused = client.get(f"/api/v1/exchange/data/{world.code}?phone__prefix=138")
        if refused.status_code != 422:
            raise RuntimeError(f"a prefix filter on a masked field gave {refused.status_code}")


def reference_rows(center_url: str, ids: list[str]) -> list[dict[str, Any]]:
    engine = create_engine(center_url)
    with engine.connect() as conn:
        found = conn.execute(
            text(f"SELECT * FROM center.{CENTER_TABLE} WHERE id_number = ANY(:ids)"), {"ids": ids}
        )
        rows = [dict(r._mapping) for r in found]
    engine.dispose()
    return rows


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def sequential(url: str, world: World, ids: list[str], count: int) -> dict[str, float]:
    """One client, one lookup at a time: the latency of a lookup without contention."""
    headers = {"Authorization": f"Bearer {world.token}"}
    took = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            got = client.get(f"/api/v1/exchange/data/{world.code}/{random.choice(ids)}")
            took.append((time.perf_counter() - started) * 1000)
            if got.status_code != 200:
                raise RuntimeError(f"lookup {got.status_code}: {got.text}")
    return {
        "requests": count,
        "p50_ms": round(statistics.median(took), 2),
        "p95_ms": round(percentile(took, 95), 2),
        "max_ms": round(max(took), 2),
    }


WRK_SCRIPT = r"""
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local prefix = "%(prefix)s"
local headers = {["Authorization"] = "Bearer %(token)s"}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(os.time() * 100 + seed)
end

function request()
  return wrk.format("GET", prefix .. ids[math.random(#ids)], headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "duration_s": %%.3f, "non_2xx": %%d, "socket_errors": %%d, ' ..
    '"timeouts": %%d, "p50_ms": %%.2f, "p95_ms": %%.2f, "p99_ms": %%.2f, "max_ms": %%.2f}\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write,
    e.timeout, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3))
end
"""


def with_wrk(
    url: str, world: World, ids: list[str], args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    ids_file = work / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    script = work / "lookup.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "ids": ids_file,
            "prefix": f"/api/v1/exchange/data/{world.code}/",
            "token": world.token,
        }
    )
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.concurrency}",
        f"-d{args.duration}s",
        "--timeout=30s",
        "-s",
        str(script),
        url,
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(x for x in finished.stdout.splitlines() if x.startswith("WRK_JSON "))
    figures = json.loads(line.removeprefix("WRK_JSON "))
    figures["lookups_per_s"] = round(figures["requests"] / figures["duration_s"], 1)
    return {"loader": "wrk", **figures}


async def _httpx_load(
    url: str, world: World, ids: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {world.token}"}
    took: list[float] = []
    failures = 0
    stop_at = time.perf_counter() + args.duration

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            got = await client.get(f"/api/v1/exchange/data/{world.code}/{random.choice(ids)}")
            took.append((time.perf_counter() - started) * 1000)
            failures += got.status_code != 200

    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=30
    ) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "loader": "httpx",
        "requests": len(took),
        "duration_s": round(elapsed, 3),
        "non_2xx": failures,
        "socket_errors": 0,
        "timeouts": 0,
        "p50_ms": round(statistics.median(took), 2),
        "p95_ms": round(percentile(took, 95), 2),
        "p99_ms": round(percentile(took, 99), 2),
        "max_ms": round(max(took), 2),
        "lookups_per_s": round(len(took) / elapsed, 1),
    }


class LockWaits:
    """Samples, while the load runs, how many of the platform database's backends wait on a
    lock (pg_stat_activity). On the lookup path the one lock writers share is the audit
    chain's head row, so by Little's law the mean number waiting divided by lookups/s is
    the time a lookup spends waiting for the head lock."""

    def __init__(self, platform_url: str, every: float = 0.01) -> None:
        self.engine = create_engine(platform_url, isolation_level="AUTOCOMMIT")
        self.every = every
        self.samples: list[tuple[int, int]] = []  # (waiting on a lock, active)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        query = text(
            "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),"
            " count(*) FILTER (WHERE state = 'active' AND pid <> pg_backend_pid())"
            " FROM pg_stat_activity WHERE datname = current_database()"
        )
        with self.engine.connect() as conn:
            while not self._stop.wait(self.every):
                waiting, active = conn.execute(query).one()
                self.samples.append((waiting, active))

    def __enter__(self) -> LockWaits:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()

    def figures(self, lookups_per_s: float) -> dict[str, float]:
        if not self.samples:
            return {}
        waiting = statistics.fmean(w for w, _ in self.samples)
        active = statistics.fmean(a for _, a in self.samples)
        return {
            "mean_backends_waiting_on_lock": round(waiting, 2),
            "mean_backends_active": round(active, 2),
            "lock_wait_ms_per_lookup": round(waiting / lookups_per_s * 1000, 2)
            if lookups_per_s
            else 0.0,
        }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (Linux /proc), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def server_pids(server_pid: int, urls: list[str], worker_pid: int) -> dict[str, list[int]]:
    """The Uvicorn processes, the worker (its sequencer) and the PostgreSQL backends serving
    the two databases (the sequencer's among them)."""
    names = [u.rsplit("/", 1)[1] for u in urls]
    admin = create_engine(PG + "postgres")
    with admin.connect() as conn:
        backends = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = ANY(:d)"), {"d": names}
        ).scalars()
        pg = list(backends)
    admin.dispose()
    return {"app": [server_pid, *_children(server_pid)], "worker": [worker_pid], "postgres": pg}


def cpu_of(pids: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    return {side: {p: _cpu_seconds(p) for p in found} for side, found in pids.items()}


def cpu_spent(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """CPU seconds per side between two readings; a backend started in between counts whole."""
    return {
        side: sum(now - before[side].get(pid, 0.0) for pid, now in after[side].items())
        for side in after
    }


def audit_count(platform_url: str) -> int:
    from govshare.core.audit.models import AuditEntry

    engine = create_engine(platform_url)
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count()).where(AuditEntry.action == "exchange.data.lookup")
        ).scalar_one()
    engine.dispose()
    return count


# --- the run ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the center table")
    parser.add_argument("--duration", type=int, default=30, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=16, help="open connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="Uvicorn worker processes")
    parser.add_argument("--sequential", type=int, default=500, help="lone lookups timed")
    parser.add_argument(
        "--loader",
        choices=("wrk", "httpx"),
        default="wrk",
        help="load generator: wrk (installed when missing) or httpx clients in this process",
    )
    parser.add_argument("--keep", action="store_true", help="keep the two databases")
    args = parser.parse_args(argv)
    if args.rows < 1000:
        parser.error("--rows must be at least 1000")
    if args.loader == "wrk":
        apt_tools.require("wrk")

    work = Path(tempfile.mkdtemp(prefix="govshare-lookup-"))
    mask_key = secrets.token_hex(32)
    try:
        say(f"creating {PLATFORM_DB} and {CENTER_DB}")
        platform_url, center_url = recreate(PLATFORM_DB), recreate(CENTER_DB)
        say(f"loading {args.rows:,} population rows into the center")
        load_seconds = load_center(center_url, args.rows)
        say(f"  {load_seconds:.1f} s")
        env = environ(work / "data", platform_url, center_url, mask_key)
        (work / "data").mkdir()
        world = build_world(env)
        ids = sample_ids(center_url, 20_000)
        say(f"grant {world.grant} on {world.code}; {len(ids):,} IDs inside the grant sampled")
        with sequencing(env) as worker_pid, serving(env, args.workers) as (url, server_pid):
            check_answers(url, world, reference_rows(center_url, ids[:20]), bytes.fromhex(mask_key))
            say("answers checked against mask_value; warming up")
            sequential(url, world, ids, 100)
            before = audit_count(platform_url)
            say(f"{args.sequential} sequential lookups")
            lone = sequential(url, world, ids, args.sequential)
            say(f"{args.duration} s of load: {args.loader}, {args.concurrency} connections")
            cpu_before = cpu_of(server_pids(server_pid, [platform_url, center_url], worker_pid))
            with LockWaits(platform_url) as waits:
                loaded = (
                    with_wrk(url, world, ids, args, work)
                    if args.loader == "wrk"
                    else asyncio.run(_httpx_load(url, world, ids, args))
                )
            locks = waits.figures(loaded["lookups_per_s"])
            spent = cpu_spent(
                cpu_before, cpu_of(server_pids(server_pid, [platform_url, center_url], worker_pid))
            )
            audit = drain_and_verify(env, platform_url)
        cpu_ms = {
            f"{side}_cpu_ms_per_lookup": round(seconds * 1000 / max(1, loaded["requests"]), 2)
            for side, seconds in spent.items()
        }
        audited = audit_count(platform_url) - before
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            drop(PLATFORM_DB)
            drop(CENTER_DB)

    answered = lone["requests"] + loaded["requests"]
    print()
    print(f"Keyed lookup by ID number — {args.rows:,} rows, {args.workers} Uvicorn workers, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'':<28}{'requests':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'lookups/s':>12}")
    print(f"{'sequential (1 client)':<28}{lone['requests']:>10}{lone['p50_ms']:>10}"
          f"{lone['p95_ms']:>10}{'':>10}{'':>12}")  # fmt: skip
    print(f"{f'load ({args.concurrency} conns, {args.loader})':<28}{loaded['requests']:>10}"
          f"{loaded['p50_ms']:>10}{loaded['p95_ms']:>10}{loaded['p99_ms']:>10}"
          f"{loaded['lookups_per_s']:>12}")  # fmt: skip
    print(f"errors under load: {loaded['non_2xx']} non-2xx, {loaded['socket_errors']} socket, "
          f"{loaded['timeouts']} timeouts; audit entries exchange.data.lookup: {audited:,} "
          f"for {answered:,} lookups answered; center load {load_seconds:.1f} s")  # fmt: skip
    print(f"server CPU per lookup under load: {cpu_ms['app_cpu_ms_per_lookup']} ms in the "
          f"Uvicorn workers, {cpu_ms['worker_cpu_ms_per_lookup']} ms in the sequencer's worker, "
          f"{cpu_ms['postgres_cpu_ms_per_lookup']} ms in PostgreSQL backends "
          f"(so {os.cpu_count()} cores could answer at most "
          f"{round(os.cpu_count() * 1000 / max(0.01, sum(cpu_ms.values())))} lookups/s)")  # fmt: skip
    waiting = audit["unsequenced_after_load"]
    chained = (
        f"within {audit['sequenced_within_s']} s" if not waiting else f"NOT ({waiting} waiting)"
    )
    verdict = "ok" if audit["verify_ok"] else "FAILED"
    print(f"audit (sequencer mode): every entry sequenced {chained} after the load; "
          f"govshare audit verify: {verdict}")  # fmt: skip
    if locks:
        print(f"under load: {locks['mean_backends_waiting_on_lock']} platform backends waiting "
              f"on a lock on average ({locks['mean_backends_active']} active): "
              f"{locks['lock_wait_ms_per_lookup']} ms of each lookup waits for the audit "
              "chain's head")  # fmt: skip
    result = {
        "bench": "lookup",
        "rows": args.rows,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "center_load_s": round(load_seconds, 1),
        "sequential": lone,
        "load": {"concurrency": args.concurrency, "duration_s_requested": args.duration, **loaded},
        "cpu": cpu_ms,
        "lock_waits": locks,
        "audit_entries": audited,
        "audit": audit,
        "lookups_answered": answered,
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
