"""An unexpected failure: a page gets a page in Chinese, the API problem details; neither shows
the traceback."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core.calendar import service as calendar_service
from tests.builders import operator
from tests.http import sign_in

DETAIL = "服务器内部错误，操作未完成，数据未改变。请稍后重试或联系平台管理员。"


def _broken(*_: Any, **__: Any) -> Any:
    raise RuntimeError("secret internals: connection to 10.0.0.7 lost")


def test_an_unexpected_failure_is_a_page_on_pages_and_a_problem_on_the_api(
    app: FastAPI, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator(db)
    monkeypatch.setattr(calendar_service, "load", _broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert sign_in(client, "operator").status_code == 200
        page = client.get("/calendar")
        api = client.get("/api/v1/workdays/add", params={"start": "2026-09-28", "n": 5})
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert DETAIL in page.text and "返回上一页" in page.text  # in the layout
    assert api.status_code == 500
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["detail"] == DETAIL
    for response in (page, api):
        assert "secret internals" not in response.text and "Traceback" not in response.text
