"""HTTP helpers for API tests: the app over the test's transaction, sign-in, CSRF."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.requests import Request

from govshare.core.permissions import Actor
from govshare.identity.models import User
from govshare.web.deps import CSRF_HEADER, SESSION_COOKIE, csrf_token
from tests.builders import PASSWORD


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/session", json={"username": username, "password": password})


def login_token(client: Any) -> str:
    """The sign-in form's hidden token, as a browser gets it (its cookie lands in `client`)."""
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the sign-in form carries no token"
    return found.group(1)


def form_sign_in(
    client: Any,
    username: str,
    password: str = PASSWORD,
    *,
    follow_redirects: bool = True,
    **fields: Any,
) -> Any:
    """Signs in through the sign-in form, as a browser does (TestClient or httpx.Client)."""
    data = {"username": username, "password": password, "csrf_token": login_token(client)}
    return client.post("/login", data=data | fields, follow_redirects=follow_redirects)


def csrf_for(app: FastAPI, client: TestClient) -> dict[str, str]:
    """The header a page of this session would send."""
    token = client.cookies[SESSION_COOKIE]
    return {CSRF_HEADER: csrf_token(Request({"type": "http", "app": app}), token)}


def sign_in_as(client: TestClient, db: Session, actor: Actor) -> None:
    """Signs `client` in as the user behind `actor`, dropping any earlier session."""
    client.cookies.clear()
    account = db.get(User, actor.user_id)
    assert account is not None
    assert sign_in(client, account.username).status_code == 200


def form_token(html: str, action: str) -> str:
    """The CSRF field of the page's form posting to `action` (failing if there is none)."""
    found = re.search(
        rf'<form method="post" action="{re.escape(action)}"[^>]*>\s*'
        r'<input type="hidden" name="csrf_token" value="([^"]+)"',
        html,
    )
    assert found is not None, f"no form posting to {action} with a CSRF field"
    return found.group(1)


def post_page_form(client: TestClient, page: str, action: str, data: dict[str, Any]) -> Any:
    """Posts the form found on `page` as a browser would, CSRF field included."""
    token = form_token(client.get(page).text, action)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False)
