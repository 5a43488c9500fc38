"""Service interfaces: registration from endpoint rows or an OpenAPI document, the rules on
the base URL and the endpoints, who sees what (consumers never the provider's address), the
endpoint matching the gateway relies on, the provider's call statistics, and the same over
the JSON API and the pages."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor, Role
from govshare.exchange.models import ServiceInterface, UseKind
from govshare.exchange.service import gateway_admission, gateway_log, interfaces, usage
from govshare.exchange.service.gateway_admission import Admission, match_endpoint
from govshare.exchange.service.interfaces import EndpointIn
from govshare.identity import service as identity_service
from govshare.identity.models import User
from govshare.sharing.schemas import GrantActionIn
from govshare.sharing.service import access, grants
from tests.builders import actor_of, organization, user
from tests.catalog.builders import published
from tests.exchange.gateway_scenarios import (
    ENDPOINTS,
    USCC,
    ServiceWorld,
    admitted,
    consumer_system,
    direct_grant,
    interface_in,
    limit_grant,
    service_resource,
    service_world,
    system_token,
)
from tests.http import csrf_for, sign_in

PROBLEM = "application/problem+json"
OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "企业年报信息服务", "version": "1.0"},
    "servers": [{"url": "https://10.8.0.12:8443/annual/v1"}],
    "paths": {
        "/reports/{uscc}": {
            "get": {"summary": "查询企业年报", "operationId": "getReport"},
            "parameters": [{"name": "uscc", "in": "path", "required": True}],
        },
        "/reports": {"post": {"operationId": "submitReport"}},
    },
}


@pytest.fixture
def sw(db: Session) -> ServiceWorld:
    world = service_world(db, "http://10.1.2.3:8080/api/")
    db.commit()
    return world


def _annual(sw: ServiceWorld):
    return service_resource(sw.db, sw.provider_officer, sw.op, name="企业年报信息查询服务")


def _last_audit(db: Session) -> AuditEntry:
    return db.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()


# --- registration ------------------------------------------------------------------------------


def test_registering_from_rows_publishes_the_endpoints(db: Session, sw: ServiceWorld) -> None:
    interface = sw.interface
    assert interface.base_url == "http://10.1.2.3:8080/api"  # the trailing slash is dropped
    assert [e.signature for e in interface.endpoints] == [
        f"{e['method']} {e['path']}" for e in ENDPOINTS
    ]
    entry = db.execute(
        select(AuditEntry).where(AuditEntry.action == "exchange.interface.register")
    ).scalar_one()
    details = json.loads(entry.details)
    assert details["resource"] == sw.code and details["endpoints"][0] == "GET /enterprises/{uscc}"


def test_registering_from_an_openapi_document_reads_paths_and_server(
    db: Session, sw: ServiceWorld
) -> None:
    resource = _annual(sw)
    interface = interfaces.register_interface(
        db,
        actor=sw.provider_officer,
        resource_id=resource.id,
        data=interfaces.InterfaceIn(openapi=OPENAPI),
        default_timeout=7.5,
    )
    assert interface.base_url == "https://10.8.0.12:8443/annual/v1"
    assert interface.timeout_seconds == 7.5  # the settings' default
    assert [(e.signature, e.summary) for e in interface.endpoints] == [
        ("GET /reports/{uscc}", "查询企业年报"),
        ("POST /reports", "submitReport"),
    ]
    assert interface.openapi == OPENAPI


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"swagger": "2.0", "paths": {}}, "只支持 OpenAPI 3"),
        ({"openapi": "3.0.0", "paths": {}}, "没有 paths"),
        ({"openapi": "3.0.0", "paths": {"/a": {"parameters": []}}}, "没有可用的接口"),
        ({"openapi": "3.0.0", "paths": {"a/b": {"get": {}}}}, "须以 / 开头"),
    ],
)
def test_an_unusable_openapi_document_is_refused(document: dict, message: str) -> None:
    with pytest.raises(Invalid, match=message) as refused:
        interfaces.parse_openapi(document)
    assert refused.value.field == "openapi"


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("", "请填写服务的基础地址"),
        ("ftp://10.1.2.3/api", "http:// 或 https://"),
        ("http:///api", "http:// 或 https://"),
        ("http://admin:secret@10.1.2.3/api", "不能包含用户名或密码"),
        ("http://10.1.2.3/api?key=1", "不能包含查询参数"),
        ("http://10.1.2.3:99999/api", "端口号无效"),
    ],
)
def test_a_bad_base_url_is_refused_naming_the_field(
    db: Session, sw: ServiceWorld, base_url: str, message: str
) -> None:
    with pytest.raises(Invalid, match=message) as refused:
        interfaces.register_interface(
            db,
            actor=sw.provider_officer,
            resource_id=_annual(sw).id,
            data=interface_in(base_url),
            default_timeout=10,
        )
    assert refused.value.field == "base_url"


def test_endpoint_rows_are_checked() -> None:
    with pytest.raises(ValidationError, match="须以 / 开头"):
        EndpointIn(method="GET", path="enterprises")
    with pytest.raises(ValidationError, match=r"不能包含 \. 或 \.\. 段"):
        EndpointIn(method="GET", path="/a/../b")
    with pytest.raises(ValidationError, match="请求方法只能是"):
        EndpointIn(method="FETCH", path="/a")
    assert EndpointIn(method="post", path="/licences/verify").signature == "POST /licences/verify"


def test_duplicate_or_missing_endpoints_are_refused(db: Session, sw: ServiceWorld) -> None:
    resource = _annual(sw)
    twice = [ENDPOINTS[0], {**ENDPOINTS[0], "summary": "又一次"}]
    for endpoints, message in ((twice, "第 2 个接口重复"), ([], "请至少登记一个接口")):
        with pytest.raises(Invalid, match=message):
            interfaces.register_interface(
                db,
                actor=sw.provider_officer,
                resource_id=resource.id,
                data=interface_in("http://10.1.2.3/api", endpoints=endpoints),
                default_timeout=10,
            )


def test_only_the_providers_officer_registers_for_a_service_resource(
    db: Session, sw: ServiceWorld
) -> None:
    resource = _annual(sw)
    data = interface_in("http://10.1.2.3/api")
    staff = actor_of(user(db, sw.provider, [Role.DEPARTMENT_STAFF]))
    with pytest.raises(Forbidden):
        interfaces.register_interface(
            db, actor=staff, resource_id=resource.id, data=data, default_timeout=10
        )
    with pytest.raises(NotFound):  # another department's resource is not found
        interfaces.register_interface(
            db, actor=sw.consumer_officer, resource_id=resource.id, data=data, default_timeout=10
        )
    table = published(db, sw.provider_officer, sw.op, name="企业登记信息表")
    with pytest.raises(Conflict, match="资源格式须为“服务接口”"):
        interfaces.register_interface(
            db, actor=sw.provider_officer, resource_id=table.id, data=data, default_timeout=10
        )
    with pytest.raises(Conflict, match="已登记服务接口"):
        interfaces.register_interface(
            db, actor=sw.provider_officer, resource_id=sw.resource.id, data=data, default_timeout=10
        )
    registered = interfaces.register_interface(  # the operator may, for any department
        db, actor=sw.op, resource_id=resource.id, data=data, default_timeout=10
    )
    assert registered.resource.provider_id == sw.provider.id
    assert interfaces.registrable_resources(db, actor=sw.provider_officer) == []


def test_an_update_is_audited_with_what_changed_and_applies_to_the_next_call(
    db: Session, sw: ServiceWorld
) -> None:
    limit_grant(db, sw.grant, endpoints=["GET /enterprises/search"])
    assert admitted(sw, "/enterprises/search").allowed
    interfaces.update_interface(
        db,
        actor=sw.provider_officer,
        interface_id=sw.interface.id,
        data=interface_in("http://10.1.2.9/api", timeout_seconds=3, endpoints=ENDPOINTS[:1]),
        default_timeout=10,
    )
    details = json.loads(_last_audit(db).details)
    assert details["changed"]["base_url"] == ["http://10.1.2.3:8080/api", "http://10.1.2.9/api"]
    assert details["changed"]["timeout_seconds"] == [5.0, 3.0]
    assert "GET /enterprises/search" in details["changed"]["endpoints_removed"]
    # /enterprises/search now falls to the template, which the grant does not name.
    refused = admitted(sw, "/enterprises/search")
    assert refused.refusal is not None
    assert refused.refusal.message == "授权不包含该接口：GET /enterprises/{uscc}"
    with pytest.raises(Forbidden):
        interfaces.update_interface(
            db,
            actor=sw.consumer_officer,
            interface_id=sw.interface.id,
            data=interface_in("http://10.1.2.9/api"),
            default_timeout=10,
        )


# --- who sees what -----------------------------------------------------------------------------


def test_consumers_see_their_interfaces_but_never_the_providers_address(
    db: Session, sw: ServiceWorld
) -> None:
    listed = interfaces.list_interfaces(db, actor=sw.consumer_officer)
    assert [i.id for i in listed] == [sw.interface.id]
    assert not interfaces.sees_upstream(sw.consumer_officer, sw.interface)
    assert interfaces.sees_upstream(sw.provider_officer, sw.interface)
    stranger = actor_of(user(db, organization(db, "市林业局"), [Role.DATA_OFFICER]))
    assert interfaces.list_interfaces(db, actor=stranger) == []
    with pytest.raises(NotFound):
        interfaces.get_interface(db, actor=stranger, interface_id=sw.interface.id)
    auditor = actor_of(user(db, organization(db, "市审计局"), [Role.AUDITOR]))
    assert interfaces.get_interface(db, actor=auditor, interface_id=sw.interface.id)
    with pytest.raises(Forbidden, match="调用统计只向资源提供部门和监管单位提供"):
        gateway_log.call_stats(db, actor=sw.consumer_officer, interface_id=sw.interface.id)


def test_the_most_literal_matching_endpoint_is_chosen() -> None:
    endpoints = [("GET", "/items/{id}"), ("GET", "/items/search"), ("POST", "/items")]
    assert match_endpoint(endpoints, "GET", "/items/search") == "GET /items/search"
    assert match_endpoint(endpoints, "GET", "/items/42") == "GET /items/{id}"
    assert match_endpoint(endpoints, "GET", "/items/42/extra") is None
    assert match_endpoint(endpoints, "GET", "/items/..") is None
    assert match_endpoint(endpoints, "DELETE", "/items/42") is None
    assert match_endpoint([("GET", "/files/{name}.json")], "GET", "/files/a.json")


# --- the gateway's grant check --------------------------------------------------------------


def _access_entries(db: Session, count: int) -> list[tuple[str, str, str]]:
    rows = db.execute(
        select(AuditEntry.action, AuditEntry.object_id, AuditEntry.details)
        .order_by(AuditEntry.seq.desc())
        .limit(count)
    )
    return [tuple(row) for row in rows]


def _agree(sw: ServiceWorld, actor: Actor) -> access.CallAccess:
    """check_call_access and check_access decide alike and record the same entry."""
    lean = access.check_call_access(sw.db, actor=actor, resource_id=sw.resource.id)
    full = access.check_access(sw.db, actor=actor, resource_id=sw.resource.id)
    assert (lean.allowed, lean.reason) == (full.allowed, full.reason)
    if full.grant is None:
        assert lean.grant is None
    else:
        assert lean.grant is not None
        held = (full.grant.id, full.grant.number, full.grant.endpoints, full.grant.rate_limit)
        assert (
            lean.grant.id,
            lean.grant.number,
            lean.grant.endpoints,
            lean.grant.rate_limit,
        ) == held
    second, first = _access_entries(sw.db, 2)
    assert first == second and first[:2] == ("sharing.grant.access", str(sw.resource.id))
    return lean


def test_the_gateways_grant_check_decides_and_records_as_check_access(
    db: Session, sw: ServiceWorld
) -> None:
    system = consumer_system(sw)
    limit_grant(db, sw.grant, endpoints=["GET /enterprises/{uscc}"], rate_limit=5)
    allowed = _agree(sw, system)
    assert allowed.allowed and allowed.grant.endpoints == ["GET /enterprises/{uscc}"]
    with clock.frozen("2026-08-31T12:00:00+08:00"):  # before the grant's first day
        assert "起生效" in _agree(sw, system).reason
    sw.grant.valid_until = date(2026, 12, 31)
    db.flush()
    with clock.frozen("2027-01-01T09:00:00+08:00"):
        assert "到期" in _agree(sw, system).reason
    grants.suspend_grant(
        db, actor=sw.provider_officer, grant_id=sw.grant.id, data=GrantActionIn(reason="核查")
    )
    assert _agree(sw, system).reason.endswith("已被暂停使用：核查")
    grants.end_grant(
        db, actor=sw.provider_officer, grant_id=sw.grant.id, data=GrantActionIn(reason="停用")
    )
    assert _agree(sw, system).reason.endswith("已终止：停用")
    renewed = direct_grant(db, sw.consumer_officer, sw.resource)
    assert _agree(sw, system).grant.id == renewed.id
    grants.suspend_grant(
        db, actor=sw.provider_officer, grant_id=renewed.id, data=GrantActionIn(reason="复核")
    )
    assert _agree(sw, system).reason == f"授权 {renewed.number} 已被暂停使用：复核"  # the newest
    provider_system = identity_service.resolve_api_token(
        db, token=system_token(db, sw.provider_officer, "市场监管业务系统")
    )
    nothing = _agree(sw, provider_system)
    assert not nothing.allowed and nothing.grant is None
    for outsider in (Actor.anonymous(), sw.op):
        with pytest.raises(Forbidden):
            access.check_call_access(db, actor=outsider, resource_id=sw.resource.id)


# --- statistics and the log --------------------------------------------------------------------


def _log(sw: ServiceWorld, admission: Admission, *durations: float, status: int = 200) -> None:
    for duration in durations:
        gateway_admission.log_call(sw.db, admission=admission, status=status, duration_ms=duration)


def test_statistics_per_consumer_and_endpoint_with_nearest_rank_percentiles(
    db: Session, sw: ServiceWorld
) -> None:
    one = admitted(sw)
    search = admitted(sw, "/enterprises/search")
    with clock.frozen(clock.now() - timedelta(days=10)):  # only in the 30-day figures
        _log(sw, one, 1000.0)
    _log(sw, one, *[float(d) for d in range(1, 21)])  # 1 … 20 ms
    _log(sw, one, 30000.0, status=504)
    _log(sw, search, 5.0, 7.0)
    admitted(sw, "/nowhere")  # refused (404) and logged, not in the percentiles
    stats = gateway_log.call_stats(db, actor=sw.provider_officer, interface_id=sw.interface.id)
    by_endpoint = {r.endpoint: r for r in stats.rows}
    row = by_endpoint["GET /enterprises/{uscc}"]
    assert (row.calls, row.refused, row.errors) == (21, 0, 1)
    assert (row.p50_ms, row.p95_ms) == (11.0, 20.0)  # ranks 11 and 20 of 21
    assert row.consumer == "市行政审批局"
    assert (by_endpoint["GET /enterprises/search"].p50_ms, by_endpoint[""].refused) == (5.0, 1)
    assert (stats.total.calls, stats.total.refused, stats.total.errors) == (24, 1, 1)
    month = gateway_log.call_stats(
        db, actor=sw.provider_officer, interface_id=sw.interface.id, days=30
    )
    assert month.total.calls == 25 and month.total.p95_ms == 1000.0
    with pytest.raises(Invalid, match="统计周期只能是 7 或 30 天"):
        gateway_log.call_stats(db, actor=sw.op, interface_id=sw.interface.id, days=90)


def test_the_log_pages_back_and_is_scoped(db: Session, sw: ServiceWorld) -> None:
    one = admitted(sw)
    _log(sw, one, 1.0, 2.0, 3.0)
    first = gateway_log.call_log(db, actor=sw.provider_officer, limit=2)
    assert [c.duration_ms for c in first.calls] == [3.0, 2.0]
    assert first.name(sw.consumer.id) == "市行政审批局"
    older = gateway_log.call_log(
        db, actor=sw.provider_officer, limit=2, before_id=first.calls[-1].id
    )
    assert [c.duration_ms for c in older.calls] == [1.0]
    system = consumer_system(sw)
    assert len(gateway_log.call_log(db, actor=system).calls) == 3  # its own calls
    stranger = actor_of(user(db, organization(db, "市林业局"), [Role.DATA_OFFICER]))
    assert gateway_log.call_log(db, actor=stranger).calls == []


# --- JSON API ----------------------------------------------------------------------------------


def _as(client: TestClient, app: FastAPI, db: Session, actor: Actor) -> dict[str, str]:
    client.cookies.clear()
    account = db.get(User, actor.user_id)
    assert account is not None
    assert sign_in(client, account.username).status_code == 200
    return csrf_for(app, client)


def test_the_api_registers_shows_and_hides_the_base_url(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld
) -> None:
    resource = _annual(sw)
    db.commit()
    headers = _as(client, app, db, sw.provider_officer)
    bad = client.post(
        "/api/v1/exchange/interfaces",
        json={"resource_id": resource.id, "base_url": "ftp://x", "endpoints": ENDPOINTS},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert bad.json()["field"] == "base_url"
    created = client.post(
        "/api/v1/exchange/interfaces",
        json={"resource_id": resource.id, "openapi": OPENAPI},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["base_url"] == "https://10.8.0.12:8443/annual/v1"
    assert body["gateway_url"] == f"http://testserver/gateway/{resource.code}"
    assert [e["signature"] for e in body["endpoints"]] == ["GET /reports/{uscc}", "POST /reports"]
    changed = client.put(
        f"/api/v1/exchange/interfaces/{body['id']}",
        json={"base_url": "https://10.8.0.13/annual/v1", "endpoints": ENDPOINTS[:1]},
        headers=headers,
    )
    assert changed.status_code == 200 and changed.json()["has_openapi"] is False

    _as(client, app, db, sw.consumer_officer)
    seen = client.get(f"/api/v1/exchange/interfaces/{sw.interface.id}").json()
    assert seen["base_url"] is None and seen["gateway_url"].endswith(sw.code)
    document = client.get(f"/api/v1/exchange/interfaces/{sw.interface.id}/openapi").json()
    assert document["servers"] == [{"url": f"http://testserver/gateway/{sw.code}"}]
    assert "/enterprises/{uscc}" in document["paths"]
    stats = client.get(f"/api/v1/exchange/interfaces/{sw.interface.id}/stats")
    assert stats.status_code == 403
    assert client.get(f"/api/v1/exchange/interfaces/{body['id']}").status_code == 404


def test_the_api_gives_the_provider_stats_and_the_log(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld
) -> None:
    _log(sw, admitted(sw), 4.0, 6.0)
    db.commit()
    _as(client, app, db, sw.provider_officer)
    stats = client.get(f"/api/v1/exchange/interfaces/{sw.interface.id}/stats?days=30").json()
    assert stats["days"] == 30 and stats["total"]["calls"] == 2
    assert stats["rows"][0]["consumer"] == "市行政审批局"
    calls = client.get("/api/v1/exchange/gateway-calls?limit=1").json()
    assert [(c["duration_ms"], c["consumer"], c["endpoint"]) for c in calls] == [
        (6.0, "市行政审批局", "GET /enterprises/{uscc}")
    ]


# --- pages -------------------------------------------------------------------------------------


def _interface(db: Session, resource_id: int) -> ServiceInterface:
    db.expire_all()
    return db.execute(
        select(ServiceInterface).where(ServiceInterface.resource_id == resource_id)
    ).scalar_one()


def test_the_provider_registers_from_the_form_with_rows(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld
) -> None:
    resource = _annual(sw)
    db.commit()
    headers = _as(client, app, db, sw.provider_officer)
    listing = client.get("/exchange/interfaces")
    assert f"/exchange/interfaces/new?resource_id={resource.id}" in listing.text
    assert "企业登记信息查询服务" in listing.text
    form = client.get(f"/exchange/interfaces/new?resource_id={resource.id}")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    fields = {
        "resource_id": str(resource.id),
        "base_url": "http://10.1.2.3/annual",
        "timeout_seconds": "4",
        "endpoint_method": ["GET", "POST"],
        "endpoint_path": ["/reports/{uscc}", "reports"],
        "endpoint_summary": ["查询年报", "报送年报"],
    }
    refused = client.post("/exchange/interfaces/new", data=fields, headers=headers)
    assert refused.status_code == 422
    assert re.search(
        r'value="reports".*?<div class="field-error"[^>]*>路径须以 / 开头', refused.text, re.S
    )
    fields["endpoint_path"] = ["/reports/{uscc}", "/reports"]
    done = client.post(
        "/exchange/interfaces/new", data=fields, headers=headers, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    interface = _interface(db, resource.id)
    assert [e.signature for e in interface.endpoints] == ["GET /reports/{uscc}", "POST /reports"]
    assert interface.timeout_seconds == 4.0


def test_the_provider_registers_and_edits_from_an_openapi_upload(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld
) -> None:
    resource = _annual(sw)
    db.commit()
    headers = _as(client, app, db, sw.provider_officer)
    upload = {"openapi": ("annual.json", json.dumps(OPENAPI).encode(), "application/json")}
    done = client.post(
        "/exchange/interfaces/new",
        data={"resource_id": str(resource.id), "base_url": ""},
        files=upload,
        headers=headers,
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    interface = _interface(db, resource.id)
    assert interface.base_url == "https://10.8.0.12:8443/annual/v1" and interface.openapi
    # Saving the edit form untouched keeps the document; a changed row replaces it.
    edit = client.get(f"/exchange/interfaces/{interface.id}/edit")
    assert "当前接口来自已上传的 OpenAPI 文档" in edit.text
    rows = {
        "base_url": interface.base_url,
        "timeout_seconds": "10",
        "endpoint_method": ["GET", "POST"],
        "endpoint_path": ["/reports/{uscc}", "/reports"],
        "endpoint_summary": ["查询企业年报", "submitReport"],
    }
    kept = client.post(f"/exchange/interfaces/{interface.id}/edit", data=rows, headers=headers)
    assert kept.status_code == 200 and _interface(db, resource.id).openapi == OPENAPI
    rows["endpoint_summary"] = ["查询企业年报（新）", "报送"]
    client.post(f"/exchange/interfaces/{interface.id}/edit", data=rows, headers=headers)
    assert _interface(db, resource.id).openapi is None
    broken = client.post(
        f"/exchange/interfaces/{interface.id}/edit",
        data=rows,
        files={"openapi": ("x.json", b"{not json: [", "application/json")},
        headers=headers,
    )
    assert broken.status_code == 422 and "OpenAPI 文档不是合法的 JSON 或 YAML" in broken.text


def test_the_interface_page_shows_a_consumer_its_example_calls_not_the_address(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld
) -> None:
    limit_grant(db, sw.grant, endpoints=["GET /enterprises/{uscc}"], rate_limit=30)
    db.commit()
    _as(client, app, db, sw.consumer_officer)
    page = client.get(f"/exchange/interfaces/{sw.interface.id}")
    assert page.status_code == 200
    address = f"http://testserver/gateway/{sw.code}"
    assert address in page.text and "10.1.2.3" not in page.text
    examples = re.findall(r'<pre class="mono example"[^>]*>(.*?)</pre>', page.text, re.S)
    assert examples == [
        f"curl -H &#39;Authorization: Bearer &lt;接口令牌&gt;&#39; &#39;{address}/enterprises/{{uscc}}&#39;"
    ]
    assert "每分钟最多 30 次" in page.text and sw.grant.number in page.text
    assert 'id="stats"' not in page.text
    assert client.get(f"/exchange/interfaces/{sw.interface.id}/edit").status_code == 403


def test_the_interface_page_gives_the_provider_statistics(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld
) -> None:
    _log(sw, admitted(sw), 2.0, 4.0, 6.0)
    gateway_admission.log_call(
        db, admission=admitted(sw, f"/enterprises/{USCC}"), status=502, duration_ms=9.0
    )
    db.commit()
    _as(client, app, db, sw.provider_officer)
    page = client.get(f"/exchange/interfaces/{sw.interface.id}?days=30")
    assert page.status_code == 200
    assert "调用统计（近 30 天）" in page.text and "http://10.1.2.3:8080/api" in page.text
    total = re.search(r'<tr id="stats-total">(.*?)</tr>', page.text, re.S)
    assert total is not None
    cells = re.findall(r"<th>(.*?)</th>", total.group(1))
    assert cells[2:7] == ["4", "0", "1", "4.0 毫秒", "9.0 毫秒"]
    assert len(re.findall(r'class="call-row"', page.text)) == 4
    results = re.findall(
        r'class="call-row" data-status="(\d+)">.*?class="tag[^"]*">([^<]+)<', page.text, re.S
    )
    assert ("502", "上游服务出错") in results and ("200", "成功") in results  # words, not codes


def test_gateway_calls_are_uses_of_the_grant_and_refusals_are_not(
    db: Session, sw: ServiceWorld
) -> None:
    with clock.frozen("2026-11-20T10:00:00+08:00"):
        one = admitted(sw)
        _log(sw, one, 1.0, 2.0)
        _log(sw, one, 30000.0, status=504)  # the upstream failed: the data path was used
        refused = admitted(sw, "/nowhere")  # refused and logged: no use of data
        assert refused.refusal is not None
    with clock.frozen("2026-12-10T10:00:00+08:00"):  # 20 days later
        _log(sw, admitted(sw), 3.0)
        found = usage.uses_of_grants(db, actor=sw.provider_officer, grants=[sw.grant])
        counts, latest = found.of(sw.grant.id)
        assert [(k.kind, k.last_7, k.last_30, k.total) for k in counts.kinds] == [
            (UseKind.GATEWAY, 1, 4, 4)
        ]
        assert [(u.kind, u.rows, u.consumer) for u in latest[:1]] == [
            (UseKind.GATEWAY, None, "市行政审批局")
        ]
        assert len(latest) == 4
        stranger = actor_of(user(db, organization(db, "市林业局"), [Role.DATA_OFFICER]))
        assert usage.uses_of_grants(db, actor=stranger, grants=[sw.grant]).counts == {}
