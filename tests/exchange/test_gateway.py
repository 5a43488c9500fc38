"""The gateway over real HTTP: a provider's API served by Uvicorn on a free local port, the
platform app in front of it. Every refusal has its status and Chinese problem+json, the
answer streams back unchanged, nothing of the consumer's credentials goes upstream, and every
call — refused ones too — is in the usage log the provider sees."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import anyio
import httpcore
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from govshare.catalog import jobs as catalog_jobs
from govshare.catalog.schemas import RetirementIn, ReviewIn
from govshare.catalog.service import retirements
from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.permissions import Actor
from govshare.exchange import gateway, gateway_steps, gateway_upstream
from govshare.exchange.models import GatewayCall, RateWindow
from govshare.exchange.service import gateway_log, interfaces
from govshare.exchange.service.gateway_admission import Admission
from govshare.identity.models import User
from govshare.sharing.schemas import GrantActionIn
from govshare.sharing.service import grants
from tests.catalog.builders import RULES
from tests.exchange.gateway_scenarios import (
    USCC,
    ServiceWorld,
    interface_in,
    limit_grant,
    service_world,
    system_token,
)
from tests.http import sign_in

PROBLEM = "application/problem+json"
CHUNKS = [b"first,", b"second,", b"third"]


# --- the provider's API ----------------------------------------------------------------------


async def _enterprise(request: Request) -> Response:
    return JSONResponse(
        {"uscc": request.path_params["uscc"], "name": "上饶市示例科技有限公司"},
        headers={"X-Upstream": "yes", "Set-Cookie": "upstream=1; Path=/"},
    )


async def _search(request: Request) -> Response:
    return JSONResponse({"query": request.url.query, "hits": []})


async def _echo(request: Request) -> Response:
    return JSONResponse(
        {"body": (await request.body()).decode(), "headers": dict(request.headers)},
        status_code=201,
    )


async def _slow(request: Request) -> Response:
    for _ in range(100):  # hangs for 10 s, or until the gateway gives up and hangs up
        if await request.is_disconnected():
            break
        await asyncio.sleep(0.1)
    return JSONResponse({"late": True})


async def _stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in CHUNKS:
            yield chunk
            await asyncio.sleep(0.01)

    return StreamingResponse(chunks(), status_code=206, media_type="text/plain")


async def _fail(request: Request) -> Response:
    return JSONResponse({"error": "数据库维护中"}, status_code=503)


async def _peer(request: Request) -> Response:
    """The port the caller's connection comes from: the same port means the same connection."""
    assert request.client is not None
    return JSONResponse({"port": request.client.port})


PROVIDER_API = Starlette(
    routes=[
        Route("/api/enterprises/search", _search),
        Route("/api/enterprises/{uscc}", _enterprise),
        Route("/api/echo", _echo, methods=["POST"]),
        Route("/api/slow", _slow),
        Route("/api/stream", _stream),
        Route("/api/fail", _fail),
        Route("/api/peer", _peer),
    ]
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def upstream() -> Iterator[str]:
    """The provider's API on a real local server, for the whole session."""
    config = uvicorn.Config(
        PROVIDER_API,
        host="127.0.0.1",
        port=free_port(),
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the provider API did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{config.port}/api"
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def sw(db: Session, upstream: str) -> ServiceWorld:
    # The upstream timeout: long enough that a busy machine answers every other call within
    # it, short enough that /slow's 504 costs the suite little.
    world = service_world(db, upstream, timeout_seconds=2)
    db.commit()
    return world


def _bearer(sw: ServiceWorld) -> dict[str, str]:
    return {"Authorization": f"Bearer {sw.token}"}


def _url(sw: ServiceWorld, path: str) -> str:
    return f"/gateway/{sw.code}{path}"


def _calls(db: Session) -> list[GatewayCall]:
    db.expire_all()
    return list(db.execute(select(GatewayCall).order_by(GatewayCall.id)).scalars())


def _problem(response) -> dict:
    assert response.headers["content-type"] == PROBLEM, response.text
    return response.json()


# --- success ---------------------------------------------------------------------------------


def test_a_granted_call_is_forwarded_and_logged(client: TestClient, db: Session, sw: ServiceWorld):
    response = client.get(_url(sw, f"/enterprises/{USCC}"), headers=_bearer(sw))
    assert response.status_code == 200, response.text
    assert response.json() == {"uscc": USCC, "name": "上饶市示例科技有限公司"}
    assert response.headers["x-upstream"] == "yes"
    assert "set-cookie" not in response.headers  # the provider cannot set platform cookies
    [call] = _calls(db)
    assert (call.status, call.endpoint, call.grant_id, call.consumer_id) == (
        200,
        "GET /enterprises/{uscc}",
        sw.grant.id,
        sw.consumer.id,
    )
    assert call.provider_id == sw.provider.id and call.error == ""
    assert call.bytes_out == len(response.content) and call.duration_ms > 0
    assert call.caller.startswith("token:")
    actions = db.execute(select(AuditEntry.action).order_by(AuditEntry.seq.desc()).limit(2))
    assert list(actions.scalars()) == ["exchange.gateway.call", "sharing.grant.access"]


def test_a_literal_endpoint_wins_over_a_template(client: TestClient, db: Session, sw):
    response = client.get(_url(sw, "/enterprises/search?name=示例&page=2"), headers=_bearer(sw))
    assert response.status_code == 200
    assert response.json()["query"] == "name=%E7%A4%BA%E4%BE%8B&page=2"
    assert _calls(db)[0].endpoint == "GET /enterprises/search"


def test_the_body_goes_upstream_but_the_consumers_credentials_do_not(
    client: TestClient, db: Session, sw: ServiceWorld
):
    headers = _bearer(sw) | {"Cookie": "gs_session=abc", "X-Govshare-Grant": "forged"}
    response = client.post(_url(sw, "/echo"), content=b'{"a": 1}', headers=headers)
    assert response.status_code == 201
    seen = response.json()
    assert seen["body"] == '{"a": 1}'
    sent = seen["headers"]
    assert "authorization" not in sent and "cookie" not in sent
    assert sent["x-govshare-grant"] == sw.grant.number
    assert sent["x-govshare-consumer"] == str(sw.consumer.id)
    assert sent["x-govshare-caller"].startswith("token:")


def test_a_streamed_answer_comes_back_with_its_status(client: TestClient, db: Session, sw):
    with client.stream("GET", _url(sw, "/stream"), headers=_bearer(sw)) as response:
        assert response.status_code == 206
        assert b"".join(response.iter_bytes()) == b"".join(CHUNKS)
    call = _calls(db)[0]
    assert (call.status, call.bytes_out) == (206, len(b"".join(CHUNKS)))


def test_an_upstream_error_is_passed_through_and_counted(client: TestClient, db: Session, sw):
    response = client.get(_url(sw, "/fail"), headers=_bearer(sw))
    assert response.status_code == 503 and response.json() == {"error": "数据库维护中"}
    assert _calls(db)[0].status == 503


# --- refusals --------------------------------------------------------------------------------


def test_an_invalid_token_is_401_and_logged(client: TestClient, db: Session, sw: ServiceWorld):
    forged = sw.token[:-4] + "xxxx"
    response = client.get(
        _url(sw, f"/enterprises/{USCC}"), headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401
    assert _problem(response)["detail"] == "接口令牌无效"
    missing = client.get(_url(sw, f"/enterprises/{USCC}"))
    assert missing.status_code == 401 and "Bearer" in _problem(missing)["detail"]
    calls = _calls(db)
    assert [(c.status, c.caller, c.provider_id) for c in calls] == [
        (401, "anonymous", sw.provider.id),
        (401, "anonymous", sw.provider.id),
    ]


def test_without_a_grant_the_call_is_403(client: TestClient, db: Session, sw: ServiceWorld):
    grants.end_grant(
        db,
        actor=sw.consumer_officer,
        grant_id=sw.grant.id,
        data=GrantActionIn(reason="不再需要"),
    )
    db.commit()
    response = client.get(_url(sw, f"/enterprises/{USCC}"), headers=_bearer(sw))
    assert response.status_code == 403
    assert _problem(response)["detail"] == f"授权 {sw.grant.number} 已终止：不再需要"
    assert _calls(db)[0].status == 403


def test_a_department_with_no_grant_at_all_is_403(client: TestClient, db: Session, sw):
    provider_token = system_token(db, sw.provider_officer, "市场监管业务系统")
    db.commit()
    headers = {"Authorization": f"Bearer {provider_token}"}
    response = client.get(_url(sw, f"/enterprises/{USCC}"), headers=headers)
    assert response.status_code == 403
    assert _problem(response)["detail"] == "本单位没有该资源的共享授权，请先申请"
    call = _calls(db)[0]
    assert (call.status, call.consumer_id, call.grant_id) == (403, sw.provider.id, None)


def test_a_suspended_grant_stops_calls_at_once(client: TestClient, db: Session, sw: ServiceWorld):
    assert client.get(_url(sw, f"/enterprises/{USCC}"), headers=_bearer(sw)).status_code == 200
    grants.suspend_grant(
        db,
        actor=sw.provider_officer,
        grant_id=sw.grant.id,
        data=GrantActionIn(reason="超出用途调用"),
    )
    db.commit()
    response = client.get(_url(sw, f"/enterprises/{USCC}"), headers=_bearer(sw))
    assert response.status_code == 403
    assert _problem(response)["detail"] == f"授权 {sw.grant.number} 已被暂停使用：超出用途调用"
    assert [c.status for c in _calls(db)] == [200, 403]


def test_a_retired_resource_is_refused_with_the_retirements_reason(
    client: TestClient, db: Session, sw: ServiceWorld
):
    reason = "企业登记信息改由省市场监管一体化平台提供"
    with clock.frozen("2026-09-02T10:00:00+08:00"):
        retirements.request_retirement(
            db,
            actor=sw.provider_officer,
            resource_id=sw.resource.id,
            data=RetirementIn(reason=reason),
        )
        retirements.review_retirement(
            db,
            actor=sw.op,
            resource_id=sw.resource.id,
            decision=ReviewIn(approve=True),
            rules=RULES,
        )
        db.commit()
    assert sw.resource.retires_on is not None
    with clock.frozen("2026-10-01T17:00:00+08:00"):  # inside the notice period: served
        assert client.get(_url(sw, f"/enterprises/{USCC}"), headers=_bearer(sw)).status_code == 200
    with clock.frozen("2026-10-02T00:30:00+08:00"):
        assert retirements.apply_due_changes(db, actor=catalog_jobs.SCHEDULER).retired == [sw.code]
        db.commit()
    with clock.frozen("2026-10-02T09:00:00+08:00"):
        response = client.get(_url(sw, f"/enterprises/{USCC}"), headers=_bearer(sw))
    assert response.status_code == 403
    assert _problem(response)["detail"] == f"资源已下架：{reason}，接口停止服务"
    assert [c.status for c in _calls(db)] == [200, 403]


def test_an_unknown_endpoint_is_404(client: TestClient, db: Session, sw: ServiceWorld):
    response = client.get(_url(sw, "/admin/users"), headers=_bearer(sw))
    assert response.status_code == 404
    assert _problem(response)["detail"] == "接口不存在：GET /admin/users"
    wrong_method = client.delete(_url(sw, f"/enterprises/{USCC}"), headers=_bearer(sw))
    assert wrong_method.status_code == 404
    escape = client.get(_url(sw, "/enterprises/%2E%2E"), headers=_bearer(sw))
    assert escape.status_code == 404
    assert [c.status for c in _calls(db)] == [404, 404, 404]


def test_an_endpoint_outside_the_grant_is_403(client: TestClient, db: Session, sw: ServiceWorld):
    limit_grant(db, sw.grant, endpoints=["GET /enterprises/{uscc}"])
    db.commit()
    assert client.get(_url(sw, f"/enterprises/{USCC}"), headers=_bearer(sw)).status_code == 200
    response = client.get(_url(sw, "/enterprises/search"), headers=_bearer(sw))
    assert response.status_code == 403
    assert _problem(response)["detail"] == "授权不包含该接口：GET /enterprises/search"
    call = _calls(db)[-1]
    assert (call.status, call.endpoint, call.grant_id) == (
        403,
        "GET /enterprises/search",
        sw.grant.id,
    )


def test_over_the_rate_limit_is_429_with_retry_after(client: TestClient, db: Session, sw):
    limit_grant(db, sw.grant, rate_limit=2)
    db.commit()
    url = _url(sw, f"/enterprises/{USCC}")
    with clock.frozen("2026-11-21T10:00:45+08:00"):
        statuses = [client.get(url, headers=_bearer(sw)).status_code for _ in range(2)]
        over = client.get(url, headers=_bearer(sw))
    assert statuses == [200, 200]
    assert over.status_code == 429 and over.headers["retry-after"] == "15"
    body = _problem(over)
    assert body["retry_after"] == 15 and "每分钟最多调用 2 次" in body["detail"]
    with clock.frozen("2026-11-21T10:01:00+08:00"):  # the next minute starts afresh
        assert client.get(url, headers=_bearer(sw)).status_code == 200
    assert [c.status for c in _calls(db)] == [200, 200, 429, 200]
    windows = db.execute(select(RateWindow.calls).where(RateWindow.grant_id == sw.grant.id))
    assert list(windows.scalars()) == [1]  # the old minute was cleared


def test_an_upstream_that_hangs_is_504_within_the_timeout(client: TestClient, db: Session, sw):
    started = time.monotonic()
    response = client.get(_url(sw, "/slow"), headers=_bearer(sw))
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    # The upstream answers 200 after 10 s: the 504 is the gateway giving up at its timeout.
    assert _problem(response)["detail"] == "上游服务超时（2 秒）"
    assert elapsed >= 2
    call = _calls(db)[0]
    assert (call.status, call.error) == (504, "上游服务超时（2 秒）")


def test_an_upstream_that_is_down_is_502(client: TestClient, db: Session, sw: ServiceWorld):
    interfaces.update_interface(
        db,
        actor=sw.provider_officer,
        interface_id=sw.interface.id,
        data=interface_in(f"http://127.0.0.1:{free_port()}/api"),
        default_timeout=10.0,
    )
    db.commit()
    response = client.get(_url(sw, f"/enterprises/{USCC}"), headers=_bearer(sw))
    # 502 at once: a timeout (10 s here) would have been a 504.
    assert response.status_code == 502
    assert _problem(response)["detail"] == "上游服务不可达：ConnectError"
    assert _calls(db)[0].status == 502


# --- the usage log the provider sees ---------------------------------------------------------


def _every_kind_of_call(client: TestClient, db: Session, sw: ServiceWorld) -> list[int]:
    good = _url(sw, f"/enterprises/{USCC}")
    limit_grant(db, sw.grant, endpoints=["GET /enterprises/{uscc}", "GET /slow"], rate_limit=3)
    db.commit()
    with clock.frozen("2026-11-21T10:00:05+08:00"):
        answers = [
            client.get(good, headers=_bearer(sw)),
            client.get(good, headers={"Authorization": "Bearer gs_nope.nope"}),
            client.get(_url(sw, "/enterprises/search"), headers=_bearer(sw)),
            client.get(_url(sw, "/missing"), headers=_bearer(sw)),
            client.get(_url(sw, "/slow"), headers=_bearer(sw)),
            client.get(good, headers=_bearer(sw)),
            client.get(good, headers=_bearer(sw)),
        ]
    # The whole story happens on one day, on a clock of its own: never the real date.
    with clock.frozen("2026-11-21T10:01:30+08:00"):
        grants.suspend_grant(
            db,
            actor=sw.provider_officer,
            grant_id=sw.grant.id,
            data=GrantActionIn(reason="核查"),
        )
        db.commit()
        answers.append(client.get(good, headers=_bearer(sw)))
    return [a.status_code for a in answers]


EXPECTED = [200, 401, 403, 404, 504, 200, 429, 403]


def test_every_call_is_in_the_providers_usage_log(client: TestClient, db: Session, sw):
    assert _every_kind_of_call(client, db, sw) == EXPECTED
    log = gateway_log.call_log(
        db, actor=sw.provider_officer, interface_id=sw.interface.id, limit=100
    )
    assert [c.status for c in log.calls] == list(reversed(EXPECTED))
    with clock.frozen("2026-11-27T18:00:00+08:00"):  # the seventh day after the calls
        stats = gateway_log.call_stats(
            db, actor=sw.provider_officer, interface_id=sw.interface.id, days=7
        )
    assert (stats.total.calls, stats.total.refused, stats.total.errors) == (8, 5, 1)
    with clock.frozen("2026-11-28T18:00:00+08:00"):  # and a week later they have left it
        stats = gateway_log.call_stats(
            db, actor=sw.provider_officer, interface_id=sw.interface.id, days=7
        )
    assert stats.total.calls == 0
    # The consumer sees its own calls; the unidentified caller's call is the provider's.
    mine = gateway_log.call_log(db, actor=sw.consumer_officer, interface_id=sw.interface.id)
    assert len(mine.calls) == 7


def _sign_in_as(client: TestClient, db: Session, actor: Actor) -> None:
    client.cookies.clear()
    assert sign_in(client, db.get(User, actor.user_id).username).status_code == 200


def test_every_call_is_on_the_providers_interface_page(client: TestClient, db: Session, sw):
    _every_kind_of_call(client, db, sw)
    _sign_in_as(client, db, sw.provider_officer)
    page = client.get(f"/exchange/interfaces/{sw.interface.id}")
    assert page.status_code == 200
    statuses = [int(s) for s in re.findall(r'class="call-row" data-status="(\d+)"', page.text)]
    assert statuses == list(reversed(EXPECTED))
    assert "上游服务超时（2 秒）" in page.text and "授权不包含该接口" in page.text
    api = client.get(f"/api/v1/exchange/interfaces/{sw.interface.id}/calls").json()
    assert [c["status"] for c in api] == list(reversed(EXPECTED))


def test_a_signed_in_user_can_try_a_get_but_not_a_write(client: TestClient, db: Session, sw):
    _sign_in_as(client, db, sw.consumer_officer)
    tried = client.get(_url(sw, f"/enterprises/{USCC}"))
    assert tried.status_code == 200
    write = client.post(_url(sw, "/echo"), content=b"{}")
    assert write.status_code == 401
    caller = _calls(db)[0].caller
    assert not caller.startswith("token:")


def test_the_audit_chain_holds_after_gateway_traffic(client: TestClient, db: Session, sw):
    from govshare.core.audit.service import verify

    _every_kind_of_call(client, db, sw)
    assert verify(db).ok


# --- group commit ----------------------------------------------------------------------------


def test_a_failing_call_in_a_group_does_not_fail_the_others(app: FastAPI, db: Session) -> None:
    """Calls that arrive together share a transaction; when it fails, each is retried alone."""
    runtime = app.state.runtime
    seen: list[list[int]] = []

    def step(db_session: Session, settings: object, item: int) -> int:
        if item == 2:
            raise RuntimeError("bad call")
        return db_session.execute(select(func.count()).select_from(GatewayCall)).scalar_one() + item

    group = gateway_steps.GroupCommit(runtime.sessions, runtime.settings, step)
    together = group._together
    group._together = lambda items: seen.append(list(items)) or together(items)  # type: ignore[method-assign]

    async def three_at_once() -> list[object]:
        return await asyncio.gather(*(group.run(i) for i in (1, 2, 3)), return_exceptions=True)

    one, two, three = asyncio.run(three_at_once())
    assert (one, three) == (1, 3) and isinstance(two, RuntimeError)
    assert seen == [[1, 2, 3], [1], [2], [3]]  # together, then one by one


def test_calls_queued_behind_a_failing_call_still_go(app: FastAPI, db: Session) -> None:
    runtime = app.state.runtime

    def step(db_session: Session, settings: object, item: int) -> int:
        if item == 2:
            time.sleep(0.2)  # the others queue up meanwhile
            raise RuntimeError("bad call")
        return item

    group = gateway_steps.GroupCommit(runtime.sessions, runtime.settings, step)

    async def one_then_two() -> list[object]:
        failing = asyncio.ensure_future(group.run(2))
        await asyncio.sleep(0.05)
        return await asyncio.gather(failing, group.run(1), group.run(3), return_exceptions=True)

    two, one, three = asyncio.run(one_then_two())
    assert isinstance(two, RuntimeError) and (one, three) == (1, 3)


def test_cookies_the_upstream_sets_never_ride_on_later_calls(
    client: TestClient, db: Session, sw: ServiceWorld
):
    assert client.get(_url(sw, f"/enterprises/{USCC}"), headers=_bearer(sw)).status_code == 200
    echoed = client.post(_url(sw, "/echo"), content=b"{}", headers=_bearer(sw)).json()
    assert "cookie" not in echoed["headers"]  # one consumer's upstream session is not another's


# --- the upstream connections ----------------------------------------------------------------


def _pool(max_connections: int = 10) -> gateway_upstream.Upstreams:
    return gateway_upstream.Upstreams(
        httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    )


async def _get(
    pool: gateway_upstream.Upstreams, url: str, timeout: float = 5.0
) -> tuple[int, bytes]:
    """GET `url` through the gateway's upstream connections: the status and the body."""
    parsed = httpx.URL(url)
    request = gateway_upstream.upstream_request(
        "GET", f"http://{parsed.netloc.decode()}", parsed.raw_path, [], b"", timeout
    )
    answer = await pool.send(request)
    try:
        return answer.status, b"".join([chunk async for chunk in answer.chunks()])
    finally:
        await answer.aclose()


def test_the_upstream_request_carries_the_callers_headers_and_only_its_own_framing() -> None:
    """Host and Content-Length are the gateway's; nothing else is added (an Accept-Encoding
    the caller did not send would make the upstream compress what is streamed through)."""
    request = gateway_upstream.upstream_request(
        "POST",
        "http://10.1.2.3:8080/api",
        b"/items/42?full=1",
        [(b"content-type", b"application/json")],
        b"",
        2.5,
    )
    assert request.headers == [
        (b"host", b"10.1.2.3:8080"),
        (b"content-type", b"application/json"),
        (b"content-length", b"0"),
    ]
    assert (request.url.host, request.url.port) == (b"10.1.2.3", 8080)
    assert request.url.target == b"/api/items/42?full=1"
    assert request.extensions["timeout"] == dict.fromkeys(("connect", "read", "write", "pool"), 2.5)
    get = gateway_upstream.upstream_request(
        "GET", "https://api.example.gov.cn", b"/x", [], b"", 1.0
    )
    assert get.headers == [(b"host", b"api.example.gov.cn")]
    assert (get.url.scheme, get.url.port, get.url.target) == (b"https", 443, b"/x")


def test_the_callers_path_goes_upstream_as_sent_with_raw_bytes_encoded() -> None:
    scope = {
        "path": "/gateway/301001/000001/items/a b/%2F/名",
        "raw_path": "/gateway/301001/000001/items/a b/%2F/名".encode(),
        "query_string": "q=示 例&page=2".encode(),
    }
    target = gateway._upstream_target(scope, "/items/a b/%2F/名")
    assert target == b"/items/a%20b/%2F/%E5%90%8D?q=%E7%A4%BA%20%E4%BE%8B&page=2"


def test_upstream_connections_are_kept_and_reused(upstream: str) -> None:
    async def ports() -> list[bytes]:
        pool = _pool()
        try:
            return [(await _get(pool, f"{upstream}/peer"))[1] for _ in range(3)]
        finally:
            await pool.aclose()

    first, second, third = asyncio.run(ports())
    assert first == second == third


def test_a_connection_the_upstream_closed_while_idle_is_replaced() -> None:
    """The server hangs up after each answer without saying so (no Connection: close): the
    next call must not be sent down the dead socket."""

    async def answers() -> list[bytes]:
        async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
            await reader.readuntil(b"\r\n\r\n")
            port = str(writer.get_extra_info("peername")[1]).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(port), port))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        pool = _pool()
        try:
            bodies = []
            for _ in range(3):
                status, body = await _get(pool, url)
                assert status == 200
                bodies.append(body)
                await asyncio.sleep(0.05)  # the hang-up reaches the idle connection
            return bodies
        finally:
            await pool.aclose()
            server.close()

    bodies = asyncio.run(answers())
    assert len(set(bodies)) == 3  # three connections, every call answered


def test_failed_and_abandoned_calls_give_their_connection_back(upstream: str) -> None:
    """With a single connection allowed, every call below must still get it: a refused
    connection, a read timeout and an answer closed half-read all free it."""

    async def calls() -> list[object]:
        pool = _pool(max_connections=1)
        outcomes: list[object] = []
        try:
            # A connection never given back would hang here; the limit is a guard against
            # that, generous enough for a busy machine, never a speed check.
            with anyio.fail_after(30):
                try:
                    await _get(pool, f"http://127.0.0.1:{free_port()}/")
                except httpcore.ConnectError as exc:
                    outcomes.append(type(exc).__name__)
                # Connected first, so that the short timeout below can only run out reading
                # (on a busy machine connecting alone may take longer than 0.2 s).
                outcomes.append((await _get(pool, f"{upstream}/peer"))[0])
                try:
                    await _get(pool, f"{upstream}/slow", timeout=0.2)
                except httpcore.ReadTimeout as exc:
                    outcomes.append(type(exc).__name__)
                parsed = httpx.URL(f"{upstream}/stream")
                answer = await pool.send(
                    gateway_upstream.upstream_request(
                        "GET", f"http://{parsed.netloc.decode()}", parsed.raw_path, [], b"", 5.0
                    )
                )
                async for _ in answer.chunks():
                    break
                await answer.aclose()
                outcomes.append(answer.status)
                outcomes.append((await _get(pool, f"{upstream}/peer"))[0])
        finally:
            await pool.aclose()
        return outcomes

    assert asyncio.run(calls()) == ["ConnectError", 200, "ReadTimeout", 206, 200]


def test_logs_alone_commit_without_waiting_for_the_disk_but_not_with_an_admission(
    app: FastAPI, db: Session
) -> None:
    """Admissions and logs share the group commit; a group holding an admission commits
    synchronously (the admission is on record before the call goes upstream)."""
    runtime = app.state.runtime
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")

    def step(db_session: Session, settings: object, item: object) -> str:
        return db_session.execute(text("SHOW synchronous_commit")).scalar_one()

    group = gateway_steps.GroupCommit(runtime.sessions, runtime.settings, step, gateway_steps.begin)
    admission = Admission(actor=Actor.anonymous(), method="GET", path="/", resource_code="x")
    outcome = gateway_steps.Outcome(admission, 200, 0, 1.0, "")
    call = gateway_steps.Call("x", "GET", "/", "", None, None, time.perf_counter(), None)

    async def together(*items: object) -> list[object]:
        return await asyncio.gather(*(group.run(item) for item in items))

    assert asyncio.run(together(outcome, call)) == ["on", "on"]
    assert asyncio.run(together(outcome, outcome)) == ["off", "off"]
