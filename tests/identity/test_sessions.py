"""Sessions and CSRF over HTTP: password changes end sessions, the sign-in form refuses
forged posts, cookies are Secure behind TLS and carry no absolute expiry, the API signs out,
and every response carries the security headers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from govshare.core.audit.models import AuditEntry
from govshare.core.permissions import Actor, Role
from govshare.identity.models import User, WebSession
from govshare.web.deps import CSRF_HEADER, LOGIN_COOKIE, SESSION_COOKIE
from tests.builders import PASSWORD, operator, organization, user
from tests.http import csrf_for, form_sign_in, login_token, sign_in

NEW_PASSWORD = "another2027pass"


@pytest.fixture
def op(db: Session) -> Actor:
    actor, _ = operator(db)
    db.commit()
    return actor


@pytest.fixture
def clerk(db: Session) -> User:
    account = user(db, organization(db, "江州市民政局"), [Role.DEPARTMENT_STAFF], "mz_clerk")
    db.commit()
    return account


@pytest.fixture
def other(app: FastAPI) -> Iterator[TestClient]:
    """A second browser."""
    with TestClient(app) as second:
        yield second


def cookies_set(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Set-Cookie headers by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def audit_details(db: Session, action: str) -> list[dict]:  # type: ignore[type-arg]
    rows = db.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars()
    return [json.loads(r.details) for r in rows]


def open_sessions(db: Session, user_id: int) -> int:
    db.expire_all()
    stmt = select(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    return len(db.execute(stmt).scalars().all())


# --- password changes and disabled accounts end sessions ---------------------------------


def test_changing_ones_password_ends_ones_other_sessions_only(
    app: FastAPI, client: TestClient, other: TestClient, db: Session, clerk: User
) -> None:
    assert sign_in(client, "mz_clerk").status_code == 200
    assert sign_in(other, "mz_clerk").status_code == 200
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
        headers=csrf_for(app, client),
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert client.get("/api/v1/me").status_code == 200  # the browser that changed it
    assert other.get("/api/v1/me").status_code == 401  # whoever else knew the old one
    assert other.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert open_sessions(db, clerk.id) == 1
    assert audit_details(db, "identity.user.change_password") == [{"sessions_ended": 1}]


def test_a_wrong_current_password_ends_no_session(
    app: FastAPI, client: TestClient, other: TestClient, clerk: User
) -> None:
    sign_in(client, "mz_clerk")
    sign_in(other, "mz_clerk")
    response = client.post(
        "/account/password",
        data={
            "current_password": "not-it-2026",
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
        headers=csrf_for(app, client),
    )
    assert response.status_code == 422
    assert "当前密码不正确" in response.text
    assert other.get("/api/v1/me").status_code == 200


def test_an_operator_resetting_a_password_ends_every_session_of_that_user(
    app: FastAPI, client: TestClient, other: TestClient, db: Session, op: Actor, clerk: User
) -> None:
    sign_in(other, "mz_clerk")
    with TestClient(app) as third:
        sign_in(third, "mz_clerk")
        sign_in(client, "operator")
        response = client.post(
            f"/admin/users/{clerk.id}/password",
            data={"new_password": NEW_PASSWORD},
            headers=csrf_for(app, client),
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert third.get("/api/v1/me").status_code == 401
    assert other.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me").status_code == 200  # the operator's own stays
    assert open_sessions(db, clerk.id) == 0
    assert audit_details(db, "identity.user.reset_password") == [{"sessions_ended": 2}]
    assert sign_in(other, "mz_clerk", NEW_PASSWORD).status_code == 200


def test_a_disabled_accounts_sessions_end(
    app: FastAPI, client: TestClient, other: TestClient, db: Session, op: Actor, clerk: User
) -> None:
    sign_in(other, "mz_clerk")
    sign_in(client, "operator")
    response = client.patch(
        f"/api/v1/users/{clerk.id}", json={"active": False}, headers=csrf_for(app, client)
    )
    assert response.status_code == 200, response.text
    assert other.get("/api/v1/me").status_code == 401
    assert open_sessions(db, clerk.id) == 0
    [details] = audit_details(db, "identity.user.update")
    assert details["changed"]["sessions_ended"] == 1


# --- the sign-in form refuses forged posts -----------------------------------------------


def test_the_sign_in_form_pairs_a_hidden_token_with_a_strict_cookie(client: TestClient) -> None:
    response = client.get("/login")
    assert re.search(r'name="csrf_token" value="[0-9a-f]{64}"', response.text)
    cookie = cookies_set(response)[LOGIN_COOKIE].lower()
    assert "samesite=strict" in cookie and "httponly" in cookie and "path=/login" in cookie
    assert "max-age=" in cookie


def test_a_cross_site_sign_in_post_is_refused_and_counts_nothing(
    client: TestClient, db: Session, op: Actor
) -> None:
    """The login CSRF: a page elsewhere posts the attacker's credentials to /login, to sign
    the victim in as the attacker. The victim's browser has no sign-in cookie of ours."""
    response = client.post(
        "/login",
        data={"username": "operator", "password": PASSWORD, "next": "/"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "登录请求来源不明" in response.text
    assert SESSION_COOKIE not in cookies_set(response)
    assert audit_details(db, "identity.sign_in") == []
    assert audit_details(db, "identity.sign_in.failed") == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
    ids=["cross-site", "same-site", "foreign-origin", "opaque-origin"],
)
def test_a_sign_in_from_another_origin_is_refused_even_with_a_valid_token(
    client: TestClient, op: Actor, headers: dict[str, str]
) -> None:
    data = {"username": "operator", "password": PASSWORD, "csrf_token": login_token(client)}
    response = client.post("/login", data=data, headers=headers, follow_redirects=False)
    assert response.status_code == 403
    assert SESSION_COOKIE not in cookies_set(response)


def test_a_token_from_another_visitors_form_is_refused(
    app: FastAPI, client: TestClient, other: TestClient, op: Actor
) -> None:
    attackers = login_token(other)  # the attacker's own pre-session
    login_token(client)  # the victim has a sign-in cookie of their own
    data = {"username": "operator", "password": PASSWORD, "csrf_token": attackers}
    response = client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert "登录请求来源不明" in response.text
    # the refusal shows a fresh form, which then works
    retry = client.post(
        "/login",
        data=data | {"csrf_token": re.search(r'name="csrf_token" value="(\w+)"', response.text)[1]},
        follow_redirects=False,
    )
    assert retry.status_code == 303


def test_the_sign_in_form_from_the_same_origin_works(client: TestClient, op: Actor) -> None:
    token = login_token(client)
    response = client.post(
        "/login",
        data={"username": "operator", "password": PASSWORD, "csrf_token": token},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert client.cookies.get(SESSION_COOKIE)
    assert "max-age=0" in cookies_set(response)[LOGIN_COOKIE].lower()  # the token is spent


def test_the_api_refuses_a_sign_in_a_browser_sends_from_another_site(
    client: TestClient, op: Actor
) -> None:
    response = client.post(
        "/api/v1/session",
        json={"username": "operator", "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert SESSION_COOKIE not in cookies_set(response)


# --- cookies: Secure behind TLS, Max-Age and never an absolute Expires ------------------


def _api_cookie(client: TestClient) -> str:
    return cookies_set(sign_in(client, "operator"))[SESSION_COOKIE].lower()


def _page_cookie(client: TestClient) -> str:
    response = form_sign_in(client, "operator", follow_redirects=False)
    assert response.status_code == 303
    return cookies_set(response)[SESSION_COOKIE].lower()


@pytest.mark.parametrize("sign_in_by", [_api_cookie, _page_cookie], ids=["api", "page"])
def test_session_cookies_are_secure_over_https_and_only_then(
    app: FastAPI, op: Actor, sign_in_by
) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="https://testserver") as tls:
        assert "; secure" in sign_in_by(tls)
    with TestClient(app, base_url="http://testserver") as plain:
        assert "; secure" not in sign_in_by(plain)


def test_session_cookies_are_secure_behind_a_tls_proxy(app: FastAPI, op: Actor) -> None:
    """`govshare serve` runs uvicorn with proxy headers: X-Forwarded-Proto from the proxy."""
    proxied = ProxyHeadersMiddleware(app, trusted_hosts="*")
    with TestClient(proxied, headers={"X-Forwarded-Proto": "https"}) as behind_tls:
        assert "; secure" in _api_cookie(behind_tls)
        form = behind_tls.get("/login")
        login_cookie = cookies_set(form)[LOGIN_COOKIE]
        assert "; secure" in login_cookie.lower()
        # this client speaks plain http to the app, so it holds back Secure cookies: send it
        nonce = login_cookie.split(";", 1)[0].split("=", 1)[1]
        token = re.search(r'name="csrf_token" value="(\w+)"', form.text)[1]
        response = behind_tls.post(
            "/login",
            data={"username": "operator", "password": PASSWORD, "csrf_token": token},
            headers={"Cookie": f"{LOGIN_COOKIE}={nonce}"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert "; secure" in cookies_set(response)[SESSION_COOKIE].lower()


@pytest.mark.parametrize("sign_in_by", [_api_cookie, _page_cookie], ids=["api", "page"])
def test_session_cookies_expire_by_max_age_not_by_a_date(
    client: TestClient, op: Actor, sign_in_by
) -> None:  # type: ignore[no-untyped-def]
    """A browser whose date differs from the server's keeps the cookie for its whole life."""
    cookie = sign_in_by(client)
    assert "max-age=43200" in cookie  # the default 12 hours
    assert "expires=" not in cookie


# --- DELETE /api/v1/session ---------------------------------------------------------------


def test_the_api_signs_out(client: TestClient, db: Session, op: Actor) -> None:
    signed_in = sign_in(client, "operator")
    csrf = {CSRF_HEADER: signed_in.headers[CSRF_HEADER]}  # handed over at sign-in
    assert client.delete("/api/v1/session").status_code == 403  # the CSRF header is required
    response = client.delete("/api/v1/session", headers=csrf)
    assert response.status_code == 204
    assert "max-age=0" in cookies_set(response)[SESSION_COOKIE].lower()
    assert client.cookies.get(SESSION_COOKIE) is None
    assert client.get("/api/v1/me").status_code == 401
    [entry] = db.execute(
        select(AuditEntry).where(AuditEntry.action == "identity.sign_out")
    ).scalars()
    assert entry.actor_label == "operator"
    _, account = op, db.execute(select(User).where(User.username == "operator")).scalar_one()
    assert open_sessions(db, account.id) == 0
    # nothing left to end: still 204, nothing more audited
    assert client.delete("/api/v1/session").status_code == 204
    assert len(audit_details(db, "identity.sign_out")) == 1


def test_the_stolen_cookie_is_useless_after_an_api_sign_out(
    client: TestClient, other: TestClient, op: Actor
) -> None:
    signed_in = sign_in(client, "operator")
    other.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
    assert other.get("/api/v1/me").status_code == 200
    client.delete("/api/v1/session", headers={CSRF_HEADER: signed_in.headers[CSRF_HEADER]})
    assert other.get("/api/v1/me").status_code == 401


def test_the_openapi_documents_sign_out(client: TestClient) -> None:
    operation = client.get("/api/openapi.json").json()["paths"]["/api/v1/session"]["delete"]
    assert operation["summary"] == "退出登录（结束浏览器会话）"
    assert "204" in operation["responses"] and "403" in operation["responses"]


# --- security headers -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/", "/no-such-page", "/static/app.css"])
def test_pages_may_not_be_framed_and_run_only_own_scripts(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self';" in policy  # no inline scripts, no eval
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/me", "/api/openapi.json"])
def test_api_responses_are_not_sniffed(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"


def test_no_template_carries_an_inline_script_or_handler() -> None:
    """The policy allows scripts only from the platform's files; an inline one would not run."""
    root = Path(__file__).resolve().parents[2] / "src" / "govshare"
    offending = []
    for template in root.rglob("templates/**/*.html"):
        text = template.read_text(encoding="utf-8")
        inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text)
        handlers = re.findall(r"<[^>]*\s(on[a-z]+)\s*=", text)
        javascript_urls = re.findall(r"javascript:", text, re.I)
        if inline_scripts or handlers or javascript_urls:
            offending.append(f"{template.relative_to(root)}: {inline_scripts + handlers}")
    assert offending == []
