"""The portal's data-request pages (数据开放需求) on their own, on SQLite and PostgreSQL: only a
signed-in account asks, with its session's form token; a refused form says why beside each
field and keeps what was typed; the public list masks the requester's name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from govshare.core import clock
from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalDataRequest, PortalSession
from govshare.portal.requests_pages import PER_DAY, masked_name
from govshare.portal.settings import PortalSettings
from tests.conftest import BACKENDS
from tests.portal import signing
from tests.portal.conftest import fresh_portal

GOOD = {
    "title": "公交车辆实时位置",
    "description": "用于开发公交到站提醒应用，需要各线路车辆的实时经纬度",
    "domain": "transport",
    "department": "市交通运输局",
}


@pytest.fixture(params=BACKENDS)
def portal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PortalDatabase]:
    """An empty portal database of its own for each test."""
    database = fresh_portal(request.param, "govshare_test_requests", tmp_path)
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture
def client(portal: PortalDatabase) -> Iterator[TestClient]:
    app = create_portal_app(PortalSettings(database_url=portal.url), database=portal)
    with TestClient(app) as test_client:
        yield test_client


def _stored(portal: PortalDatabase) -> list[PortalDataRequest]:
    with portal.session() as ps:
        return list(ps.scalars(sa.select(PortalDataRequest).order_by(PortalDataRequest.id)))


def _error_after(html: str, field: str) -> str:
    """The error shown right after the field's input (empty when there is none)."""
    found = re.search(rf'id="{field}"[^>]*>.*?(?=<label|<div class="form-actions")', html, re.S)
    assert found is not None, f"no input {field}"
    error = re.search(r'class="field-error"[^>]*>([^<]+)<', found.group(0))
    return error.group(1) if error else ""


def test_only_a_signed_in_account_is_offered_the_form(
    client: TestClient, portal: PortalDatabase
) -> None:
    anonymous = client.get("/request")
    assert anonymous.status_code == 401
    assert (
        "提出需求须先登录" in anonymous.text
        and 'href="/account/login?next=/request"' in anonymous.text
    )
    assert 'id="request-form"' not in anonymous.text
    assert client.post("/request", data=GOOD).status_code == 401
    # An expired session is no session.
    who = signing.sign_in(client, portal, signing.account(portal))
    with portal.session() as ps:
        for session in ps.scalars(sa.select(PortalSession)):
            session.expires_at = clock.now() - timedelta(minutes=1)
    assert client.get("/request").status_code == 401
    assert client.post("/request", data=GOOD | {"csrf_token": who.csrf}).status_code == 401
    assert _stored(portal) == []


def test_a_form_without_its_sessions_token_is_refused(
    client: TestClient, portal: PortalDatabase
) -> None:
    signing.sign_in(client, portal, signing.account(portal))
    for token in ("", "not-the-token"):
        refused = client.post("/request", data=GOOD | {"csrf_token": token})
        assert refused.status_code == 403 and "请刷新页面后重新填写" in refused.text
    assert _stored(portal) == []


def test_a_refused_request_says_why_beside_each_field_and_keeps_the_values(
    client: TestClient, portal: PortalDatabase
) -> None:
    who = signing.sign_in(client, portal, signing.account(portal))
    form = client.get("/request")
    assert form.status_code == 200 and f'value="{who.csrf}"' in form.text
    typed = GOOD | {"title": "", "description": "太短", "domain": "astrology"}
    refused = client.post("/request", data=typed | {"csrf_token": who.csrf})
    assert refused.status_code == 422
    assert "需求未提交" in refused.text
    assert _error_after(refused.text, "title") == "请填写需求名称"
    assert _error_after(refused.text, "description") == "需求描述至少 10 个字"
    assert _error_after(refused.text, "domain") == "请从列表中选择数据领域"
    assert _error_after(refused.text, "department") == ""
    assert ">太短</textarea>" in refused.text
    assert 'value="市交通运输局"' in refused.text
    assert _stored(portal) == []

    control = client.post("/request", data=GOOD | {"title": "公交\x07位置", "csrf_token": who.csrf})
    assert _error_after(control.text, "title") == "需求名称不能含控制字符"

    taken = client.post("/request", data=GOOD | {"csrf_token": who.csrf}, follow_redirects=False)
    assert taken.status_code == 303 and taken.headers["location"] == "/request?submitted=1"
    (stored,) = _stored(portal)
    assert (stored.title, stored.domain, stored.state) == (GOOD["title"], "transport", "submitted")
    mine = client.get("/request?submitted=1").text
    assert "需求已提交" in mine and "我提出的需求（1）" in mine and "等待平台受理" in mine


def test_an_account_may_ask_so_many_times_a_day(client: TestClient, portal: PortalDatabase) -> None:
    who = signing.sign_in(client, portal, signing.account(portal))
    for n in range(PER_DAY):
        asked = client.post(
            "/request",
            data=GOOD | {"title": f"数据{n}", "csrf_token": who.csrf},
            follow_redirects=False,
        )
        assert asked.status_code == 303
    refused = client.post("/request", data=GOOD | {"csrf_token": who.csrf})
    assert refused.status_code == 422 and f"24 小时内最多提出 {PER_DAY} 条" in refused.text
    assert len(_stored(portal)) == PER_DAY


def test_the_public_list_masks_the_requester_and_pages(
    client: TestClient, portal: PortalDatabase
) -> None:
    organisation = signing.account(
        portal,
        "江州大学",
        kind="organization",
        id_number=None,
        credit_code="12360000491000000X",
        mobile="13900139000",
    )
    who = signing.sign_in(client, portal, signing.account(portal, "欧阳娜娜"))
    client.post("/request", data=GOOD | {"csrf_token": who.csrf})
    university = signing.sign_in(client, portal, organisation)
    client.post("/request", data=GOOD | {"title": "高校毕业生就业", "csrf_token": university.csrf})
    anonymous = TestClient(client.app)
    listed = anonymous.get("/requests")
    assert listed.status_code == 200 and "共 2 条" in listed.text
    assert listed.text.index("高校毕业生就业") < listed.text.index(GOOD["title"])  # newest first
    assert "提出人：欧***" in listed.text and "提出人：江***" in listed.text
    for personal in ("欧阳娜娜", "江州大学", "12360000491000000X", "13800138000"):
        assert personal not in listed.text
    assert anonymous.get("/requests?page=0").status_code == 400
    assert "页码（page）" in anonymous.get("/requests?page=x").text


@pytest.mark.parametrize(
    ("name", "shown"), [("李明", "李*"), ("欧阳娜娜", "欧***"), ("王", "*"), (" 张三 ", "张*")]
)
def test_a_name_is_masked_but_its_first_character(name: str, shown: str) -> None:
    assert masked_name(name) == shown
