"""The catalog over the JSON API: errors name their field (problem+json), the lifecycle
runs end to end, subscriptions fill the inbox, and drafts stay with their department."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core.permissions import Role
from govshare.identity.models import Organization
from tests.builders import operator, organization, user
from tests.catalog.builders import resource_in
from tests.http import csrf_for, sign_in

PROBLEM = "application/problem+json"


def _people(db: Session) -> None:
    operator(db)
    mz = organization(db, "江州市民政局")
    user(db, mz, [Role.DATA_OFFICER], "mz_officer")
    gaj = organization(db, "江州市公安局")
    user(db, gaj, [Role.DATA_OFFICER], "gaj_officer")
    db.commit()


def _as(client: TestClient, app: FastAPI, username: str) -> dict[str, str]:
    client.cookies.clear()
    assert sign_in(client, username).status_code == 200
    return csrf_for(app, client)


def test_the_lifecycle_over_the_api(app: FastAPI, client: TestClient, db: Session) -> None:
    _people(db)
    headers = _as(client, app, "mz_officer")
    body = resource_in(share_type="conditional", share_conditions="仅限婚姻登记业务").model_dump(
        mode="json"
    )
    refused = client.post("/api/v1/catalog/resources", json=body, headers=headers)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert refused.json()["field"] == "legal_basis"

    body["legal_basis"] = "《婚姻登记条例》第二条"
    created = client.post("/api/v1/catalog/resources", json=body, headers=headers)
    assert created.status_code == 201, created.text
    resource_id = created.json()["resource"]["id"]
    version_id = created.json()["version"]["id"]
    assert created.json()["resource"]["code"] == "301001/000001"
    submitted = client.post(f"/api/v1/catalog/versions/{version_id}/submit", headers=headers)
    assert submitted.json()["state"] == "submitted"

    gaj_headers = _as(client, app, "gaj_officer")
    hidden = client.get(f"/api/v1/catalog/resources/{resource_id}", headers=gaj_headers)
    assert hidden.status_code == 404

    op_headers = _as(client, app, "operator")
    queue = client.get("/api/v1/catalog/review-queue").json()
    assert [v["id"] for v in queue["versions"]] == [version_id]
    approved = client.post(
        f"/api/v1/catalog/versions/{version_id}/review", json={"approve": True}, headers=op_headers
    )
    assert approved.json()["state"] == "published"

    gaj_headers = _as(client, app, "gaj_officer")
    assert client.get(f"/api/v1/catalog/resources/{resource_id}").json()["status"] == "published"
    subscribed = client.post(
        f"/api/v1/catalog/resources/{resource_id}/subscription", headers=gaj_headers
    )
    assert subscribed.status_code == 201
    twice = client.post(
        f"/api/v1/catalog/resources/{resource_id}/subscription", headers=gaj_headers
    )
    assert twice.status_code == 409
    dupes = client.post(
        "/api/v1/catalog/duplicates",
        json={"item_names": ["公民身份号码"]},
        headers=gaj_headers,
    ).json()
    assert [(d["item"], d["existing_item"]) for d in dupes] == [("公民身份号码", "身份证号")]

    headers = _as(client, app, "mz_officer")
    retire = client.post(
        f"/api/v1/catalog/resources/{resource_id}/retirement",
        json={"reason": "职能划转"},
        headers=headers,
    )
    assert retire.json()["retirement_state"] == "submitted"
    op_headers = _as(client, app, "operator")
    scheduled = client.post(
        f"/api/v1/catalog/resources/{resource_id}/retirement/review",
        json={"approve": True},
        headers=op_headers,
    )
    assert scheduled.json()["retirement_state"] == "scheduled"
    assert scheduled.json()["status"] == "published"  # still available until the date

    _as(client, app, "gaj_officer")
    inbox = client.get("/api/v1/inbox").json()
    assert inbox["unread"] == 1
    assert "下架预告" in inbox["rows"][0]["title"]
    gaj_headers = csrf_for(app, client)
    read = client.post(f"/api/v1/inbox/{inbox['rows'][0]['id']}/read", headers=gaj_headers)
    assert read.json() == {"marked": 1}
    assert client.get("/api/v1/inbox").json()["unread"] == 0


def test_the_operator_sets_up_a_theme_and_members_compile_into_it(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    _people(db)
    mz = db.execute(select(Organization).where(Organization.name == "江州市民政局")).scalar_one()
    op_headers = _as(client, app, "operator")
    theme = client.post(
        "/api/v1/catalog/themes",
        json={"name": "一老一小", "lead_organization_id": mz.id},
        headers=op_headers,
    )
    assert theme.status_code == 201, theme.text
    theme_id = theme.json()["id"]
    gaj_headers = _as(client, app, "gaj_officer")
    outsider = resource_in(catalog_kind="theme", theme_id=theme_id).model_dump(mode="json")
    refused = client.post("/api/v1/catalog/resources", json=outsider, headers=gaj_headers)
    assert refused.status_code == 422 and refused.json()["field"] == "theme_id"
    mz_headers = _as(client, app, "mz_officer")
    created = client.post("/api/v1/catalog/resources", json=outsider, headers=mz_headers)
    assert created.status_code == 201
    assert created.json()["resource"]["code"].startswith("201001/")
    listed = client.get("/api/v1/catalog/themes").json()
    assert [(t["name"], t["published_resources"]) for t in listed] == [("一老一小", 0)]
