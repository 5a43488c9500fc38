"""Requests to the level above (SHR-8, SR§15–§16): two city departments' requests for one
provincial resource go up as one bundled request, the province pre-reviews and its provider
approves each under its own deadline, the city pulls the decisions and mirrors the grants, and
each department queries its masked rows through the city, every call logged on both platforms
under the same message id."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.exchange.masking import Mask
from govshare.exchange.scope import Condition
from govshare.exchange.service.delivery.statements import masking_key
from govshare.federation import relay, requests, transport
from govshare.federation.models import PlatformLevel
from govshare.federation.request_models import (
    BundleState,
    InboundBundle,
    MirroredGrant,
    PeerOrganization,
    RequestState,
    UpperRequest,
)
from govshare.federation.request_schemas import RelayQueryIn, ReviewIn, UpperRequestIn
from govshare.identity.models import Organization
from govshare.sharing.models import Application, ApplicationState, MaskRule
from govshare.sharing.schemas import DecisionIn, PreReviewIn
from govshare.sharing.service import decisions
from govshare.web.app import create_app
from tests.builders import actor_of, organization, system_of, user
from tests.exchange.builders import (
    GRANTED,
    MASKING,
    bind,
    expected_rows,
    load_center,
    people_resource,
    population,
    texts,
)
from tests.federation.builders import Platform, peered, platform
from tests.http import csrf_for, form_token, post_page_form, sign_in
from tests.sharing.builders import SHANGRAO, sealed_letter, sharing_world

PROVINCE, CITY = "360000", "361100"


@dataclass
class World:
    province: Platform
    city: Platform
    upper_id: int  # the province as the city's peer
    code: str  # the provincial resource's code
    provider_officer: Actor  # at the province
    rows: list[dict[str, Any]]
    civil: Actor  # the city's 民政局 data officer
    civil_system: int
    health: Actor  # the city's 卫生健康委 data officer
    health_system: int


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with (
        platform(
            tmp_path / "province", PROVINCE, "江西省政务数据共享平台", PlatformLevel.PROVINCE
        ) as p,
        platform(tmp_path / "city", CITY, "江州市政务数据共享平台", PlatformLevel.CITY) as c,
    ):
        _, upper_id = peered(p, c)
        with p.runtime.transaction() as db:
            w = sharing_world(db, p.actor)
            resource = people_resource(w)
            binding = bind(db, w, resource)
            code, provider_officer = resource.code, w.provider_officer
            rows = population(40)
            load_center(p.runtime.center, binding, rows)
        with c.runtime.transaction() as db:
            civil = organization(db, "江州市民政局")
            health = organization(db, "江州市卫生健康委员会")
            civil_officer = actor_of(user(db, civil, [Role.DATA_OFFICER], "civil"))
            health_officer = actor_of(user(db, health, [Role.DATA_OFFICER], "health"))
            civil_system, health_system = system_of(db, civil.id), system_of(db, health.id)
        yield World(
            p,
            c,
            upper_id,
            code,
            provider_officer,
            rows,
            civil_officer,
            civil_system,
            health_officer,
            health_system,
        )


def _request(w: World, officer: Actor, system_id: int, **kw: Any) -> int:
    data: dict[str, Any] = {
        "resource_code": w.code,
        "fields": GRANTED,
        "purpose": "核对最低生活保障申请人的户籍和身份信息",
        "basis": "《社会救助暂行办法》第十一条",
        "system_id": system_id,
        "valid_from": date(2026, 10, 1),
        "valid_until": date(2027, 9, 30),
        "accept_restrictions": True,
    } | kw
    return requests.file_request(
        w.city.runtime,
        actor=officer,
        data=UpperRequestIn.model_validate(data),
        uploads=[sealed_letter()],
    )


def _review(w: World, request_id: int, approve: bool = True, comment: str = "") -> None:
    with w.city.runtime.transaction() as db:
        requests.review(
            db,
            actor=w.city.actor,
            request_id=request_id,
            data=ReviewIn(approve=approve, comment=comment),
        )


def _audits(runtime: Runtime, action: str) -> list[dict[str, Any]]:
    with runtime.transaction() as db:
        entries = db.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        ).scalars()
        return [json.loads(e.details) | {"_actor": e.actor_label} for e in entries]


def _request_row(w: World, request_id: int) -> UpperRequest:
    with w.city.runtime.transaction() as db:
        row = db.get(UpperRequest, request_id)
        assert row is not None
        db.expunge(row)
        return row


def _decide_all(w: World) -> list[str]:
    """The province's operator forwards each application and its provider approves it,
    masking the ID number and name; the applications' numbers."""
    with w.province.runtime.transaction() as db:
        found = list(db.execute(select(Application).order_by(Application.id)).scalars())
        for application in found:
            decisions.pre_review(
                db,
                actor=w.province.actor,
                application_id=application.id,
                data=PreReviewIn(forward=True),
            )
            decisions.decide(
                db,
                actor=w.provider_officer,
                profile=SHANGRAO,
                application_id=application.id,
                data=DecisionIn(approve=True, masking=MASKING),
            )
        return [a.number for a in found]


def test_two_departments_requests_go_up_as_one_bundle_and_each_queries_through_the_city(
    world: World,
) -> None:
    w = world
    civil = _request(w, w.civil, w.civil_system)
    health = _request(w, w.health, w.health_system, fields=["公民身份号码", "姓名", "性别"])
    assert _request_row(w, civil).resource_name == "人口基础信息"
    assert _request_row(w, civil).state is RequestState.PRE_REVIEW
    _review(w, civil)
    _review(w, health)

    bundle_id = requests.forward(
        w.city.runtime, actor=w.city.actor, peer_id=w.upper_id, resource_code=w.code
    )
    bundles = [
        s
        for s in _audits(w.city.runtime, "federation.message.sent")
        if s["kind"] == "request.bundle"
    ]
    assert len(bundles) == 1 and bundles[0]["items"] == 2  # ONE message carried both

    # At the province: one inbound bundle, each department registered by its credit code and
    # applying through the ordinary review chain, under the province's deadlines.
    with w.province.runtime.transaction() as db:
        (inbound,) = db.execute(select(InboundBundle)).scalars()
        assert inbound.message_id == bundles[0]["message_id"]
        assert [i.error for i in inbound.items] == [None, None]
        apps = [i.application for i in inbound.items]
        assert all(a is not None and a.state is ApplicationState.PRE_REVIEW for a in apps)
        names = {
            o.name
            for o in db.execute(
                select(Organization).join(
                    PeerOrganization, PeerOrganization.organization_id == Organization.id
                )
            ).scalars()
        }
        assert names == {"江州市民政局", "江州市卫生健康委员会"}
        assert apps[0] is not None and len(apps[0].attachments) == 1  # the sealed letter
    assert _request_row(w, civil).state is RequestState.FORWARDED

    # The city pulls: still under review up there, with the province's deadline.
    requests.pull(w.city.runtime, actor=w.city.actor, bundle_id=bundle_id)
    pending = _request_row(w, civil)
    assert pending.state is RequestState.FORWARDED and pending.upper_due_on is not None
    assert pending.upper_state == "待平台预审"

    upper_numbers = _decide_all(w)
    changed = requests.pull(w.city.runtime, actor=w.city.actor, bundle_id=bundle_id)
    assert sorted(changed) == sorted([pending.number, _request_row(w, health).number])
    approved = _request_row(w, civil)
    assert approved.state is RequestState.APPROVED and approved.upper_number in upper_numbers
    with w.city.runtime.transaction() as db:
        grants = list(db.execute(select(MirroredGrant).order_by(MirroredGrant.id)).scalars())
        assert [g.fields for g in grants] == [GRANTED, ["公民身份号码", "姓名", "性别"]]
        assert grants[0].masking == MASKING
        civil_grant, health_grant = grants[0].id, grants[1].id
        assert requests.list_mirrored(db, actor=w.health)[0].id == health_grant
        assert db.get(requests.Bundle, bundle_id).state is BundleState.DONE  # type: ignore[union-attr]

    # Each department queries through the city and gets its masked rows.
    page = relay.query(
        w.city.runtime,
        actor=w.civil,
        grant_id=civil_grant,
        data=RelayQueryIn(filters={"行政区划代码": "361102"}, limit=1000),
    )
    key = masking_key(w.province.runtime.settings)
    expected = expected_rows(
        SimpleNamespace(rows=w.rows),  # type: ignore[arg-type]
        ["id_number", "name", "gender", "birth_date", "region_code"],
        (Condition("region_code", "eq", ("361102",)),),
        {"id_number": Mask(MaskRule.ID_NUMBER), "name": Mask(MaskRule.NAME)},
        key,
    )
    assert expected and texts(page.rows) == texts(expected)
    other = relay.query(w.city.runtime, actor=w.health, grant_id=health_grant, data=RelayQueryIn())
    assert [f["name"] for f in other.fields] == ["id_number", "name", "gender"]
    assert all("*" in r["id_number"] for r in other.rows)

    # Each call is in both platforms' audit logs under the same message id.
    sent = [
        s["message_id"]
        for s in _audits(w.city.runtime, "federation.message.sent")
        if s["kind"] == "data.query"
    ]
    received = [
        r["message_id"]
        for r in _audits(w.province.runtime, "federation.message.received")
        if r["kind"] == "data.query"
    ]
    assert sent == received == [page.message_id, other.message_id]
    uses = _audits(w.city.runtime, "federation.upper_grant.query")
    assert [u["message_id"] for u in uses] == sent
    assert uses[0]["_actor"] == w.civil.label and uses[0]["rows"] == len(expected)
    relayed = _audits(w.province.runtime, "federation.relay.query")
    assert [r["message_id"] for r in relayed] == sent
    # and the province's own delivery audit names the department acting through the city
    queries = _audits(w.province.runtime, "exchange.data.query")
    assert [q["_actor"].startswith(f"platform:{CITY}/") for q in queries] == [True, True]


def test_refusals_are_clear(world: World) -> None:
    w = world
    with pytest.raises(Invalid, match="申请材料不完整：请上传"):
        requests.file_request(
            w.city.runtime,
            actor=w.civil,
            data=UpperRequestIn.model_validate(
                {
                    "resource_code": w.code,
                    "fields": ["姓名"],
                    "purpose": "核对最低生活保障申请人的户籍和身份信息",
                    "basis": "《社会救助暂行办法》",
                    "system_id": w.civil_system,
                    "valid_from": date(2026, 10, 1),
                    "valid_until": date(2027, 9, 30),
                    "accept_restrictions": True,
                }
            ),
        )
    with pytest.raises(Invalid, match="上级资源没有信息项“血型”"):
        _request(w, w.civil, w.civil_system, fields=["血型"])
    with pytest.raises(Invalid, match="上级平台未能提供资源“9/000001”"):
        _request(w, w.civil, w.civil_system, resource_code="9/000001")

    civil = _request(w, w.civil, w.civil_system)
    with pytest.raises(Conflict, match="已有该上级资源的申请"):
        _request(w, w.civil, w.civil_system)
    with pytest.raises(Invalid, match="退回须说明理由"):
        _review(w, civil, approve=False)
    _review(w, civil, approve=False, comment="申请依据不充分，请补充文件文号")
    returned = _request_row(w, civil)
    assert returned.state is RequestState.RETURNED
    assert returned.review_comment == "申请依据不充分，请补充文件文号"
    with pytest.raises(Conflict, match="没有待报送的申请"):  # a returned request is not sent
        requests.forward(
            w.city.runtime, actor=w.city.actor, peer_id=w.upper_id, resource_code=w.code
        )

    health = _request(w, w.health, w.health_system)
    _review(w, health)
    requests.forward(w.city.runtime, actor=w.city.actor, peer_id=w.upper_id, resource_code=w.code)
    _decide_all(w)
    requests.pull_all(w.city.runtime)  # the periodic task's pull
    with w.city.runtime.transaction() as db:
        (grant,) = db.execute(select(MirroredGrant)).scalars()
        grant_id = grant.id
    # the civil affairs bureau holds no mirrored grant: refused here, and audited
    with pytest.raises(NotFound, match="本单位没有上级授权"):
        relay.query(w.city.runtime, actor=w.civil, grant_id=grant_id, data=RelayQueryIn())
    refused = _audits(w.city.runtime, "federation.upper_grant.query")
    assert [r["refused"] for r in refused] == [
        f"本单位没有上级授权 {grant_id}（只能使用上级授予本单位的数据或接口）"
    ]
    # a filter on a field outside the grant is refused by the province, in its words
    with pytest.raises(Forbidden, match="上级平台拒绝了查询"):
        relay.query(
            w.city.runtime,
            actor=w.health,
            grant_id=grant_id,
            data=RelayQueryIn(filters={"手机号码": "13800000000"}),
        )
    # a department officer cannot pre-review or forward
    with pytest.raises(Forbidden):
        requests.forward(w.city.runtime, actor=w.civil, peer_id=w.upper_id, resource_code=w.code)


# --- the pages and the API ---------------------------------------------------------------------


def _client(runtime: Runtime, username: str) -> TestClient:
    client = TestClient(create_app(runtime))
    assert sign_in(client, username).status_code == 200
    return client


def test_the_pages_and_api_carry_a_request_from_filing_to_the_relayed_query(world: World) -> None:
    w = world
    civil = _client(w.city.runtime, "civil")
    form = civil.get(f"/federation/upper-requests/new?code={w.code}")
    assert form.status_code == 200
    assert "人口基础信息" in form.text and "市公安局" in form.text and "加盖公章" in form.text
    missing = civil.get("/federation/upper-requests/new?code=9/000001")
    assert missing.status_code == 422 and "上级平台未能提供资源" in missing.text

    # the civil affairs bureau files through the page, the health commission through the API
    token = form_token(form.text, "/federation/upper-requests")
    letter = sealed_letter()
    filed = civil.post(
        "/federation/upper-requests",
        data={
            "csrf_token": token,
            "resource_code": w.code,
            "fields": ["公民身份号码", "姓名", "行政区划代码"],
            "purpose": "核对最低生活保障申请人的户籍和身份信息",
            "basis": "《社会救助暂行办法》第十一条",
            "system_id": str(w.civil_system),
            "valid_from": "2026-10-01",
            "valid_until": "2027-09-30",
            "accept_restrictions": "on",
        },
        files={"attachment_sealed_letter": (letter.filename, letter.content, letter.content_type)},
        follow_redirects=False,
    )
    assert filed.status_code == 303, filed.text
    civil_page = filed.headers["location"]
    health = _client(w.city.runtime, "health")
    api = health.post(
        "/api/v1/federation/upper-requests",
        headers=csrf_for(health.app, health),  # type: ignore[arg-type]
        json={
            "resource_code": w.code,
            "fields": ["公民身份号码", "姓名"],
            "purpose": "核对医疗救助对象的户籍和身份信息",
            "basis": "《医疗保障基金使用监督管理条例》",
            "system_id": w.health_system,
            "valid_from": "2026-10-01",
            "valid_until": "2027-09-30",
            "accept_restrictions": True,
            "attachments": [
                {
                    "kind": "sealed_letter",
                    "filename": letter.filename,
                    "content_type": letter.content_type,
                    "content_base64": base64.b64encode(letter.content).decode(),
                }
            ],
        },
    )
    assert api.status_code == 201, api.text
    assert api.json()["state_label"] == "待本级预审"

    operator = _client(w.city.runtime, "operator")
    for page in (civil_page, f"/federation/upper-requests/{api.json()['id']}"):
        reviewed = post_page_form(operator, page, f"{page}/review", {"approve": "yes"})
        assert reviewed.status_code == 303
    bundles = operator.get("/federation/upper-bundles")
    assert "汇总报送上级（2 项）" in bundles.text
    sent = post_page_form(
        operator,
        "/federation/upper-bundles",
        "/federation/upper-bundles",
        {"peer_id": str(w.upper_id), "resource_code": w.code},
    )
    assert sent.status_code == 303

    province = _client(w.province.runtime, "operator")
    inbound = province.get("/federation/inbound-bundles")
    assert "江州市民政局" in inbound.text and "江州市卫生健康委员会" in inbound.text
    assert len(province.get("/api/v1/federation/inbound-bundles").json()[0]["items"]) == 2
    _decide_all(w)

    listed = operator.get("/api/v1/federation/upper-bundles").json()
    pulled = operator.post(
        f"/api/v1/federation/upper-bundles/{listed['bundles'][0]['id']}/pull",
        headers=csrf_for(operator.app, operator),  # type: ignore[arg-type]
    )
    assert pulled.status_code == 200 and pulled.json()["state"] == "done"
    detail = civil.get(civil_page)
    assert "上级已同意" in detail.text and "查询数据" in detail.text

    (grant,) = civil.get("/api/v1/federation/upper-grants").json()
    assert grant["fields"] == ["公民身份号码", "姓名", "行政区划代码"]
    queried = civil.post(
        f"/api/v1/federation/upper-grants/{grant['id']}/query",
        headers=csrf_for(civil.app, civil),  # type: ignore[arg-type]
        json={"filters": {"行政区划代码": "361103"}, "fields": ["姓名", "行政区划代码"]},
    )
    assert queried.status_code == 200, queried.text
    body = queried.json()
    expected = [r for r in w.rows if r["region_code"] == "361103"]
    assert body["count"] == len(expected) and {r["region_code"] for r in body["rows"]} == {"361103"}
    assert all("*" in r["name"] for r in body["rows"])
    with w.province.runtime.transaction() as db:
        logged = db.execute(
            select(AuditEntry).where(AuditEntry.action == "federation.message.received")
        ).scalars()
        assert body["message_id"] in {json.loads(e.details)["message_id"] for e in logged}

    grant_page = f"/federation/upper-grants/{grant['id']}"
    shown = post_page_form(
        civil,
        grant_page,
        f"{grant_page}/query",
        {"filter_field": "行政区划代码", "filter_value": "361103", "format": "page"},
    )
    assert shown.status_code == 200 and "查询结果" in shown.text and "消息编号" in shown.text
    csv = post_page_form(civil, grant_page, f"{grant_page}/query", {"format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.content.decode("utf-8-sig").splitlines()[0] == "公民身份号码,姓名,行政区划代码"

    # another department's grant is not there for the health commission
    refused = health.post(
        f"/api/v1/federation/upper-grants/{grant['id']}/query",
        headers=csrf_for(health.app, health),  # type: ignore[arg-type]
        json={},
    )
    assert refused.status_code == 404
    assert refused.json()["detail"].startswith("本单位没有上级授权")


def test_a_lower_platform_cannot_speak_for_a_department_it_did_not_register(world: World) -> None:
    w = world
    with w.province.runtime.transaction() as db:
        own = db.execute(select(Organization).where(Organization.name == "市公安局")).scalar_one()
        uscc = own.uscc
    reply = transport.send(
        w.city.runtime,
        peer_id=w.upper_id,
        kind="request.bundle",
        body={
            "number": "ZT2026999999",
            "resource_code": w.code,
            "items": [
                {
                    "number": "SJ2026999999",
                    "department": {"name": "市公安局", "uscc": uscc},
                    "system": {"name": "人口管理系统"},
                    "purpose": "核对最低生活保障申请人的户籍和身份信息",
                    "fields": ["姓名"],
                    "valid_from": "2026-10-01",
                    "valid_until": "2027-09-30",
                    "accept_restrictions": True,
                }
            ],
        },
        actor=w.city.actor,
    )
    (item,) = reply.body["items"]
    assert item["application"] is None
    assert (
        item["error"] == f"统一社会信用代码 {uscc} 不是“江州市政务数据共享平台”在本平台登记的单位"
    )
    with w.province.runtime.transaction() as db:
        assert db.execute(select(Application)).first() is None
    # nor query as one of the upper's own departments
    with pytest.raises(
        transport.PeerUnavailable, match="不是“江州市政务数据共享平台”在本平台登记的单位"
    ):
        transport.send(
            w.city.runtime,
            peer_id=w.upper_id,
            kind="data.query",
            body={"grant": "SG2026000001", "uscc": uscc},
            actor=w.city.actor,
        )
