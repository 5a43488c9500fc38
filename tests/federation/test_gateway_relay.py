"""Gateway calls through the platform below (SHR-8): a city department granted a provincial
service interface calls it through the city; the province's gateway admits the call against
the grant (endpoints, rate limit, timeout) and logs it, and both platforms' audit logs carry
the same message id. A department without the grant, or a call outside it, is refused in
Chinese."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from govshare.core.audit.models import AuditEntry
from govshare.core.errors import NotFound
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.exchange.models import GatewayCall
from govshare.exchange.service import interfaces
from govshare.federation import gateway_relay, requests
from govshare.federation.models import PlatformLevel
from govshare.federation.request_models import MirroredGrant
from govshare.federation.request_schemas import ReviewIn, UpperRequestIn
from govshare.identity.models import Organization
from govshare.sharing.models import Application
from govshare.sharing.schemas import DecisionIn, PreReviewIn
from govshare.sharing.service import decisions
from govshare.web.app import create_app
from tests.builders import actor_of, organization, system_of, user
from tests.exchange.gateway_scenarios import USCC, interface_in, service_resource
from tests.federation.builders import Platform, peered, platform
from tests.http import csrf_for, sign_in
from tests.sharing.builders import SHANGRAO, sealed_letter


async def _enterprise(request: Request) -> Response:
    return JSONResponse({"uscc": request.path_params["uscc"], "name": "江西示例科技有限公司"})


async def _echo(request: Request) -> Response:
    return JSONResponse(
        {
            "body": (await request.body()).decode(),
            "query": request.url.query,
            "headers": dict(request.headers),
        },
        status_code=201,
    )


PROVINCE_API = Starlette(
    routes=[
        Route("/api/enterprises/{uscc}", _enterprise),
        Route("/api/echo", _echo, methods=["POST"]),
    ]
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """The province's provider API on a real local server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        PROVINCE_API, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the provider API did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/api"
    server.should_exit = True
    thread.join(5)


PROVINCE, CITY = "360000", "361100"
ITEMS = ["统一社会信用代码", "企业名称"]


@dataclass
class World:
    province: Platform
    city: Platform
    upper_id: int
    code: str
    civil: Actor
    health: Actor
    grant_id: int  # the civil affairs bureau's mirrored grant at the city
    grant_number: str


@pytest.fixture
def world(tmp_path: Path, upstream: str) -> Iterator[World]:
    with (
        platform(
            tmp_path / "province", PROVINCE, "江西省政务数据共享平台", PlatformLevel.PROVINCE
        ) as p,
        platform(tmp_path / "city", CITY, "江州市政务数据共享平台", PlatformLevel.CITY) as c,
    ):
        _, upper_id = peered(p, c)
        with p.runtime.transaction() as db:
            provider = organization(db, "江西省市场监督管理局")
            provider_officer = actor_of(user(db, provider, [Role.DATA_OFFICER], "amr"))
            resource = service_resource(
                db,
                provider_officer,
                p.actor,
                share_type="conditional",
                share_conditions="仅限办理企业开办、社会救助业务的部门使用",
                legal_basis="《优化营商环境条例》第三十七条",
            )
            interfaces.register_interface(
                db,
                actor=provider_officer,
                resource_id=resource.id,
                data=interface_in(upstream, timeout_seconds=5),
                default_timeout=10.0,
            )
            code = resource.code
        with c.runtime.transaction() as db:
            civil = organization(db, "江州市民政局")
            health = organization(db, "江州市卫生健康委员会")
            civil_officer = actor_of(user(db, civil, [Role.DATA_OFFICER], "civil"))
            health_officer = actor_of(user(db, health, [Role.DATA_OFFICER], "health"))
            civil_system = system_of(db, civil.id)
        request_id = requests.file_request(
            c.runtime,
            actor=civil_officer,
            data=UpperRequestIn.model_validate(
                {
                    "resource_code": code,
                    "fields": ITEMS,
                    "purpose": "核验社会救助申请人名下企业",
                    "basis": "《社会救助暂行办法》第十一条",
                    "system_id": civil_system,
                    "valid_from": date(2026, 10, 1),
                    "valid_until": date(2027, 9, 30),
                    "accept_restrictions": True,
                }
            ),
            uploads=[sealed_letter()],
        )
        with c.runtime.transaction() as db:
            requests.review(
                db, actor=c.actor, request_id=request_id, data=ReviewIn(approve=True, comment="")
            )
        bundle_id = requests.forward(c.runtime, actor=c.actor, peer_id=upper_id, resource_code=code)
        with p.runtime.transaction() as db:
            (application,) = db.execute(select(Application)).scalars()
            decisions.pre_review(
                db, actor=p.actor, application_id=application.id, data=PreReviewIn(forward=True)
            )
            decisions.decide(
                db,
                actor=provider_officer,
                profile=SHANGRAO,
                application_id=application.id,
                data=DecisionIn(approve=True, endpoints=["GET /enterprises/{uscc}", "POST /echo"]),
            )
        requests.pull(c.runtime, actor=c.actor, bundle_id=bundle_id)
        with c.runtime.transaction() as db:
            (mirrored,) = db.execute(select(MirroredGrant)).scalars()
            grant_id, grant_number = mirrored.id, mirrored.number
        yield World(p, c, upper_id, code, civil_officer, health_officer, grant_id, grant_number)


def _audits(runtime: Runtime, action: str) -> list[dict[str, Any]]:
    with runtime.transaction() as db:
        entries = db.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        ).scalars()
        return [json.loads(e.details) | {"_actor": e.actor_label} for e in entries]


def _calls(runtime: Runtime) -> list[GatewayCall]:
    with runtime.transaction() as db:
        found = list(db.execute(select(GatewayCall).order_by(GatewayCall.id)).scalars())
        db.expunge_all()
        return found


def test_a_department_calls_the_upper_service_interface_through_the_city(world: World) -> None:
    w = world
    answer = gateway_relay.call(
        w.city.runtime,
        actor=w.civil,
        grant_id=w.grant_id,
        method="GET",
        path=f"enterprises/{USCC}",
    )
    assert answer.status == 200
    assert json.loads(answer.body) == {"uscc": USCC, "name": "江西示例科技有限公司"}
    assert answer.headers["content-type"] == "application/json"

    echoed = gateway_relay.call(
        w.city.runtime,
        actor=w.civil,
        grant_id=w.grant_id,
        method="POST",
        path="/echo",
        query="page=2",
        headers={"Content-Type": "application/json", "Authorization": "Bearer secret"},
        body=b'{"a": 1}',
    )
    assert echoed.status == 201
    seen = json.loads(echoed.body)
    assert seen["body"] == '{"a": 1}' and seen["query"] == "page=2"
    assert seen["headers"]["content-type"] == "application/json"
    assert "authorization" not in seen["headers"]  # only the content headers travel
    assert seen["headers"]["x-govshare-grant"] == w.grant_number

    # The province's gateway logged both calls as the department, through the city.
    with w.province.runtime.transaction() as db:
        department = db.execute(
            select(Organization).where(Organization.name == "江州市民政局")
        ).scalar_one()
        department_id = department.id
    calls = _calls(w.province.runtime)
    assert [(c.status, c.endpoint) for c in calls] == [
        (200, "GET /enterprises/{uscc}"),
        (201, "POST /echo"),
    ]
    assert all(c.consumer_id == department_id for c in calls)
    assert all(c.caller.startswith(f"platform:{CITY}/") for c in calls)
    assert calls[0].bytes_out == len(answer.body)

    # One message id per call, in both platforms' audit logs.
    sent = [
        s["message_id"]
        for s in _audits(w.city.runtime, "federation.message.sent")
        if s["kind"] == "gateway.call"
    ]
    received = [
        r["message_id"]
        for r in _audits(w.province.runtime, "federation.message.received")
        if r["kind"] == "gateway.call"
    ]
    assert sent == received == [answer.message_id, echoed.message_id]
    uses = _audits(w.city.runtime, "federation.upper_grant.call")
    assert [u["message_id"] for u in uses] == sent
    assert uses[0]["_actor"] == w.civil.label and uses[0]["status"] == 200
    relayed = _audits(w.province.runtime, "federation.relay.gateway")
    assert [r["message_id"] for r in relayed] == sent
    assert relayed[0]["endpoint"] == "GET /enterprises/{uscc}"
    assert len(_audits(w.province.runtime, "exchange.gateway.call")) == 2


def test_calls_outside_the_grant_are_refused_in_chinese(world: World) -> None:
    w = world
    # another department cannot use the civil affairs bureau's grant
    with pytest.raises(NotFound, match="本单位没有上级授权"):
        gateway_relay.call(
            w.city.runtime, actor=w.health, grant_id=w.grant_id, method="GET", path="/echo"
        )
    refused = _audits(w.city.runtime, "federation.upper_grant.call")
    assert (
        refused[-1]["_actor"] == w.health.label and "本单位没有上级授权" in refused[-1]["refused"]
    )
    assert _calls(w.province.runtime) == []  # nothing went up

    # an endpoint the grant does not name is refused by the province's gateway, and logged
    with pytest.raises(gateway_relay.UpperRefused, match="上级平台拒绝了调用：接口不存在") as info:
        gateway_relay.call(
            w.city.runtime, actor=w.civil, grant_id=w.grant_id, method="GET", path="/nowhere"
        )
    assert info.value.status == 404
    (call,) = _calls(w.province.runtime)
    assert call.status == 404 and "接口不存在" in call.error
    message_id = _audits(w.city.runtime, "federation.upper_grant.call")[-1]["message_id"]
    relayed = _audits(w.province.runtime, "federation.relay.gateway")
    assert relayed[-1]["message_id"] == message_id and "接口不存在" in relayed[-1]["refused"]


def test_the_api_relays_a_call(world: World) -> None:
    w = world
    client = TestClient(create_app(w.city.runtime))
    assert sign_in(client, "civil").status_code == 200
    base = f"/api/v1/federation/upper-grants/{w.grant_id}/gateway"
    got = client.get(f"{base}/enterprises/{USCC}")
    assert got.status_code == 200, got.text
    assert got.json()["uscc"] == USCC
    posted = client.post(
        f"{base}/echo?x=1",
        headers=csrf_for(client.app, client) | {"Content-Type": "text/plain"},  # type: ignore[arg-type]
        content=b"hello",
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["body"] == "hello" and posted.json()["query"] == "x=1"
    message_ids = {
        r["message_id"] for r in _audits(w.province.runtime, "federation.message.received")
    }
    assert {got.headers["x-govshare-message-id"], posted.headers["x-govshare-message-id"]} <= (
        message_ids
    )
    missing = client.get(f"{base}/nowhere")
    assert missing.status_code == 404 and "接口不存在" in missing.json()["detail"]
