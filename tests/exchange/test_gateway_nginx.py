"""The gateway's data plane on Debian's nginx: a real nginx of the test's own (its prefix, a
free port on 127.0.0.1, never the system's service), configured by `govshare gateway
config`, asking the platform (served by Uvicorn in a thread) on every call, forwarding to a
real provider API, its access log ingested by `govshare gateway ingest` in child processes.

Calls pass and reach the provider without the consumer's credentials; a suspended grant's
next call one second later is refused with the platform's reason; a grant's rate limit
answers 429; every call is in the provider's usage log and the audit log once ingested; and
an ingestion killed (SIGKILL) mid-run and started again leaves every call there exactly once.

Runs on SQLite and PostgreSQL, each on a database of the module's own (committed, since
nginx, the platform and the ingesting processes all read it)."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, func, make_url, select, text
from sqlalchemy.orm import Session

from govshare.core import migrate
from govshare.core.audit.models import AuditEntry
from govshare.core.audit.service import verify
from govshare.core.db import make_engine, make_sessionmaker
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.core.settings import load_settings
from govshare.exchange import gateway_nginx
from govshare.exchange.models import GatewayCall, GatewayLogPosition
from govshare.exchange.service import gateway_log, gateway_plane
from govshare.sharing.models import Grant
from govshare.sharing.schemas import GrantActionIn
from govshare.sharing.service import grants
from govshare.web.app import create_app
from tests.conftest import BACKENDS, POSTGRES_URL
from tests.exchange.gateway_scenarios import USCC, ServiceWorld, limit_grant, service_world
from tests.exchange.test_gateway import PROVIDER_API

GOVSHARE = Path(sys.executable).with_name("govshare")
SECRET = "gateway-nginx-test-secret-0123456789abcdef"
PROBLEM = "application/problem+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(app: object) -> tuple[uvicorn.Server, threading.Thread, int]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "a server did not start"
        time.sleep(0.02)
    return server, thread, port


@dataclass
class Plane:
    world: ServiceWorld
    engine: Engine
    env: dict[str, str]
    url: str  # nginx's
    directory: Path

    @property
    def access_log(self) -> Path:
        return self.directory / "access.log"

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def govshare(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(GOVSHARE), *args], env=self.env, capture_output=True, text=True, timeout=120
        )

    def call(self, path: str = f"/enterprises/{USCC}", **kw: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.world.token}"}
        return httpx.get(
            f"{self.url}/gateway/{self.world.code}{path}", headers=headers, timeout=10, **kw
        )

    def flush_log(self) -> None:
        """nginx writes its buffered access log at least each second; reopening flushes it."""
        pid = int((self.directory / "nginx.pid").read_text())
        os.kill(pid, signal.SIGUSR1)
        time.sleep(0.3)

    def ingest(self, *args: str) -> None:
        self.flush_log()
        done = self.govshare("gateway", "ingest", *args)
        assert done.returncode == 0, done.stdout + done.stderr


def _database(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'platform.db'}"
    base = make_url(POSTGRES_URL)
    url = base.set(database=f"{base.database}_nginx")
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


def _drop(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def plane(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Plane]:
    if shutil.which("nginx") is None:
        pytest.fail("nginx is missing: scripts/test installs Debian's nginx")
    tmp = tmp_path_factory.mktemp(f"nginx-{request.param}")
    url = _database(request.param, tmp)
    engine = make_engine(url)
    migrate.upgrade(engine)
    upstream, upstream_thread, upstream_port = _serve(PROVIDER_API)
    nginx_port, platform_port = free_port(), free_port()
    directory = tmp / "gateway"
    env = {
        **os.environ,
        "GOVSHARE_DATA_DIR": str(tmp / "data"),
        "GOVSHARE_DATABASE_URL": url,
        "GOVSHARE_SECRET_KEY": SECRET,
        "GOVSHARE_POLICY_PROFILE": "shangrao",
        "GOVSHARE_GATEWAY_NGINX_DIR": str(directory),
        "GOVSHARE_GATEWAY_NGINX_LISTEN": f"127.0.0.1:{nginx_port}",
        "GOVSHARE_GATEWAY_NGINX_PLATFORM_URL": f"http://127.0.0.1:{platform_port}",
    }
    env.pop("GOVSHARE_CONFIG", None)
    with Session(engine, expire_on_commit=False) as db:
        world = service_world(db, f"http://127.0.0.1:{upstream_port}/api", timeout_seconds=2)
        db.commit()
    settings = load_settings(environ={k: v for k, v in env.items() if k.startswith("GOVSHARE_")})
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
    platform = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime),
            host="127.0.0.1",
            port=platform_port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
    )
    platform_thread = threading.Thread(target=platform.run, daemon=True)
    platform_thread.start()
    nginx = None
    try:
        configured = subprocess.run(
            [str(GOVSHARE), "gateway", "config"], env=env, capture_output=True, text=True
        )
        assert configured.returncode == 0, configured.stdout + configured.stderr
        config = directory / "nginx.conf"
        nginx = subprocess.Popen(
            ["nginx", "-p", str(directory), "-c", str(config), "-g", "daemon off;"],
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while not platform.started or not (directory / "nginx.pid").exists():
            assert nginx.poll() is None, (directory / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx or the platform did not start"
            time.sleep(0.05)
        yield Plane(world, engine, env, f"http://127.0.0.1:{nginx_port}", directory)
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(nginx.pid, signal.SIGKILL)
                nginx.wait()
        platform.should_exit = True
        upstream.should_exit = True
        platform_thread.join(5)
        upstream_thread.join(5)
        engine.dispose()
        _drop(url)


def _calls(plane: Plane) -> list[GatewayCall]:
    with plane.session() as db:
        return list(db.execute(select(GatewayCall).order_by(GatewayCall.id)).scalars())


def _count(plane: Plane) -> int:
    """Rows in the usage log, read without a transaction of the platform's kind (on SQLite
    that would take the write lock, and wait for a turn between the ingester's batches)."""
    url = plane.engine.url
    if url.get_backend_name() == "sqlite":
        with contextlib.closing(sqlite3.connect(url.database, timeout=30)) as connection:
            return connection.execute("SELECT count(*) FROM exchange_gateway_call").fetchone()[0]
    with plane.session() as db:
        return db.execute(select(func.count()).select_from(GatewayCall)).scalar_one()


def _problem(response: httpx.Response) -> dict:
    assert response.headers["content-type"] == PROBLEM, response.text
    return response.json()


# --- calls ----------------------------------------------------------------------------------


def test_a_granted_call_passes_without_the_consumers_credentials(plane: Plane):
    response = plane.call()
    assert response.status_code == 200, response.text
    assert response.json() == {"uscc": USCC, "name": "上饶市示例科技有限公司"}
    assert response.headers["x-upstream"] == "yes"
    assert "set-cookie" not in response.headers
    echoed = httpx.post(
        f"{plane.url}/gateway/{plane.world.code}/echo?x=1",
        headers={"Authorization": f"Bearer {plane.world.token}", "Cookie": "s=1"},
        content=b'{"a": 1}',
        timeout=10,
    )
    assert echoed.status_code == 201, echoed.text
    seen = echoed.json()
    assert seen["body"] == '{"a": 1}'
    assert "authorization" not in seen["headers"] and "cookie" not in seen["headers"]
    assert seen["headers"]["x-govshare-grant"] == plane.world.grant.number
    assert seen["headers"]["x-govshare-consumer"] == str(plane.world.consumer.id)


def test_refusals_carry_the_platforms_reason(plane: Plane):
    no_token = httpx.get(f"{plane.url}/gateway/{plane.world.code}/enterprises/{USCC}", timeout=10)
    assert no_token.status_code == 401
    assert _problem(no_token)["detail"].startswith("请在 Authorization 请求头中提供接口令牌")
    assert no_token.headers["www-authenticate"] == 'Bearer realm="govshare"'
    bad = httpx.get(
        f"{plane.url}/gateway/{plane.world.code}/enterprises/{USCC}",
        headers={"Authorization": "Bearer gs_nope.nope"},
        timeout=10,
    )
    assert bad.status_code == 401 and _problem(bad)["detail"] == "接口令牌无效"
    unknown = plane.call("/nowhere")
    assert unknown.status_code == 404
    assert _problem(unknown)["detail"] == "接口不存在：GET /nowhere"
    for escape in ("/enterprises/%2e%2e/search", "/enterprises/x/../search"):
        # sent as is (a client library would resolve the dots before sending)
        connection = http.client.HTTPConnection(plane.url.removeprefix("http://"), timeout=10)
        bearer = {"Authorization": f"Bearer {plane.world.token}"}
        connection.request("GET", f"/gateway/{plane.world.code}{escape}", headers=bearer)
        dots = connection.getresponse()
        assert dots.status == 404, escape
        connection.close()
    other = httpx.get(f"{plane.url}/gateway/999999999/000001/x", timeout=10)
    assert other.status_code == 404 and _problem(other)["status"] == 404


def test_upstream_timeouts_answer_504(plane: Plane):
    slow = plane.call("/slow")
    assert slow.status_code == 504
    assert _problem(slow)["detail"] == "上游服务超时"


def test_every_call_is_in_the_usage_log_and_the_audit_log_after_ingestion(plane: Plane):
    plane.ingest()  # the earlier tests' calls
    before = {c.request_id for c in _calls(plane)}
    sent = [plane.call() for _ in range(5)] + [plane.call("/nowhere")]
    assert [r.status_code for r in sent] == [200] * 5 + [404]
    plane.ingest()
    # nginx's workers each flush their own buffer: the log is in order per worker only
    new = sorted((c for c in _calls(plane) if c.request_id not in before), key=lambda c: c.at)
    assert [c.status for c in new] == [200] * 5 + [404]
    world = plane.world
    with plane.session() as db:
        provider = Actor(
            label="provider",
            roles=world.provider_officer.roles,
            user_id=world.provider_officer.user_id,
            organization_id=world.provider.id,
        )
        log = gateway_log.call_log(db, actor=provider, limit=500)
        logged = {c.request_id for c in log.calls}
        assert {c.request_id for c in new if c.provider_id == world.provider.id} <= logged
        assert {c.request_id for c in new[-6:]} <= logged
        forwarded = new[-6]
        assert (forwarded.grant_id, forwarded.consumer_id, forwarded.provider_id) == (
            world.grant.id,
            world.consumer.id,
            world.provider.id,
        )
        assert forwarded.endpoint == "GET /enterprises/{uscc}"
        assert forwarded.caller.startswith("token:") and forwarded.bytes_out > 0
        assert new[-1].error == "接口不存在：GET /nowhere"
        audited = Counter(
            db.execute(
                select(AuditEntry.action).where(
                    AuditEntry.object_type == "gateway_call",
                    AuditEntry.object_id.in_([str(c.id) for c in new]),
                )
            ).scalars()
        )
        assert audited == {
            "exchange.gateway.call": len([c for c in new if not c.error or c.status >= 500]),
            "exchange.gateway.refuse": len([c for c in new if c.error and c.status < 500]),
        }
        assert verify(db).ok
    plane.ingest()  # nothing new: nothing counted twice
    assert len(_calls(plane)) == len(before) + len(new)


def test_a_suspended_grants_next_call_after_one_second_is_refused(plane: Plane):
    assert plane.call().status_code == 200
    with plane.session() as db:
        grant = db.get(Grant, plane.world.grant.id)
        officer = plane.world.provider_officer
        grants.suspend_grant(
            db, actor=officer, grant_id=grant.id, data=GrantActionIn(reason="超出用途调用")
        )
        db.commit()
    time.sleep(1.0)
    refused = plane.call()
    assert refused.status_code == 403
    number = plane.world.grant.number
    assert _problem(refused)["detail"] == f"授权 {number} 已被暂停使用：超出用途调用"
    with plane.session() as db:
        grants.resume_grant(
            db,
            actor=plane.world.provider_officer,
            grant_id=plane.world.grant.id,
            data=GrantActionIn(reason="已整改"),
        )
        db.commit()
    time.sleep(1.0)
    assert plane.call().status_code == 200


def test_an_ingestion_killed_mid_run_loses_and_repeats_no_call(plane: Plane):
    plane.ingest()
    start = len(_calls(plane))
    calls = 300
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: plane.call().status_code, range(calls)))
    assert statuses == [200] * calls
    plane.flush_log()
    argv = [str(GOVSHARE), "gateway", "ingest", "--batch", "5"]
    child = subprocess.Popen(argv, env=plane.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _count(plane) < start + 20:  # a few batches are in
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the ingestion made no progress"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    partial = _count(plane)
    assert start < partial < start + calls, "the kill came too late to test anything"
    plane.ingest("--batch", "20")
    rows = _calls(plane)
    assert len(rows) == start + calls
    ids = Counter(c.request_id for c in rows)
    assert max(ids.values()) == 1 and None not in ids
    with plane.session() as db:
        audited = db.execute(
            select(func.count()).where(
                AuditEntry.object_type == "gateway_call",
                AuditEntry.action.in_(["exchange.gateway.call", "exchange.gateway.refuse"]),
            )
        ).scalar_one()
        assert audited == len(rows)
        position = db.execute(select(GatewayLogPosition)).scalar_one()
        assert position.offset == plane.access_log.stat().st_size


def test_a_rotated_log_is_finished_before_the_new_one(plane: Plane):
    plane.ingest()
    start = len(_calls(plane))
    assert plane.call().status_code == 200
    plane.flush_log()
    plane.access_log.rename(plane.access_log.with_name("access.log.1"))
    assert plane.call().status_code == 200  # still written to the renamed file
    plane.flush_log()  # nginx reopens: access.log anew
    assert plane.call().status_code == 200
    plane.ingest()
    assert len(_calls(plane)) == start + 3


def test_a_grants_rate_limit_answers_429(plane: Plane):
    with plane.session() as db:
        grant = db.get(Grant, plane.world.grant.id)
        limit_grant(db, grant, rate_limit=3)
        db.commit()
    reloaded = plane.govshare("gateway", "reload")
    assert reloaded.returncode == 0, reloaded.stdout + reloaded.stderr
    time.sleep(1.5)  # decisions cached with the old rate have expired; nginx has reloaded
    statuses = [plane.call().status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = plane.call()
    assert limited.status_code == 429
    detail = _problem(limited)["detail"]
    assert (
        detail == f"调用过于频繁：授权 {plane.world.grant.number} 每分钟最多调用 3 次，请稍后重试"
    )
    with plane.session() as db:
        reload_entry = db.execute(
            select(AuditEntry).where(AuditEntry.action == "exchange.gateway.reload")
        ).scalar_one()
        assert '"interfaces":1' in reload_entry.details.replace(" ", "")
    plane.ingest()
    # nginx's workers each flush their own buffer: the log is in order per worker only
    last = sorted(_calls(plane)[-6:], key=lambda c: c.at)
    assert [c.status for c in last] == [200, 200, 200, 429, 429, 429]
    assert last[-1].error.startswith("调用过于频繁")


def test_the_site_include_and_an_https_upstream_pass_nginx_t(tmp_path: Path):
    """`--site` writes the http {} part a system nginx includes; several rates, an https
    provider and templates with parameters all make a configuration nginx accepts."""
    plane = gateway_plane.DataPlane(
        [
            gateway_plane.PlaneInterface(
                "301001/000001",
                "https://10.0.0.5:8443/api/v1",
                3.0,
                (("GET", "/items/{id}"), ("GET", "/items/search"), ("POST", "/q")),
            )
        ],
        [30, 600],
    )
    options = gateway_nginx.NginxOptions(
        listen="127.0.0.1:18080",
        platform_url="http://127.0.0.1:8000",
        key="k" * 64,
        directory=tmp_path,
        access_log=tmp_path / "access.log",
        default_rate_limit=600,
        standalone=False,
    )
    text = gateway_nginx.render(plane, options)
    gateway_nginx.write(text, tmp_path / "site.conf", tmp_path)
    assert '"GET /items/search"' in text and "proxy_ssl_name 10.0.0.5;" in text
    assert text.index("/items/search") < text.index("/items/[^/]+")  # the literal first
    main = tmp_path / "main.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; events {{}}\n"
        f"http {{ include {tmp_path}/site.conf; }}\n"
    )
    checked = gateway_nginx.run(["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(main)])
    assert checked.returncode == 0, checked.stderr
