"""Sharing over the JSON API: deadlines with their dates, problem+json naming the field,
the access check refusing a suspended grant with the reason (and logging the refusal)."""

from __future__ import annotations

import base64
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.permissions import Actor
from govshare.identity.models import User
from tests.http import csrf_for, sign_in
from tests.sharing.builders import PDF, Sharing, sharing_world

PROBLEM = "application/problem+json"


@pytest.fixture
def w(db: Session) -> Sharing:
    with clock.frozen("2026-09-01T09:00:00+08:00"):
        world = sharing_world(db)
    db.commit()
    return world


def _as(client: TestClient, app: FastAPI, db: Session, actor: Actor) -> dict[str, str]:
    username = db.get(User, actor.user_id).username
    client.cookies.clear()
    assert sign_in(client, username).status_code == 200
    return csrf_for(app, client)


def _application(w: Sharing, **kw) -> dict:
    body = {
        "resource_id": w.conditional.id,
        "purpose": "核对最低生活保障申请人的户籍和身份信息",
        "system_id": w.consumer_system,
        "fields": ["姓名", "公民身份号码", "户籍地址", "行政区划代码"],
        "row_filter": [{"field": "行政区划代码", "op": "in", "values": ["361102", "361103"]}],
        "valid_from": "2026-10-01",
        "valid_until": "2027-09-30",
        "accept_restrictions": True,
        "attachments": [
            {
                "kind": "sealed_letter",
                "filename": "申请函.pdf",
                "content_type": "application/pdf",
                "content_base64": base64.b64encode(PDF).decode(),
            }
        ],
    }
    return body | kw


def test_application_deadlines_and_decision_over_the_api(
    app: FastAPI, client: TestClient, db: Session, w: Sharing
) -> None:
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        headers = _as(client, app, db, w.consumer_officer)
        missing = client.post(
            "/api/v1/sharing/applications", json=_application(w, attachments=[]), headers=headers
        )
        assert missing.status_code == 422 and missing.headers["content-type"] == PROBLEM
        assert missing.json()["field"] == "attachment.sealed_letter"
        created = client.post("/api/v1/sharing/applications", json=_application(w), headers=headers)
        assert created.status_code == 201, created.text
        body = created.json()
        assert [(s["kind"], s["due"]["on"], s["started"]) for s in body["steps"]] == [
            ("pre_review", "2026-09-30", True),
            ("decision", "2026-10-20", False),
        ]
        assert body["state"] == "pre_review" and body["profile_code"] == "shangrao"
        application_id = body["id"]
        attachment_id = body["attachments"][0]["id"]

        op = _as(client, app, db, w.op)
        forwarded = client.post(
            f"/api/v1/sharing/applications/{application_id}/pre-review",
            json={"forward": True},
            headers=op,
        )
        # Forwarded on the day of submission: the provider's ten days start now, not on 30 Sep.
        assert forwarded.json()["steps"][1]["due"]["on"] == "2026-10-15"
        queue = client.get("/api/v1/sharing/queue", headers=op).json()
        assert [(q["number"], q["urgency"]) for q in queue] == [(body["number"], "ok")]

        provider = _as(client, app, db, w.provider_officer)
        download = client.get(f"/api/v1/sharing/attachments/{attachment_id}", headers=provider)
        assert download.content == PDF and download.headers["content-type"] == "application/pdf"
        waiting = client.get("/api/v1/sharing/decisions", headers=provider).json()
        assert [a["id"] for a in waiting] == [application_id]
        no_basis = client.post(
            f"/api/v1/sharing/applications/{application_id}/decision",
            json={"approve": False, "reason": "超出履职需要"},
            headers=provider,
        )
        assert no_basis.status_code == 422 and no_basis.json()["field"] == "basis"
        approved = client.post(
            f"/api/v1/sharing/applications/{application_id}/decision",
            json={
                "approve": True,
                "fields": ["姓名", "公民身份号码"],
                "masking": [{"field": "公民身份号码", "rule": "id_number"}],
            },
            headers=provider,
        )
        assert approved.status_code == 200, approved.text
        grant_id = approved.json()["grant_id"]

        consumer = _as(client, app, db, w.consumer_officer)
        grant = client.get(f"/api/v1/sharing/grants/{grant_id}", headers=consumer).json()
        assert grant["fields"] == ["姓名", "公民身份号码"]
        assert grant["masking"] == [{"field": "公民身份号码", "rule": "id_number"}]
        assert grant["row_filter"] == _application(w)["row_filter"]
        assert grant["valid_until"] == "2027-09-30" and len(grant["restrictions"]) == 5


def test_suspension_makes_the_access_api_refuse_with_the_reason(
    app: FastAPI, client: TestClient, db: Session, w: Sharing
) -> None:
    code = w.unconditional.code
    with clock.frozen("2026-10-12T09:00:00+08:00"):
        consumer = _as(client, app, db, w.consumer_officer)
        refused = client.get(f"/api/v1/sharing/access/{code}", headers=consumer)
        assert refused.status_code == 403 and "请先申请" in refused.json()["detail"]
        created = client.post(
            "/api/v1/sharing/direct-access",
            json={
                "resource_id": w.unconditional.id,
                "purpose": "政务服务事项办理指引",
                "system_id": w.consumer_system,
                "accept_restrictions": True,
            },
            headers=consumer,
        )
        assert created.status_code == 201, created.text
        grant_id = created.json()["id"]
        allowed = client.get(f"/api/v1/sharing/access/{code}", headers=consumer)
        assert allowed.status_code == 200 and allowed.json()["whole_resource"] is True

        provider = _as(client, app, db, w.provider_officer)
        suspended = client.post(
            f"/api/v1/sharing/grants/{grant_id}/suspend",
            json={"reason": "超出约定用途，向第三方提供数据"},
            headers=provider,
        )
        assert suspended.json()["state"] == "suspended"

        consumer = _as(client, app, db, w.consumer_officer)
        stopped = client.get(f"/api/v1/sharing/access/{code}", headers=consumer)
        assert stopped.status_code == 403 and stopped.headers["content-type"] == PROBLEM
        assert "已被暂停" in stopped.json()["detail"]
        assert "超出约定用途，向第三方提供数据" in stopped.json()["detail"]
        assert stopped.json()["grant_state"] == "suspended"
        unknown = client.get("/api/v1/sharing/access/399001/999999", headers=consumer)
        assert unknown.status_code == 404
    refusals = db.execute(
        select(AuditEntry.details)
        .where(AuditEntry.action == "sharing.grant.access")
        .order_by(AuditEntry.seq)
    ).scalars()
    assert ['"allowed":false' in d.replace(" ", "") for d in refusals] == [True, False, True]


def test_usage_feedback_and_restriction_over_the_api(
    app: FastAPI, client: TestClient, db: Session, w: Sharing
) -> None:
    with clock.frozen("2026-10-12T09:00:00+08:00"):
        consumer = _as(client, app, db, w.consumer_officer)
        grant = client.post(
            "/api/v1/sharing/direct-access",
            json={
                "resource_id": w.unconditional.id,
                "purpose": "政务服务事项办理指引",
                "system_id": w.consumer_system,
                "accept_restrictions": True,
            },
            headers=consumer,
        ).json()
        feedback = client.post(
            f"/api/v1/sharing/grants/{grant['id']}/feedback",
            json={"rating": "good", "cases_handled": 40, "effect": "减少群众提交材料"},
            headers=consumer,
        )
        assert feedback.status_code == 201, feedback.text
        restriction = client.get("/api/v1/sharing/restriction", headers=consumer).json()
        assert restriction == {"restricted": False, "article": None, "stale": []}

        provider = _as(client, app, db, w.provider_officer)
        usage = client.get("/api/v1/sharing/usage", headers=provider).json()
        assert [(u["resource_code"], len(u["grants"]), len(u["feedback"])) for u in usage] == [
            (w.unconditional.code, 1, 1)
        ]
        update = client.post(
            f"/api/v1/sharing/resources/{w.unconditional.id}/data-updates",
            json={"note": "每日同步"},
            headers=provider,
        )
        assert update.status_code == 201 and update.json()["updated_on"] == str(date(2026, 10, 12))
