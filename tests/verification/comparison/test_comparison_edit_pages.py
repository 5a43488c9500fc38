"""The comparison's edit page: the operator finds the set-up form filled with the comparison's
definition, a bad change is refused beside its field and changes nothing, a good one changes
the definition and is audited, and a comparison switched off no longer runs on schedule."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.exchange.center import Center
from govshare.verification.comparison import Normaliser
from govshare.verification.comparison_jobs import SCHEDULER
from govshare.verification.comparison_models import Comparison, Schedule
from govshare.verification.service import comparisons
from tests.exchange.conftest import app as app  # the root app, its center this test's
from tests.http import csrf_for, sign_in_as
from tests.verification.comparison.cases import (
    PROFILE,
    Compared,
    compared_world,
    comparison_in,
    defined,
)

NOW = "2026-09-28T09:30:00+08:00"
UPDATE = "verification.comparison.update"


class _Form(HTMLParser):
    """The fields a browser would post from the page's set-up form: text inputs, checked
    boxes and radios, selected options, textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._inside = False
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == "comparison-form":
            self._inside = True
        if not self._inside:
            return
        if tag == "input" and a.get("type") in ("text", "hidden"):
            self.values[a["name"]] = a.get("value", "")
        elif tag == "input" and "checked" in a:
            self.values[a["name"]] = a.get("value", "on")
        elif tag == "select":
            self._select = a["name"]
            self.values.setdefault(self._select, "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[self._textarea] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def _shown(page: str) -> dict[str, str]:
    form = _Form()
    form.feed(page)
    assert form.values, "the page has the set-up form"
    return form.values


def _signed_in_operator(app: FastAPI, client: TestClient, c: Compared) -> dict[str, str]:
    sign_in_as(client, c.s.db, c.s.op)
    return csrf_for(app, client)


def _updates(db: Session, comparison_id: int) -> list[dict[str, Any]]:
    """The audited changes of the comparison, their details."""
    found = db.scalars(
        select(AuditEntry.details).where(
            AuditEntry.action == UPDATE, AuditEntry.object_id == str(comparison_id)
        )
    )
    return [json.loads(details) for details in found]


@pytest.fixture
def c(db: Session, center: Center) -> Compared:
    compared = compared_world(db, center)
    db.commit()
    return compared


def test_the_edit_form_shows_the_comparison_as_defined(
    app: FastAPI, client: TestClient, c: Compared
) -> None:
    with clock.frozen(NOW):
        comparison = defined(c, description="每月核对", schedule="daily")
        c.s.db.commit()
        _signed_in_operator(app, client, c)
        page = client.get(f"/verification/comparisons/{comparison.id}/edit")
    assert page.status_code == 200, page.text
    assert "修改后从下一次比对起生效，已发现的不一致按原期限处理" in page.text
    assert f'action="/verification/comparisons/{comparison.id}/edit"' in page.text
    shown = _shown(page.text)
    assert shown["name"] == "户籍人口与救助对象比对" and shown["description"] == "每月核对"
    assert shown["left_resource_id"] == str(c.left.id)
    assert shown["right_resource_id"] == str(c.right.id)
    assert (shown["key_1_left"], shown["key_1_right"]) == ("公民身份号码", "公民身份号码")
    assert (shown["item_2_name"], shown["item_2_left"]) == ("出生日期", "出生日期")
    ticked = {n.value for n in Normaliser if f"item_2_{n.value}" in shown}
    assert ticked == {"trim", "halfwidth", "date"}
    assert shown["item_1_authority"] == "left" and shown["item_3_authority"] == "right"
    assert shown["item_8_left"] == "" and "item_4_authority" not in shown  # spare rows
    assert shown["key_authority"] == "left" and shown["schedule"] == "daily"
    assert shown["active"] == "yes"


def test_the_edit_page_is_the_operators_only(app: FastAPI, client: TestClient, c: Compared) -> None:
    with clock.frozen(NOW):
        comparison = defined(c)
        c.s.db.commit()
        sign_in_as(client, c.s.db, c.s.provider_officer)  # a party to the comparison
        headers = csrf_for(app, client)
        edit = f"/verification/comparisons/{comparison.id}/edit"
        assert client.get(edit).status_code == 403
        assert client.post(edit, data={"name": "改名"}, headers=headers).status_code == 403
        assert (
            'id="edit-comparison"'
            not in client.get(f"/verification/comparisons/{comparison.id}").text
        )
    assert _updates(c.s.db, comparison.id) == []


def test_a_bad_edit_is_refused_beside_its_field_and_changes_nothing(
    app: FastAPI, client: TestClient, c: Compared
) -> None:
    with clock.frozen(NOW):
        comparison = defined(c)
        c.s.db.commit()
        headers = _signed_in_operator(app, client, c)
        edit = f"/verification/comparisons/{comparison.id}/edit"
        posted = _shown(client.get(edit).text) | {"name": "人口比对", "item_2_left": "性别"}
        wrong = client.post(edit, data=posted, headers=headers)
    assert wrong.status_code == 422, wrong.text
    row = wrong.text[wrong.text.index('id="item-2"') : wrong.text.index('id="item-3"')]
    assert "左方资源没有数据项「性别」" in row and 'value="性别"' in row
    assert 'name="item_2_date" value="1" checked' in row  # the row as typed
    assert _shown(wrong.text)["name"] == "人口比对"
    assert f'href="/verification/comparisons/{comparison.id}">户籍人口与救助对象比对<' in wrong.text
    c.s.db.expire_all()
    kept = c.s.db.get(Comparison, comparison.id)
    assert kept is not None and kept.name == "户籍人口与救助对象比对"
    assert [i["left"] for i in kept.items] == ["姓名", "出生日期", "户籍地址"]
    assert _updates(c.s.db, comparison.id) == []


def test_an_edit_changes_the_definition_and_is_audited(
    app: FastAPI, client: TestClient, c: Compared
) -> None:
    with clock.frozen(NOW):
        comparison = defined(c)
        c.s.db.commit()
        headers = _signed_in_operator(app, client, c)
        edit = f"/verification/comparisons/{comparison.id}/edit"
        posted = _shown(client.get(edit).text) | {
            "name": "人口信息比对",
            "item_2_left": "",  # the date no longer compared
            "item_2_right": "",
            "item_3_authority": "left",
            "item_5_left": "姓名",  # a spare row: the name again, without normalising
            "item_5_right": "姓名",
            "item_5_name": "姓名（原样）",
            "item_5_authority": "right",
            "key_authority": "",
            "schedule": "weekly",
        }
        saved = client.post(edit, data=posted, headers=headers, follow_redirects=False)
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"] == f"/verification/comparisons/{comparison.id}"
        page = client.get(saved.headers["location"]).text
    assert "已修改比对“人口信息比对”" in page
    definition = page[page.index('id="definition"') : page.index('id="last-run"')]
    assert "出生日期" not in definition and "姓名（原样）：姓名 ↔ 姓名" in definition
    assert "两方都不是权威来源" in definition and "每周 · 下次" in definition
    c.s.db.expire_all()
    changed = c.s.db.get(Comparison, comparison.id)
    assert changed is not None and changed.name == "人口信息比对"
    assert [(i["name"], i["authority"]) for i in changed.items] == [
        ("姓名", "left"),
        ("户籍地址", "left"),
        ("姓名（原样）", "right"),
    ]
    assert changed.key_authority is None and changed.schedule is Schedule.WEEKLY
    (audited,) = _updates(c.s.db, comparison.id)
    assert audited["name"] == "人口信息比对" and audited["schedule"] == "weekly"
    assert audited["active"] is True


def test_a_comparison_switched_off_is_shown_so_and_not_run_on_schedule(
    app: FastAPI, client: TestClient, c: Compared
) -> None:
    with clock.frozen(NOW):
        comparison = defined(c, schedule="daily")
        c.s.db.commit()
        headers = _signed_in_operator(app, client, c)
        link = f"/verification/comparisons/{comparison.id}"
        assert "每日 · 下次" in client.get(link).text
        posted = _shown(client.get(f"{link}/edit").text) | {"active": "no"}
        saved = client.post(f"{link}/edit", data=posted, headers=headers, follow_redirects=False)
        assert saved.status_code == 303, saved.text
        page = client.get(link).text
        listed = client.get("/verification/comparisons").text
        again = _shown(client.get(f"{link}/edit").text)
        due = comparisons.run_due(c.s.db, actor=SCHEDULER, profile=PROFILE, center=c.center)
    assert 'id="inactive">已停用<' in page and "每日 · 已停用，不再按周期执行" in page
    assert "下次" not in page
    assert 'id="edit-comparison"' in page
    row = listed[listed.index(f'data-id="{comparison.id}"') :]
    assert "已停用" in row[: row.index("</tr>")] and "停用中，不按周期执行" in row
    assert due == []
    (audited,) = _updates(c.s.db, comparison.id)
    assert audited["active"] is False
    kept = [(i["name"], set(i["normalise"]), i["authority"]) for i in audited["items"]]
    assert kept == [  # the rest as it was (the steps' order is no matter: they run in one)
        (i.name, set(i.normalise), i.authority) for i in comparison_in(c).items
    ]
    assert again["active"] == "no"
