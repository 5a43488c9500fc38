"""Benchmark of the service gateway (EXC-4): a provider's JSON API called directly, through the
nginx data plane and through the embedded gateway's `/gateway/…`, by the same load generator
in the same run.

    .venv/bin/python bench/gateway.py                       # SQLite and PostgreSQL, 15 s runs
    .venv/bin/python bench/gateway.py --quick               # 4 s runs (about 1 minute)
    .venv/bin/python bench/gateway.py --backends sqlite --duration 10 --connections 32

The upstream is `govshare.exchange.demo_service` (the demo city's enterprise registry,
Starlette on Uvicorn, in a process of its own; a minimal Starlette app from this file when
that module is missing). The platform is the real govshare application on Uvicorn
(`--workers` processes), on a throwaway SQLite file or PostgreSQL database, with data built
through the services: a published service resource, its interface registered from the
upstream's OpenAPI document, a consumer's API token and its direct grant. Every proxied call
does the gateway's full work — token, interface, grant check, rate window (limit set high),
call log and audit entries — so the run also checks afterwards that the usage log holds one
row per call and that the audit chain verifies.

The nginx data plane is Debian's nginx (installed when missing) on a prefix and port of its
own, configured by `govshare gateway config` and asking the same platform processes on each
call (cached until the end of the second); its access log is ingested afterwards by
`govshare gateway ingest` (timed), so its calls are in the usage log and the audit chain too.
The time from a grant's suspension (committed through the services) to the first refused
call is measured on both paths, calling back to back, three times at different moments of
the second.

Load comes from wrk (Debian's /usr/bin/wrk, installed when missing), rotating over 100 enterprises: first at
`--connections` for throughput, then at one connection for unloaded latency, where the
difference of the p50s is the latency the gateway adds. Targets: nginx ≥ 40 % of direct and
≤ 1 ms added p50; embedded ≥ 10 % of direct (X-Road's reported ratio) and ≤ 3 ms added p50;
suspension effective ≤ 1 s on both. Requests per second move with whatever else the machine
runs, so the loaded runs also report the CPU time the platform's processes (and its
PostgreSQL backends) spent per call, read from /proc. It prints a table and, as its last
line, one JSON object with every figure.

It creates and drops its PostgreSQL database (`govshare_bench_gateway` unless --pg-url names
another): never point it at a database you keep.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apt_tools  # bench/apt_tools.py
import httpx
from sqlalchemy import create_engine, func, make_url, select, text

HERE = Path(__file__).resolve().parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/govshare_bench_gateway"
SECRET = "bench-gateway-secret-key-0123456789abcdef"
PATHS = 100  # enterprises the load rotates over
TARGET_RATIO = 0.10  # the embedded gateway (X-Road's reported ratio)
TARGET_ADDED_P50_MS = 3.0
TARGET_NGINX_RATIO = 0.40
TARGET_NGINX_ADDED_P50_MS = 1.0
TARGET_SUSPENSION_S = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


# --- the processes -----------------------------------------------------------------------------


@contextlib.contextmanager
def process(argv: list[str], ready_url: str, env: dict[str, str] | None = None) -> Iterator[int]:
    """A server in a process group of its own, until it answers `ready_url`; stopped after.
    Yields the group's id."""
    proc = subprocess.Popen(
        argv, env={**os.environ, **(env or {})}, start_new_session=True, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv} exited with {proc.returncode}")
            try:
                if httpx.get(ready_url, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv} did not answer {ready_url}")
            time.sleep(0.2)
        yield proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def upstream_argv(port: int, companies: int) -> list[str]:
    try:
        import govshare.exchange.demo_service  # noqa: F401
    except ImportError:
        return [sys.executable, __file__, "--serve-upstream", "--port", str(port)]
    module = "govshare.exchange.demo_service"
    return [sys.executable, "-m", module, "--port", str(port), "--companies", str(companies)]


def serve_fallback_upstream(port: int) -> None:
    """A minimal enterprise look-up service, when the demo service is not there."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    codes = [f"91361100MA35{i:05d}X" for i in range(PATHS)]
    records = {
        c: json.dumps({"uscc": c, "name": f"示例企业{i}"}).encode() for i, c in enumerate(codes)
    }
    listing = json.dumps({"items": [{"uscc": c} for c in codes]}).encode()
    document = {
        "openapi": "3.0.3",
        "info": {"title": "企业信息", "version": "1"},
        "paths": {"/enterprises": {"get": {}}, "/enterprises/{uscc}": {"get": {}}},
    }

    async def one(request: Request) -> Response:
        found = records.get(request.path_params["uscc"])
        return Response(found or b"{}", 200 if found else 404, media_type="application/json")

    async def many(request: Request) -> Response:
        return Response(listing, media_type="application/json")

    async def openapi(request: Request) -> Response:
        return Response(json.dumps(document), media_type="application/json")

    app = Starlette(
        routes=[
            Route("/enterprises/{uscc}", one),
            Route("/enterprises", many),
            Route("/openapi.json", openapi),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def platform_app() -> Any:
    """The govshare application, as Uvicorn's workers import it."""
    from govshare.web.app import create_app

    return create_app()


def bare_proxy_app() -> Any:
    """A plain httpx proxy — httpx's AsyncClient as installed, streaming, hop-by-hop headers
    dropped — with no token, grant, rate window or log. It does not use the platform's code,
    so it is the same program before and after any change to the gateway: the reference for
    what the machine gave this run. (The gateway's own forwarding is leaner than httpx's
    client, so the gateway's CPU per call can come close to it.)"""
    from starlette.applications import Starlette
    from starlette.routing import Route

    upstream = os.environ["GOVSHARE_BENCH_UPSTREAM"]
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30)
    dropped = {b"connection", b"keep-alive", b"transfer-encoding", b"set-cookie"}
    held: dict[str, httpx.AsyncClient] = {}

    class Forward:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if "client" not in held:
                held["client"] = httpx.AsyncClient(limits=limits, trust_env=False)
            client = held["client"]
            url = f"{upstream}/{scope['path_params']['path']}"
            response = await client.send(client.build_request("GET", url), stream=True)
            headers = [(k, v) for k, v in response.headers.raw if k.lower() not in dropped]
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": headers}
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            await response.aclose()

    return Starlette(routes=[Route("/bare/{path:path}", Forward())])


def serve_platform(port: int, workers: int, factory: str = "platform_app") -> None:
    import uvicorn

    uvicorn.run(
        f"gateway:{factory}",
        factory=True,
        app_dir=str(HERE),
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


# --- CPU accounting ----------------------------------------------------------------------------
#
# Requests per second on a shared 2-core machine move with whatever else runs; the CPU time the
# platform's processes (and its PostgreSQL backends) spend per call moves much less, and is
# what the gateway's own work costs.

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    """Seconds of CPU (user + system) a process has used, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _group(pgid: int) -> list[int]:
    """The processes of a process group (the server and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def _backends(url: str) -> list[int]:
    """The PostgreSQL server processes serving the platform's database (none for SQLite)."""
    if not url.startswith("postgresql"):
        return []
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalars()
            )
    finally:
        engine.dispose()


@dataclass
class CpuMeter:
    """CPU seconds of the platform's processes and its database backends over a run."""

    pgid: int
    url: str
    start: dict[int, float] | None = None

    def _now(self) -> dict[int, float]:
        return {pid: _cpu_of(pid) for pid in {*_group(self.pgid), *_backends(self.url)}}

    def __enter__(self) -> CpuMeter:
        self.start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._now()
        assert self.start is not None
        database = set(_backends(self.url))
        self.platform_s = sum(end[p] - self.start.get(p, 0.0) for p in end if p not in database)
        self.database_s = sum(end[p] - self.start.get(p, 0.0) for p in end if p in database)

    def per_call(self, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request."""
        return {
            "platform_cpu_ms": round(self.platform_s * 1000 / max(requests, 1), 3),
            "database_cpu_ms": round(self.database_s * 1000 / max(requests, 1), 3),
        }


# --- the platform's data -----------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    url: str  # database URL
    env: dict[str, str]
    code: str  # the resource code
    token: str
    grant_id: int


def _fresh_database(backend: str, pg_url: str, workdir: Path) -> str:
    if backend == "sqlite":
        path = workdir / "platform.db"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    target = make_url(pg_url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    return target.render_as_string(hide_password=False)


def _drop_database(backend: str, url: str) -> None:
    if backend != "postgresql":
        return
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def prepare(backend: str, pg_url: str, workdir: Path, upstream: str) -> Platform:
    """A migrated platform database with the cast, built through the services."""
    from govshare.catalog.schemas import ResourceIn, ReviewIn
    from govshare.catalog.service import resources
    from govshare.core import migrate
    from govshare.core.permissions import Actor, Role
    from govshare.core.runtime import build_runtime
    from govshare.core.settings import load_settings
    from govshare.core.uscc import check_character
    from govshare.exchange.service import interfaces
    from govshare.identity import service as identity
    from govshare.identity.models import Level
    from govshare.identity.schemas import ApiTokenIn, OrganizationIn, UserIn
    from govshare.sharing.schemas import DirectAccessIn
    from govshare.sharing.service import grants
    from govshare.systems import service as systems_service
    from govshare.systems.schemas import SystemIn

    url = _fresh_database(backend, pg_url, workdir)
    env = {
        "GOVSHARE_DATA_DIR": str(workdir / "data"),
        "GOVSHARE_DATABASE_URL": url,
        "GOVSHARE_SECRET_KEY": SECRET,
        "GOVSHARE_GATEWAY_RATE_LIMIT": str(10**9),
        "GOVSHARE_POLICY_PROFILE": "shangrao",
    }
    runtime = build_runtime(load_settings(environ=env))
    migrate.upgrade(runtime.engine)
    console = Actor.command_line("bench")
    rules = runtime.profile.rules
    document = httpx.get(f"{upstream}/openapi.json", timeout=10).json()

    def org(name: str, serial: int) -> Any:
        first17 = f"11360100{serial:09d}"
        data = OrganizationIn(name=name, uscc=first17 + check_character(first17), level=Level.CITY)
        return identity.create_organization(db, actor=console, data=data)

    def officer(organization: Any, username: str) -> Actor:
        data = UserIn(
            username=username,
            real_name="数据专员",
            mobile="13800138000",
            organization_id=organization.id,
            roles=[Role.DATA_OFFICER],
            password="bench-password-2026",
        )
        return identity.actor_for_user(identity.create_user(db, actor=console, data=data))

    with runtime.transaction() as db:
        provider, consumer = org("市市场监督管理局", 1), org("市行政审批局", 2)
        provider_officer = officer(provider, "market_officer")
        consumer_officer = officer(consumer, "approval_officer")
        resource = resources.create_resource(
            db,
            actor=provider_officer,
            rules=rules,
            data=ResourceIn.model_validate(
                {
                    "catalog_kind": "department",
                    "name": "企业登记信息查询服务",
                    "summary": "按统一社会信用代码查询本市企业的登记信息",
                    "format": "service_interface",
                    "share_type": "unconditional",
                    "share_methods": ["service"],
                    "update_frequency": "realtime",
                    "domain": "enterprise_registration",
                    "items": [{"name": "统一社会信用代码", "data_type": "C", "length": 18}],
                }
            ),
        )
        version = resources.list_versions(db, actor=provider_officer, resource_id=resource.id)[0]
        resources.submit_version(db, actor=provider_officer, version_id=version.id, rules=rules)
        resources.review_version(
            db, actor=console, version_id=version.id, decision=ReviewIn(approve=True), rules=rules
        )
        interfaces.register_interface(
            db,
            actor=provider_officer,
            resource_id=resource.id,
            data=interfaces.InterfaceIn(base_url=upstream, openapi=document),
            default_timeout=10.0,
        )
        system = systems_service.register_system(
            db,
            actor=console,
            data=SystemIn(
                organization_id=consumer.id,
                name="一网通办平台",
                purpose="承载本单位业务办理",
                owner="信息科",
            ),
        )
        _, token = identity.issue_api_token(
            db, actor=consumer_officer, data=ApiTokenIn(name="一网通办平台", system_id=system.id)
        )
        grant = grants.request_direct_access(
            db,
            actor=consumer_officer,
            rules=rules,
            data=DirectAccessIn(
                resource_id=resource.id,
                purpose="核验企业开办申请材料",
                system_id=system.id,
                accept_restrictions=True,
            ),
        )
        code, grant_id = resource.code, grant.id
    runtime.engine.dispose()
    return Platform(url, env, code, token, grant_id)


def stages(platform: Platform, upstream: str, codes: list[str], calls: int) -> dict[str, Any]:
    """Where a call's time goes: the gateway's two transactions and the upstream round trip,
    each run `calls` times in this process, alone (wall and CPU milliseconds per call)."""
    import asyncio

    from govshare.core.db import unit_of_work
    from govshare.core.runtime import build_runtime
    from govshare.core.settings import load_settings
    from govshare.exchange import gateway_steps

    runtime = build_runtime(load_settings(environ=platform.env))
    sessions = gateway_steps.lean_sessions(runtime)
    call = gateway_steps.Call(
        resource_code=platform.code,
        method="GET",
        path=f"/enterprises/{codes[0]}",
        authorization=f"Bearer {platform.token}",
        session_token=None,
        source_ip="127.0.0.1",
        started=time.perf_counter(),
        refusal=None,
    )

    def admit() -> Any:
        with unit_of_work(sessions) as db:
            return gateway_steps._admit(db, runtime.settings, call)

    def log(admission: Any) -> None:
        outcome = gateway_steps.Outcome(admission, 200, 512, 1.0, "")
        with unit_of_work(sessions) as db:
            gateway_steps._relaxed_commit(db)
            gateway_steps._log(db, runtime.settings, outcome)

    async def upstream_calls(count: int) -> None:
        async with httpx.AsyncClient(trust_env=False) as client:
            for i in range(count):
                url = f"{upstream}/enterprises/{codes[i % len(codes)]}"
                response = await client.send(client.build_request("GET", url), stream=True)
                async for _ in response.aiter_raw():
                    pass
                await response.aclose()

    def measure(run: Any) -> dict[str, float]:
        run(max(calls // 10, 5))  # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        run(calls)
        return {
            "wall_ms": round((time.perf_counter() - wall) * 1000 / calls, 3),
            "cpu_ms": round((time.process_time() - cpu) * 1000 / calls, 3),
        }

    admission = admit()
    figures = {
        "admission": measure(lambda n: [admit() for _ in range(n)]),
        "log": measure(lambda n: [log(admission) for _ in range(n)]),
        "upstream_httpx": measure(lambda n: asyncio.run(upstream_calls(n))),
    }
    runtime.engine.dispose()
    return figures


def check_log(platform: Platform) -> dict[str, Any]:
    """What the platform recorded: call rows by status, and whether the audit chain holds."""
    from govshare.core.audit.service import verify
    from govshare.core.runtime import build_runtime
    from govshare.core.settings import load_settings
    from govshare.exchange.models import GatewayCall

    runtime = build_runtime(load_settings(environ=platform.env))
    with runtime.transaction() as db:
        rows = db.execute(
            select(GatewayCall.status, func.count()).group_by(GatewayCall.status)
        ).all()
        started = time.perf_counter()
        chain = verify(db)
        verify_s = time.perf_counter() - started
    runtime.engine.dispose()
    return {
        "log_rows": sum(n for _, n in rows),
        "log_by_status": {str(s): n for s, n in rows},
        "audit_entries": chain.checked,
        "audit_chain_ok": chain.ok,
        "audit_verify_s": round(verify_s, 1),
    }


# --- the nginx data plane and suspensions -------------------------------------------------------

GOVSHARE = Path(sys.executable).with_name("govshare")


def govshare(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(GOVSHARE), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"govshare {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def nginx_plane(platform: Platform) -> Iterator[str]:
    """Debian's nginx as the gateway's data plane, configured by `govshare gateway config`,
    on a prefix and port of its own; yields its base URL."""
    env = platform.env
    directory = Path(env["GOVSHARE_GATEWAY_NGINX_DIR"])
    govshare(env, "gateway", "config")
    config = directory / "nginx.conf"
    argv = ["nginx", "-p", str(directory), "-c", str(config), "-g", "daemon off;"]
    base = f"http://{env['GOVSHARE_GATEWAY_NGINX_LISTEN']}"
    proc = subprocess.Popen(argv, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (directory / "nginx.pid").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {(directory / 'error.log').read_text()}")
            time.sleep(0.05)
        time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful: the access log's buffers are written
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def ingest(platform: Platform) -> dict[str, Any]:
    """`govshare gateway ingest` over the data plane's whole access log: lines and seconds."""
    log = Path(platform.env["GOVSHARE_GATEWAY_NGINX_DIR"]) / "access.log"
    lines = sum(1 for _ in log.open("rb")) if log.exists() else 0
    started = time.perf_counter()
    govshare(platform.env, "gateway", "ingest", "--batch", "2000")
    seconds = time.perf_counter() - started
    return {
        "lines": lines,
        "seconds": round(seconds, 2),
        "lines_per_s": round(lines / seconds, 1) if seconds else None,
    }


def suspension_delays(platform: Platform, base: str, path: str, trials: int = 3) -> list[float]:
    """Seconds from a suspension's commit to the first refused call through `base`, calling
    back to back (each trial resumes the grant and waits for calls to pass again)."""
    from govshare.core.permissions import Actor
    from govshare.core.runtime import build_runtime
    from govshare.core.settings import load_settings
    from govshare.sharing.schemas import GrantActionIn
    from govshare.sharing.service import grants

    runtime = build_runtime(load_settings(environ=platform.env))
    console = Actor.command_line("bench")
    headers = {"Authorization": f"Bearer {platform.token}"}
    delays = []
    with httpx.Client(base_url=base, headers=headers, timeout=10, trust_env=False) as client:

        def until(status: int) -> float:
            started = time.monotonic()
            while client.get(path).status_code != status:
                if time.monotonic() - started > 30:
                    raise RuntimeError(f"{base}{path} never answered {status}")
            return time.monotonic() - started

        for trial in range(trials):
            until(200)
            time.sleep(0.37 * trial)  # a different moment of the second each trial
            with runtime.transaction() as db:
                grants.suspend_grant(
                    db,
                    actor=console,
                    grant_id=platform.grant_id,
                    data=GrantActionIn(reason="基准测试：暂停生效时间"),
                )
            delays.append(round(until(403), 3))
            with runtime.transaction() as db:
                grants.resume_grant(
                    db,
                    actor=console,
                    grant_id=platform.grant_id,
                    data=GrantActionIn(reason="基准测试：恢复"),
                )
            until(200)
    runtime.engine.dispose()
    return delays


# --- load --------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(value: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if found is None:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def wrk(
    base: str,
    paths: list[str],
    *,
    connections: int,
    duration: float,
    workdir: Path,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One wrk run rotating over `paths`; requests/s, latency percentiles, failures."""
    script = workdir / "rotate.lua"
    lines = [f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items()]
    listed = ", ".join(json.dumps(p) for p in paths)
    lines += [
        f"local paths = {{{listed}}}",
        "local i = 0",
        "request = function()",
        "  i = i % #paths + 1",
        "  return wrk.format(nil, paths[i])",
        "end",
    ]
    script.write_text("\n".join(lines) + "\n")
    threads = max(1, min(2, connections))
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s"]
    argv += ["--latency", "--timeout", "10s", "-s", str(script), base]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    figures: dict[str, Any] = {"connections": connections, "seconds": duration}
    figures["requests"] = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    figures["rps"] = round(float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), 1)  # type: ignore[union-attr]
    for share in ("50", "75", "90", "99"):
        found = re.search(rf"^\s+{share}%\s+(\S+)", output, re.M)
        figures[f"p{share}_ms"] = round(_ms(found.group(1)), 3) if found else None
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["non_2xx"] = int(failed.group(1)) if failed else 0
    errors = re.search(r"Socket errors: (.*)", output)
    figures["socket_errors"] = errors.group(1).strip() if errors else ""
    return figures


def measure_bare_proxy(
    args: argparse.Namespace, workdir: Path, upstream: str, codes: list[str]
) -> dict[str, Any]:
    """Direct against a bare httpx proxy, by the same wrk settings."""
    port = free_port()
    bare = f"http://127.0.0.1:{port}"
    argv = [sys.executable, __file__, "--serve-bare", "--port", str(port)]
    argv += ["--workers", str(args.workers)]
    direct_paths = [f"/enterprises/{c}" for c in codes]
    bare_paths = [f"/bare/enterprises/{c}" for c in codes]
    say(f"[bare proxy] {args.connections} connections, {args.duration:g} s each")
    with process(argv, f"{bare}{bare_paths[0]}", {"GOVSHARE_BENCH_UPSTREAM": upstream}) as pgid:
        wrk(bare, bare_paths, connections=args.connections, duration=2, workdir=workdir)
        load = dict(connections=args.connections, duration=args.duration, workdir=workdir)
        direct = wrk(upstream, direct_paths, **load)
        with CpuMeter(pgid, "") as meter:
            proxied = wrk(bare, bare_paths, **load)
        proxied |= meter.per_call(proxied["requests"])
        single = dict(connections=1, duration=args.latency_duration, workdir=workdir)
        direct_1 = wrk(upstream, direct_paths, **single)
        proxied_1 = wrk(bare, bare_paths, **single)
    return {
        "direct": direct,
        "bare": proxied,
        "direct_1": direct_1,
        "bare_1": proxied_1,
        "ratio": round(proxied["rps"] / direct["rps"], 3),
        "added_p50_ms": round(proxied_1["p50_ms"] - direct_1["p50_ms"], 3),
    }


def run_backend(
    backend: str, args: argparse.Namespace, workdir: Path, upstream: str, codes: list[str]
) -> dict[str, Any]:
    say(f"[{backend}] preparing the platform database")
    platform = prepare(backend, args.pg_url, workdir, upstream)
    port, nginx_port = free_port(), free_port()
    gateway = f"http://127.0.0.1:{port}"
    platform.env.update(
        {
            "GOVSHARE_GATEWAY_NGINX_DIR": str(workdir / f"nginx-{backend}"),
            "GOVSHARE_GATEWAY_NGINX_LISTEN": f"127.0.0.1:{nginx_port}",
            "GOVSHARE_GATEWAY_NGINX_PLATFORM_URL": gateway,
        }
    )
    direct_paths = [f"/enterprises/{c}" for c in codes]
    proxied_paths = [f"/gateway/{platform.code}/enterprises/{c}" for c in codes]
    bearer = {"Authorization": f"Bearer {platform.token}"}
    argv = [sys.executable, __file__, "--serve-platform", "--port", str(port)]
    argv += ["--workers", str(args.workers)]
    result: dict[str, Any] = {"workers": args.workers}
    try:
        with process(argv, f"{gateway}/api/v1/health", platform.env) as pgid:
            warm = dict(duration=2, workdir=workdir)
            wrk(gateway, proxied_paths, connections=args.connections, headers=bearer, **warm)
            wrk(upstream, direct_paths, connections=args.connections, **warm)
            load = dict(connections=args.connections, duration=args.duration, workdir=workdir)
            single = dict(connections=1, duration=args.latency_duration, workdir=workdir)
            say(f"[{backend}] {args.connections} connections, {args.duration:g} s each")
            result["direct"] = wrk(upstream, direct_paths, **load)
            with CpuMeter(pgid, platform.url) as meter:
                result["gateway"] = wrk(gateway, proxied_paths, headers=bearer, **load)
            result["gateway"] |= meter.per_call(result["gateway"]["requests"])
            result["direct_1"] = wrk(upstream, direct_paths, **single)
            result["gateway_1"] = wrk(gateway, proxied_paths, headers=bearer, **single)
            say(f"[{backend}] the nginx data plane")
            with nginx_plane(platform) as plane:
                wrk(plane, proxied_paths, connections=args.connections, headers=bearer, **warm)
                with CpuMeter(pgid, platform.url) as meter:
                    result["nginx"] = wrk(plane, proxied_paths, headers=bearer, **load)
                result["nginx"] |= meter.per_call(result["nginx"]["requests"])
                result["nginx_1"] = wrk(plane, proxied_paths, headers=bearer, **single)
                say(f"[{backend}] suspension to refusal")
                result["suspension_s"] = {
                    "embedded": suspension_delays(platform, gateway, proxied_paths[0]),
                    "nginx": suspension_delays(platform, plane, proxied_paths[0]),
                }
            result["ingest"] = ingest(platform)
        result["stages"] = stages(platform, upstream, codes, args.stage_calls)
        result |= check_log(platform)
    finally:
        if not args.keep:
            _drop_database(backend, platform.url)
    proxied = sum(result[k]["requests"] for k in ("gateway", "gateway_1", "nginx", "nginx_1"))
    result["proxied_requests"] = proxied
    for name in ("gateway", "nginx"):
        prefix = "" if name == "gateway" else "nginx_"
        result[prefix + "ratio"] = round(result[name]["rps"] / result["direct"]["rps"], 3)
        added = result[f"{name}_1"]["p50_ms"] - result["direct_1"]["p50_ms"]
        result[prefix + "added_p50_ms"] = round(added, 3)
        loaded = result[name]["p50_ms"] - result["direct"]["p50_ms"]
        result[prefix + "added_p50_ms_loaded"] = round(loaded, 3)
    return result


# --- report ------------------------------------------------------------------------------------


HEADER = f"  {'':22} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"


def _table(figures: dict[str, Any], rows: list[tuple[str, str]]) -> None:
    print(HEADER)
    for key, label in rows:
        f = figures[key]
        print(
            f"  {label:22} {f['rps']:>9.1f} {f['p50_ms']:>8.2f} {f['p90_ms']:>8.2f} "
            f"{f['p99_ms']:>8.2f} {f['non_2xx']:>8}"
        )


def report(
    results: dict[str, dict[str, Any]], args: argparse.Namespace, bare: dict[str, Any]
) -> None:
    n = args.connections
    print(
        f"\ngateway benchmark — {n} connections × {args.duration:g} s, "
        f"1 connection × {args.latency_duration:g} s, {args.workers} platform worker(s), "
        f"{os.cpu_count()} CPUs"
    )
    print("\nbare httpx proxy: forwarding only, no checks, no log (the machine's reference)")
    rows = [("direct", f"direct ×{n}"), ("bare", f"bare proxy ×{n}")]
    _table(bare, [*rows, ("direct_1", "direct ×1"), ("bare_1", "bare proxy ×1")])
    print(f"  throughput ratio {bare['ratio']:.1%}, added p50 {bare['added_p50_ms']:.2f} ms")
    print(f"  CPU per call at {n} connections: proxy {bare['bare']['platform_cpu_ms']:.2f} ms")
    for backend, r in results.items():
        print(f"\n{backend}: the embedded gateway and the nginx data plane, every check and log")
        rows = [("direct", f"direct ×{n}"), ("gateway", f"embedded ×{n}"), ("nginx", f"nginx ×{n}")]
        singles = [("direct_1", "direct ×1"), ("gateway_1", "embedded ×1"), ("nginx_1", "nginx ×1")]
        _table(r, [*rows, *singles])
        for label, prefix, ratio_target, added_target in (
            ("embedded", "", TARGET_RATIO, TARGET_ADDED_P50_MS),
            ("nginx", "nginx_", TARGET_NGINX_RATIO, TARGET_NGINX_ADDED_P50_MS),
        ):
            ratio, added = r[prefix + "ratio"], r[prefix + "added_p50_ms"]
            ratio_ok = "met" if ratio >= ratio_target else "MISSED"
            added_ok = "met" if added <= added_target else "MISSED"
            print(
                f"  {label}: throughput ratio {ratio:.1%} (target ≥ {ratio_target:.0%}: "
                f"{ratio_ok}), added p50 {added:.2f} ms unloaded (target ≤ {added_target:g} ms: "
                f"{added_ok}), {r[prefix + 'added_p50_ms_loaded']:.2f} ms at {n} connections"
            )
        for label, delays in r["suspension_s"].items():
            ok = "met" if max(delays) <= TARGET_SUSPENSION_S else "MISSED"
            shown = ", ".join(f"{d:.3f}" for d in delays)
            print(
                f"  suspension to first refused call, {label}: {shown} s "
                f"(target ≤ {TARGET_SUSPENSION_S:g} s: {ok})"
            )
        i = r["ingest"]
        print(
            f"  access-log ingestion: {i['lines']} lines in {i['seconds']:.1f} s "
            f"({i['lines_per_s'] or 0:.0f} lines/s)"
        )
        print(
            f"  CPU per call at {n} connections, nginx plane: platform "
            f"{r['nginx']['platform_cpu_ms']:.2f} ms (auth, cache misses only), database server "
            f"{r['nginx']['database_cpu_ms']:.2f} ms"
        )
        g = r["gateway"]
        print(
            f"  CPU per call at {n} connections: platform {g['platform_cpu_ms']:.2f} ms, "
            f"database server {g['database_cpu_ms']:.2f} ms"
        )
        parts = [f"{k} {f['wall_ms']:.2f} / {f['cpu_ms']:.2f}" for k, f in r["stages"].items()]
        print(f"  a call alone, in-process, wall / CPU ms: {', '.join(parts)}")
        print(
            f"  usage log: {r['log_rows']} rows for {r['proxied_requests']} proxied requests "
            f"(+ warm-up) {r['log_by_status']}; audit chain "
            f"{'verified' if r['audit_chain_ok'] else 'BROKEN'} ({r['audit_entries']} entries)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per loaded run")
    parser.add_argument("--latency-duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="a database the bench may drop")
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--stage-calls", type=int, default=300, help="calls per timed stage")
    parser.add_argument("--quick", action="store_true", help="4 s runs instead of 15 s")
    parser.add_argument("--keep", action="store_true", help="keep the databases (debugging)")
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-platform", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_upstream:
        return serve_fallback_upstream(args.port)
    if args.serve_platform:
        return serve_platform(args.port, args.workers)
    if args.serve_bare:
        return serve_platform(args.port, args.workers, "bare_proxy_app")
    apt_tools.require("wrk")  # every side is measured by wrk, so none is dropped
    apt_tools.require("nginx")  # the data plane compared
    if args.quick:
        args.duration, args.latency_duration, args.stage_calls = 4.0, 3.0, 100
    results: dict[str, dict[str, Any]] = {}
    up_port = free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    with (
        tempfile.TemporaryDirectory(prefix="govshare-bench-gateway-") as tmp,
        process(upstream_argv(up_port, args.companies), f"{upstream}/openapi.json"),
    ):
        listing = httpx.get(f"{upstream}/enterprises", params={"page_size": PATHS}, timeout=10)
        codes = [item["uscc"] for item in listing.json()["items"]][:PATHS]
        bare = measure_bare_proxy(args, Path(tmp), upstream, codes)
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            results[backend] = run_backend(backend, args, Path(tmp), upstream, codes)
    report(results, args, bare)
    summary = {
        "bench": "gateway",
        "targets": {
            "ratio": TARGET_RATIO,
            "added_p50_ms": TARGET_ADDED_P50_MS,
            "nginx_ratio": TARGET_NGINX_RATIO,
            "nginx_added_p50_ms": TARGET_NGINX_ADDED_P50_MS,
            "suspension_s": TARGET_SUSPENSION_S,
        },
        "connections": args.connections,
        "duration_s": args.duration,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "bare_proxy": bare,
        **results,
    }
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
