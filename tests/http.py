"""HTTP helpers for API tests: the app over the test's transaction, sign-in, CSRF."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from govshare.web.deps import CSRF_HEADER, SESSION_COOKIE, csrf_token
from tests.builders import PASSWORD


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/session", json={"username": username, "password": password})


def csrf_for(app: FastAPI, client: TestClient) -> dict[str, str]:
    """The header a page of this session would send."""
    token = client.cookies[SESSION_COOKIE]
    return {CSRF_HEADER: csrf_token(Request({"type": "http", "app": app}), token)}
