"""The keyed lookup's lean route (exchange.api.lookup_route): a system's bearer-token lookup
is answered without FastAPI's dependencies, and refuses, masks, marks and records exactly what
the FastAPI route does; any other request to the path goes on to the FastAPI route."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.routing import Match

from govshare.core import clock
from govshare.core.audit import service as audit_service
from govshare.core.audit.models import AuditEntry
from govshare.exchange.api import lookup_route
from govshare.exchange.center import Center
from govshare.exchange.masking import Mask, mask_value
from govshare.exchange.models import DataUse
from govshare.sharing.models import MaskRule
from govshare.sharing.schemas import GrantActionIn
from govshare.sharing.service import grants
from govshare.verification.schemas import RecordObjectionIn
from govshare.verification.service import objections
from tests.exchange.builders import USED_AT, Delivery, delivery_world
from tests.exchange.test_delivery_api import key_of, signed_in, token_for

PROBLEM = "application/problem+json"
API = "/api/v1/exchange/data/"


@pytest.fixture(params=["inline", "sequencer"])
def d(
    request: pytest.FixtureRequest, db: Session, center: Center, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Delivery]:
    monkeypatch.setattr(audit_service, "sequencing", request.param)
    world = delivery_world(db, center)
    db.commit()
    with clock.frozen(USED_AT):
        yield world


def inside(d: Delivery, region: str = "361103") -> dict[str, Any]:
    return next(r for r in d.rows if r["region_code"] == region)


def lean_matches(app: FastAPI, path: str, headers: dict[str, str], method: str = "GET") -> bool:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "app": app,
    }
    return lookup_route.route.matches(scope)[0] is Match.FULL


def entries(db: Session, action: str) -> int:
    return db.execute(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    ).scalar_one()


def uses(db: Session) -> int:
    return db.execute(select(func.count()).select_from(DataUse)).scalar_one()


def test_the_lean_route_takes_token_lookups_and_leaves_the_rest(
    app: FastAPI, db: Session, d: Delivery
) -> None:
    headers = token_for(db, d)
    path = f"{API}{d.code}/{inside(d)['id_number']}"
    routes = app.router.routes
    # Before the included API routers (the first is the exchange API's).
    first_router = next(i for i, r in enumerate(routes) if not hasattr(r, "path"))
    assert routes.index(lookup_route.route) < first_router
    assert lean_matches(app, path, headers)
    assert not lean_matches(app, path, {})  # a signed-in user's cookie: the FastAPI route
    assert not lean_matches(app, path, headers, method="POST")
    assert not lean_matches(app, path, headers, method="HEAD")
    assert not lean_matches(app, f"{API}{d.code}/download", headers)
    assert not lean_matches(app, f"{API}{d.code}", headers)


def test_each_answered_lookup_leaves_its_use_and_both_entries(
    app: FastAPI,
    client: TestClient,
    db: Session,
    d: Delivery,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lean: list[int] = []  # answers given by the lean route
    answer = lookup_route.answer_lookup
    monkeypatch.setattr(lookup_route, "answer_lookup", lambda *a: lean.append(1) or answer(*a))
    headers = token_for(db, d)
    citizen = inside(d)
    before = (entries(db, "sharing.grant.access"), entries(db, "exchange.data.lookup"), uses(db))
    found = client.get(f"{API}{d.code}/{citizen['id_number']}", headers=headers)
    assert found.status_code == 200, found.text
    (row,) = found.json()["rows"]
    key = key_of(app)
    assert row["id_number"] == mask_value(citizen["id_number"], Mask(MaskRule.ID_NUMBER), key=key)
    assert row["name"] == mask_value(citizen["name"], Mask(MaskRule.NAME), key=key)
    assert found.json()["under_verification"] == [False]
    outside = inside(d, "361104")  # a key outside the grant's rows: 404, still recorded
    missing = client.get(f"{API}{d.code}/{outside['id_number']}", headers=headers)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert missing.json()["field"] == "key"
    after = (entries(db, "sharing.grant.access"), entries(db, "exchange.data.lookup"), uses(db))
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 2, 2]
    assert len(lean) == 2
    if audit_service.sequencing == "sequencer":  # the Core append: leaf hashes as the ORM's
        for entry in db.execute(select(AuditEntry).where(AuditEntry.seq.is_(None))).scalars():
            assert entry.leaf_hash == audit_service.content_leaf(entry)


def test_bad_and_expired_tokens_are_refused(client: TestClient, db: Session, d: Delivery) -> None:
    path = f"{API}{d.code}/{inside(d)['id_number']}"
    headers = token_for(db, d)
    assert client.get(path, headers=headers).status_code == 200
    forged = headers["Authorization"][:-4] + "abcd"
    for bearer, reason in (("Bearer nonsense", "接口令牌格式错误"), (forged, "接口令牌无效")):
        refused = client.get(path, headers={"Authorization": bearer})
        assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
        assert refused.json()["detail"] == reason
    with clock.frozen(clock.now() + timedelta(days=3650)):
        expired = client.get(path, headers=headers)
    assert expired.status_code == 401 and expired.json()["detail"] == "接口令牌已过期"


def test_a_grant_suspended_after_the_caches_warmed_is_refused(
    client: TestClient, db: Session, d: Delivery
) -> None:
    headers = token_for(db, d)
    path = f"{API}{d.code}/{inside(d)['id_number']}"
    assert client.get(path, headers=headers).status_code == 200  # caches warm
    grants.suspend_grant(
        db, actor=d.w.provider_officer, grant_id=d.grant.id, data=GrantActionIn(reason="越权使用")
    )
    db.commit()  # the stamp changes with it: the next lookup reads the grant again
    refused = client.get(path, headers=headers)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    body = refused.json()
    assert "已被暂停使用：越权使用" in body["detail"]
    assert (body["grant_state"], body["grant_id"]) == ("suspended", d.grant.id)
    assert entries(db, "exchange.data.lookup") == 2  # the refusal is recorded and committed


def test_a_field_outside_the_grant_is_refused_and_recorded(
    client: TestClient, db: Session, d: Delivery
) -> None:
    headers = token_for(db, d)
    refused = client.get(
        f"{API}{d.code}/{inside(d)['id_number']}?fields=姓名,phone", headers=headers
    )
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["detail"] == "字段“手机号码”不在授权范围内"
    assert entries(db, "exchange.data.lookup") == entries(db, "sharing.grant.access") == 1
    nul = client.get(f"{API}{d.code}/{inside(d)['id_number']}?fields=%00", headers=headers)
    assert nul.status_code == 422 and nul.json()["field"] == "fields"


def test_a_record_under_an_open_objection_is_marked(
    app: FastAPI, client: TestClient, db: Session, d: Delivery
) -> None:
    headers = token_for(db, d)
    disputed, other = inside(d), inside(d, "361102")
    path = f"{API}{d.code}/"
    assert client.get(path + disputed["id_number"], headers=headers).json()[
        "under_verification"
    ] == [False]
    objections.raise_on_records(
        db,
        actor=d.w.consumer_officer,
        profile=app.state.runtime.profile,
        grant_id=d.grant.id,
        data=RecordObjectionIn(
            keys=[{"公民身份号码": disputed["id_number"]}],
            items=["姓名"],
            description="姓名与户口簿不一致",
        ),
    )
    db.commit()
    marked = client.get(path + disputed["id_number"], headers=headers).json()
    assert marked["under_verification"] == [True]
    plain = client.get(path + other["id_number"], headers=headers).json()
    assert plain["under_verification"] == [False]


def test_a_signed_in_officer_still_gets_the_fastapi_route(
    client: TestClient, db: Session, d: Delivery
) -> None:
    signed_in(client, db, d.w.consumer_officer)
    found = client.get(f"{API}{d.code}/{inside(d)['id_number']}")
    assert found.status_code == 200 and len(found.json()["rows"]) == 1
