"""HTTP helpers for API tests: the app over the test's transaction, sign-in, CSRF."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

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
