"""Identity over HTTP: problem+json errors, bearer tokens, sign-in, CSRF and the pages.

The app's sessions are savepoints on the test's connection, so what a request commits is
visible to the test and still rolled back with it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core.permissions import Actor
from govshare.identity import service as identity_service
from govshare.identity.models import ApiToken, Organization, User
from govshare.identity.schemas import ApiTokenIn
from govshare.web.deps import CSRF_HEADER, SESSION_COOKIE
from tests.builders import PASSWORD, count, credit_code, operator, organization, system_of, user
from tests.http import csrf_for, form_sign_in, login_token, sign_in

PROBLEM = "application/problem+json"
BAD_USCC = "91350100M000100Y44"  # check character should be 3


@pytest.fixture
def op(db: Session) -> Actor:
    actor, _ = operator(db)
    db.commit()
    return actor


def organization_body(uscc: str | None = None, name: str = "江州市数据局") -> dict[str, Any]:
    return {"name": name, "uscc": uscc or credit_code(), "level": "city"}


def bearer(db: Session, actor: Actor, org_id: int) -> tuple[int, str]:
    row, secret = identity_service.issue_api_token(
        db, actor=actor, data=ApiTokenIn(name="业务系统", system_id=system_of(db, org_id))
    )
    db.commit()
    return row.id, secret


def failed_sign_ins(db: Session, username: str) -> int:
    db.expire_all()
    stmt = select(User.failed_sign_ins).where(User.username == username)
    return db.execute(stmt).scalar_one()


# --- API --------------------------------------------------------------------------------


def test_health_answers_with_the_database_in_use(client: TestClient, db: Session) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == db.get_bind().dialect.name


def test_bad_credit_code_from_a_system_token_is_a_problem_naming_uscc(
    client: TestClient, db: Session, op: Actor
) -> None:
    _, secret = bearer(db, op, op.organization_id or 0)
    before = count(db, Organization)
    response = client.post(
        "/api/v1/organizations",
        json=organization_body(BAD_USCC),
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["field"] == "uscc"
    assert "统一社会信用代码无效：校验码错误：第 18 位应为 3" in body["detail"]
    assert count(db, Organization) == before


def test_bad_credit_code_from_a_signed_in_operator_is_a_problem_naming_uscc(
    app: FastAPI, client: TestClient, op: Actor
) -> None:
    assert sign_in(client, "operator").status_code == 200
    response = client.post(
        "/api/v1/organizations",
        json=organization_body(BAD_USCC),
        headers=csrf_for(app, client),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["field"] == "uscc"
    assert "校验码错误" in response.json()["detail"]


def test_unauthenticated_request_is_a_401_problem(client: TestClient) -> None:
    response = client.post("/api/v1/organizations", json=organization_body())
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "请先登录"


def test_revoked_bearer_token_is_a_401_with_the_reason(
    client: TestClient, db: Session, op: Actor
) -> None:
    token_id, secret = bearer(db, op, op.organization_id or 0)
    identity_service.revoke_api_token(db, actor=op, token_id=token_id)
    db.commit()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "接口令牌已吊销"


def test_system_token_may_not_register_organizations(
    client: TestClient, db: Session, op: Actor
) -> None:
    _, secret = bearer(db, op, op.organization_id or 0)
    response = client.post(
        "/api/v1/organizations",
        json=organization_body(),
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM


def test_sign_in_sets_the_session_cookie(client: TestClient, op: Actor) -> None:
    response = sign_in(client, "operator")
    assert response.status_code == 200
    assert response.json()["username"] == "operator"
    assert client.cookies.get(SESSION_COOKIE)
    assert client.get("/api/v1/me").json()["label"] == "operator"


def test_wrong_password_is_a_401_problem_and_the_failure_is_committed(
    client: TestClient, db: Session, op: Actor
) -> None:
    response = sign_in(client, "operator", "wrong-password1")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "用户名或密码错误"
    assert SESSION_COOKIE not in client.cookies
    assert failed_sign_ins(db, "operator") == 1


def test_locked_account_is_a_423_problem(client: TestClient, db: Session) -> None:
    user(db, organization(db), username="lisi")
    db.commit()
    statuses = [sign_in(client, "lisi", "wrong-password1").status_code for _ in range(3)]
    assert statuses == [401, 401, 423]
    response = sign_in(client, "lisi")
    assert response.status_code == 423
    assert response.headers["content-type"] == PROBLEM
    assert "锁定" in response.json()["detail"]


def test_cookie_post_without_the_csrf_header_is_refused(
    client: TestClient, db: Session, op: Actor
) -> None:
    sign_in(client, "operator")
    before = count(db, Organization)
    response = client.post("/api/v1/organizations", json=organization_body())
    assert response.status_code == 403
    assert response.json()["field"] == "csrf_token"
    assert count(db, Organization) == before


def test_cookie_post_with_a_wrong_csrf_header_is_refused(client: TestClient, op: Actor) -> None:
    sign_in(client, "operator")
    response = client.post(
        "/api/v1/organizations", json=organization_body(), headers={CSRF_HEADER: "0" * 64}
    )
    assert response.status_code == 403


def test_cookie_post_with_the_csrf_header_succeeds(
    app: FastAPI, client: TestClient, db: Session, op: Actor
) -> None:
    sign_in(client, "operator")
    response = client.post(
        "/api/v1/organizations", json=organization_body(), headers=csrf_for(app, client)
    )
    assert response.status_code == 201, response.text
    assert db.get(Organization, response.json()["id"]) is not None


# --- pages ------------------------------------------------------------------------------


def test_login_page_is_in_chinese(client: TestClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "请使用平台管理员为您开设的实名账户登录" in response.text


def test_home_without_a_session_redirects_to_login(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/"


def test_failed_form_sign_in_shows_the_reason_and_commits_the_failure(
    client: TestClient, db: Session, op: Actor
) -> None:
    response = form_sign_in(client, "operator", "wrong-password1", next="/")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert failed_sign_ins(db, "operator") == 1


def test_form_sign_in_opens_the_home_page(client: TestClient, op: Actor) -> None:
    response = client.post(
        "/login",
        data={
            "username": "operator",
            "password": PASSWORD,
            "next": "/",
            "csrf_token": login_token(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert client.cookies.get(SESSION_COOKIE)
    home = client.get("/")
    assert home.status_code == 200
    assert "组织机构" in home.text


@pytest.mark.parametrize("name", ["", "  ", "\u3000\u3000\t", "系统\u202e名"])
def test_a_token_without_a_real_name_is_refused_naming_the_field(
    app: FastAPI, client: TestClient, db: Session, op: Actor, name: str
) -> None:
    system_id = system_of(db, op.organization_id)
    db.commit()
    assert sign_in(client, "operator").status_code == 200
    response = client.post(
        "/api/v1/api-tokens",
        json={"name": name, "system_id": system_id},
        headers=csrf_for(app, client),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["field"] == "name"
    assert "令牌名称" in response.json()["detail"]
    assert count(db, ApiToken) == 0
