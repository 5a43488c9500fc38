"""A grant's gateway terms set by the provider's decision: the endpoints of the resource's
service interface the consumer may call (none: all) and the calls per minute (none: the
platform default) — checked against the registered interface, refused by field with nothing
written, recorded in the audit log, shown on the grant's page and in its JSON, and honoured
by the gateway end to end (a real provider API behind the platform app)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Invalid
from govshare.core.permissions import Actor
from govshare.exchange.models import GatewayCall
from govshare.exchange.service import interfaces
from govshare.identity.models import User
from govshare.sharing.models import Application, ApplicationState, Grant
from govshare.sharing.schemas import DecisionIn, PreReviewIn
from govshare.sharing.service import applications, decisions, grants
from tests.builders import system_of
from tests.catalog.builders import published
from tests.exchange.gateway_scenarios import (
    ENDPOINTS,
    ENTERPRISE_ITEMS,
    USCC,
    ServiceWorld,
    interface_in,
    service_resource,
    service_world,
)
from tests.exchange.test_gateway import upstream  # noqa: F401 - the provider's API, reused
from tests.http import csrf_for, sign_in
from tests.sharing.builders import SHANGRAO, application_in, commitment, sealed_letter

PROBLEM = "application/problem+json"
SUBMITTED = "2026-09-25T10:00:00+08:00"
CALLING = "2026-11-21T10:00:05+08:00"  # inside the grant's period (from 2026-10-01)
BY_USCC = "GET /enterprises/{uscc}"
SEARCH = "GET /enterprises/search"
CONDITIONAL = {
    "share_type": "conditional",
    "share_conditions": "仅限办理企业登记、市场监管业务的部门使用",
    "legal_basis": "《企业信息公示暂行条例》第十八条",
}


# --- the cast --------------------------------------------------------------------------------


def _conditional_service(sw: ServiceWorld, base_url: str) -> Resource:
    """A conditional resource of the provider, shared as a service with a registered API."""
    resource = service_resource(
        sw.db, sw.provider_officer, sw.op, name="企业登记详细信息查询服务", **CONDITIONAL
    )
    interfaces.register_interface(
        sw.db,
        actor=sw.provider_officer,
        resource_id=resource.id,
        data=interface_in(base_url),
        default_timeout=10.0,
    )
    return resource


def _conditional_table(sw: ServiceWorld) -> Resource:
    """A conditional resource of the provider shared as a table: no service interface."""
    return published(
        sw.db,
        sw.provider_officer,
        sw.op,
        name="企业年度报告数据",
        items=ENTERPRISE_ITEMS,
        **CONDITIONAL,
    )


def _deciding(sw: ServiceWorld, resource: Resource) -> Application:
    """The consumer's application for `resource`, forwarded to the provider by the operator."""
    uploads = [sealed_letter()]
    if "usage_commitment" in SHANGRAO.rules.application_attachments.value:
        uploads.append(commitment())
    application = applications.submit_application(
        sw.db,
        actor=sw.consumer_officer,
        profile=SHANGRAO,
        data=application_in(
            resource,
            system_of(sw.db, sw.consumer_officer.organization_id, "一网通办平台"),
            purpose="核验企业开办申请人提交的营业执照信息",
            fields=["统一社会信用代码", "企业名称"],
            row_filter=[],
        ),
        uploads=uploads,
    )
    if application.pre_review_days:
        decisions.pre_review(
            sw.db, actor=sw.op, application_id=application.id, data=PreReviewIn(forward=True)
        )
    return application


def _decide(sw: ServiceWorld, application: Application, **decision: Any) -> Application:
    return decisions.decide(
        sw.db,
        actor=sw.provider_officer,
        profile=SHANGRAO,
        application_id=application.id,
        data=DecisionIn(approve=True, **decision),
    )


@pytest.fixture
def sw(db: Session) -> ServiceWorld:
    """The gateway tests' cast; its interface points nowhere (the service tests call no API)."""
    world = service_world(db)
    db.commit()
    return world


@pytest.fixture
def service(sw: ServiceWorld) -> Resource:
    with clock.frozen(SUBMITTED):
        resource = _conditional_service(sw, "http://127.0.0.1:9/api")
    sw.db.commit()
    return resource


def _grants_of(db: Session, resource: Resource) -> int:
    return db.execute(
        select(func.count()).select_from(Grant).where(Grant.resource_id == resource.id)
    ).scalar_one()


def _details(db: Session, action: str) -> dict[str, Any]:
    entry = db.execute(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq.desc())
    ).scalar()
    assert entry is not None, f"no {action} entry"
    return json.loads(entry.details)


def _untouched(db: Session, application: Application, resource: Resource) -> None:
    """Nothing of a refused decision stays: no grant, the application still waits, no entry."""
    db.expire_all()
    again = db.get(Application, application.id)
    assert again.state is ApplicationState.DECIDING and again.grant_id is None
    assert again.decided_by is None
    assert _grants_of(db, resource) == 0
    decided = db.execute(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "sharing.application.decide")
    ).scalar_one()
    assert decided == 0


# --- the decision ------------------------------------------------------------------------------


def test_a_decision_with_endpoints_and_a_rate_limit_creates_a_grant_carrying_them(
    sw: ServiceWorld, service: Resource
) -> None:
    with clock.frozen(SUBMITTED):
        application = _deciding(sw, service)
        # Named out of order and in lower case: stored as the interface lists them.
        decided = _decide(
            sw, application, endpoints=["get  /enterprises/search", BY_USCC], rate_limit=5
        )
    grant = sw.db.get(Grant, decided.grant_id)
    assert grant is not None and grant.resource_id == service.id
    assert grant.endpoints == [BY_USCC, SEARCH] and grant.rate_limit == 5
    for action in ("sharing.application.decide", "sharing.grant.issue"):
        details = _details(sw.db, action)
        assert (details["endpoints"], details["rate_limit"]) == ([BY_USCC, SEARCH], 5), action
    out = grants.grant_out(grant, default_rate_limit=600)
    assert (out.endpoints, out.rate_limit) == ([BY_USCC, SEARCH], 5)
    assert out.endpoints_label == f"{BY_USCC}、{SEARCH}"
    assert out.rate_limit_label == "每分钟 5 次"


def test_without_gateway_terms_the_grant_covers_every_endpoint_at_the_default_rate(
    sw: ServiceWorld, service: Resource
) -> None:
    with clock.frozen(SUBMITTED):
        decided = _decide(sw, _deciding(sw, service))
    grant = sw.db.get(Grant, decided.grant_id)
    assert grant.endpoints == [] and grant.rate_limit is None
    details = _details(sw.db, "sharing.grant.issue")
    assert (details["endpoints"], details["rate_limit"]) == ([], None)
    out = grants.grant_out(grant, default_rate_limit=600)
    assert (out.endpoints_label, out.rate_limit_label) == ("全部", "每分钟 600 次（平台默认）")


def test_an_unknown_endpoint_is_refused_naming_the_field(sw: ServiceWorld, service: Resource):
    with clock.frozen(SUBMITTED):
        application = _deciding(sw, service)
        sw.db.commit()
        with pytest.raises(Invalid) as refused:
            _decide(sw, application, endpoints=[BY_USCC, "DELETE /enterprises/{uscc}"])
    sw.db.rollback()
    assert refused.value.field == "endpoints"
    assert "DELETE /enterprises/{uscc}" in refused.value.message
    assert "可调用的接口" in refused.value.message
    _untouched(sw.db, application, service)


@pytest.mark.parametrize("bad", [0, -3, 100_001, "十次", "2.5", 2.5, True, "9" * 5000])
def test_a_bad_rate_limit_is_refused_in_words_naming_the_field(bad: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        DecisionIn(approve=True, rate_limit=bad)
    [error] = refused.value.errors()
    assert error["loc"] == ("rate_limit",)
    assert "调用频率上限须为 1 至 100000 之间的整数" in error["msg"]


def test_a_rate_limit_in_range_is_taken_and_blank_means_the_default() -> None:
    assert DecisionIn(approve=True, rate_limit="120").rate_limit == 120
    assert DecisionIn(approve=True, rate_limit=100_000).rate_limit == 100_000
    assert DecisionIn(approve=True, rate_limit=" ").rate_limit is None
    assert DecisionIn(approve=True).rate_limit is None and DecisionIn(approve=True).endpoints == []


def test_a_malformed_endpoint_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        DecisionIn(approve=True, endpoints=["/enterprises/{uscc}"])
    [error] = refused.value.errors()
    assert error["loc"] == ("endpoints",) and "格式不对" in error["msg"]


def test_gateway_terms_on_a_resource_without_an_interface_are_refused(sw: ServiceWorld):
    with clock.frozen(SUBMITTED):
        table = _conditional_table(sw)
        application = _deciding(sw, table)
        sw.db.commit()
        with pytest.raises(Invalid) as by_endpoint:
            _decide(sw, application, endpoints=[BY_USCC])
        sw.db.rollback()
        with pytest.raises(Invalid) as by_rate:
            _decide(sw, application, rate_limit=10)
        sw.db.rollback()
    assert (
        by_endpoint.value.field == "endpoints" and "没有登记服务接口" in by_endpoint.value.message
    )
    assert by_rate.value.field == "rate_limit" and "没有登记服务接口" in by_rate.value.message
    _untouched(sw.db, application, table)


def test_the_endpoints_of_a_resource_are_the_providers_to_see(sw: ServiceWorld, service):
    offered = interfaces.endpoints_of_resource(
        sw.db, actor=sw.provider_officer, resource_id=service.id
    )
    assert offered is not None and offered[0].signature == BY_USCC
    # The consumer holds no grant on it yet: it sees nothing, as on the interface pages.
    assert (
        interfaces.endpoints_of_resource(sw.db, actor=sw.consumer_officer, resource_id=service.id)
        is None
    )


# --- over the API ------------------------------------------------------------------------------


def _as(client: TestClient, app: FastAPI, db: Session, actor: Actor) -> dict[str, str]:
    client.cookies.clear()
    assert sign_in(client, db.get(User, actor.user_id).username).status_code == 200
    return csrf_for(app, client)


def test_the_api_decision_refuses_bad_terms_by_field_then_grants_them(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld, service: Resource
) -> None:
    with clock.frozen(SUBMITTED):
        application = _deciding(sw, service)
        db.commit()
        headers = _as(client, app, db, sw.provider_officer)
        url = f"/api/v1/sharing/applications/{application.id}/decision"
        for body, field, words in [
            ({"endpoints": ["GET /admin"]}, "endpoints", "GET /admin"),
            ({"rate_limit": 0}, "rate_limit", "调用频率上限须为 1 至 100000 之间的整数"),
            ({"rate_limit": "很多"}, "rate_limit", "调用频率上限须为 1 至 100000 之间的整数"),
        ]:
            refused = client.post(url, json={"approve": True} | body, headers=headers)
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"] == PROBLEM
            problem = refused.json()
            assert problem["field"] == field and words in problem["detail"], problem
        _untouched(db, application, service)
        answered = client.post(
            url, json={"approve": True, "endpoints": [SEARCH], "rate_limit": 30}, headers=headers
        )
        assert answered.status_code == 200, answered.text
        grant_id = answered.json()["grant_id"]
        shown = client.get(f"/api/v1/sharing/grants/{grant_id}").json()
    assert shown["endpoints"] == [SEARCH] and shown["rate_limit"] == 30
    assert shown["endpoints_label"] == SEARCH and shown["rate_limit_label"] == "每分钟 30 次"


def test_the_api_decision_without_the_new_fields_still_works(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld, service: Resource
) -> None:
    with clock.frozen(SUBMITTED):
        application = _deciding(sw, service)
        db.commit()
        headers = _as(client, app, db, sw.provider_officer)
        answered = client.post(
            f"/api/v1/sharing/applications/{application.id}/decision",
            json={"approve": True, "conditions": "仅限企业开办业务核验"},
            headers=headers,
        )
        assert answered.status_code == 200, answered.text
        grant = client.get(f"/api/v1/sharing/grants/{answered.json()['grant_id']}").json()
    assert grant["endpoints"] == [] and grant["rate_limit"] is None
    assert grant["endpoints_label"] == "全部"
    assert grant["rate_limit_label"] == "每分钟 600 次（平台默认）"


# --- the pages ---------------------------------------------------------------------------------


def _checkboxes(html: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="endpoints" value="([^"]+)"', html)


def test_the_decision_form_offers_endpoints_only_for_a_service_resource(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld, service: Resource
) -> None:
    with clock.frozen(SUBMITTED):
        for_service = _deciding(sw, service)
        for_table = _deciding(sw, _conditional_table(sw))
        db.commit()
        _as(client, app, db, sw.provider_officer)
        page = client.get(f"/sharing/applications/{for_service.id}").text
        assert _checkboxes(page) == [f"{e['method']} {e['path']}" for e in ENDPOINTS]
        assert "按统一社会信用代码查询企业" in page  # each endpoint's summary beside it
        assert 'name="rate_limit"' in page and "每分钟 600 次" in page
        table_page = client.get(f"/sharing/applications/{for_table.id}").text
        assert 'id="decide-form"' in table_page
        assert _checkboxes(table_page) == [] and 'name="rate_limit"' not in table_page
        # The consumer does not answer, so sees no form and no endpoints.
        _as(client, app, db, sw.consumer_officer)
        mine = client.get(f"/sharing/applications/{for_service.id}").text
        assert _checkboxes(mine) == [] and 'id="decide-form"' not in mine


def _approval(**extra: Any) -> dict[str, Any]:
    return {
        "decision": "approve",
        "fields": ["统一社会信用代码", "企业名称"],
        "valid_from": "2026-10-01",
        "valid_until": "2027-09-30",
    } | extra


def test_the_decision_form_refuses_a_bad_rate_limit_beside_it_and_keeps_the_ticks(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld, service: Resource
) -> None:
    with clock.frozen(SUBMITTED):
        application = _deciding(sw, service)
        db.commit()
        headers = _as(client, app, db, sw.provider_officer)
        refused = client.post(
            f"/sharing/applications/{application.id}/decide",
            data=_approval(endpoints=[SEARCH], rate_limit="0"),
            headers=headers,
        )
    assert refused.status_code == 422
    beside = r'id="rate_limit"[^>]*>\s*<div class="field-error" role="alert">调用频率上限须为'
    assert re.search(beside, refused.text), refused.text
    assert f'value="{SEARCH}" checked' in refused.text  # the form as ticked
    assert BY_USCC in _checkboxes(refused.text)
    assert f'value="{BY_USCC}" checked' not in refused.text
    _untouched(db, application, service)


def test_the_decision_form_sets_the_terms_and_the_grant_page_shows_them(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld, service: Resource
) -> None:
    with clock.frozen(SUBMITTED):
        application = _deciding(sw, service)
        db.commit()
        headers = _as(client, app, db, sw.provider_officer)
        answered = client.post(
            f"/sharing/applications/{application.id}/decide",
            data=_approval(endpoints=[BY_USCC], rate_limit="120"),
            headers=headers,
            follow_redirects=False,
        )
        assert answered.status_code == 303, answered.text
        db.expire_all()
        grant = db.get(Grant, db.get(Application, application.id).grant_id)
        assert (grant.endpoints, grant.rate_limit) == ([BY_USCC], 120)
        _as(client, app, db, sw.consumer_officer)
        page = client.get(f"/sharing/grants/{grant.id}").text
    endpoints = re.search(r'<dd id="grant-endpoints">(.*?)</dd>', page, re.S)
    assert endpoints is not None and re.findall(r'endpoint">([^<]+)<', endpoints.group(1)) == [
        BY_USCC
    ]
    assert "<dt>可调用接口</dt>" in page
    assert re.search(r'<dt>调用频率上限</dt><dd id="grant-rate-limit">每分钟 120 次</dd>', page)


def test_a_grant_page_names_all_endpoints_and_the_platform_default(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld
) -> None:
    _as(client, app, db, sw.consumer_officer)
    page = client.get(f"/sharing/grants/{sw.grant.id}").text  # direct access: no terms set
    assert '<dd id="grant-endpoints">全部</dd>' in page
    assert '<dd id="grant-rate-limit">每分钟 600 次（平台默认）</dd>' in page


def test_a_grant_on_a_table_resource_shows_no_gateway_terms(
    app: FastAPI, client: TestClient, db: Session, sw: ServiceWorld
) -> None:
    with clock.frozen(SUBMITTED):
        application = _deciding(sw, _conditional_table(sw))
        grant_id = _decide(sw, application).grant_id
        db.commit()
        _as(client, app, db, sw.consumer_officer)
        page = client.get(f"/sharing/grants/{grant_id}").text
    assert 'id="scope"' in page and "可调用接口" not in page and "调用频率上限" not in page


# --- the gateway honours the decision ----------------------------------------------------------


def test_the_gateway_honours_the_decided_endpoints_and_rate_limit(
    client: TestClient,
    db: Session,
    upstream: str,  # noqa: F811 - the fixture imported above
) -> None:
    with clock.frozen(SUBMITTED):
        sw = service_world(db, upstream, timeout_seconds=0.5)
        resource = _conditional_service(sw, upstream)
        application = _deciding(sw, resource)
        grant_id = _decide(sw, application, endpoints=[BY_USCC], rate_limit=2).grant_id
        db.commit()
    headers = {"Authorization": f"Bearer {sw.token}"}
    base = f"/gateway/{resource.code}"
    with clock.frozen(CALLING):
        first = client.get(f"{base}/enterprises/{USCC}", headers=headers)
        outside = client.get(f"{base}/enterprises/search", headers=headers)
        second = client.get(f"{base}/enterprises/{USCC}", headers=headers)
        over = client.get(f"{base}/enterprises/{USCC}", headers=headers)
    assert first.status_code == 200 and first.json()["uscc"] == USCC
    assert outside.status_code == 403
    assert outside.json()["detail"] == f"授权不包含该接口：{SEARCH}"
    assert second.status_code == 200
    assert over.status_code == 429 and "每分钟最多调用 2 次" in over.json()["detail"]
    db.expire_all()
    calls = db.execute(
        select(GatewayCall.status, GatewayCall.grant_id)
        .where(GatewayCall.resource_id == resource.id)
        .order_by(GatewayCall.id)
    ).all()
    assert [tuple(c) for c in calls] == [(s, grant_id) for s in (200, 403, 200, 429)]
