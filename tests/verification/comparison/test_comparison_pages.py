"""The comparison pages: the operator defines a comparison through the form (an error shown
beside its row), runs it and reads the counts and the history chart's data; the department
finds its cases and answers one; the operator mediates; a second run after a correction shows
the count falling."""

from __future__ import annotations

import html
import json
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.exchange.center import Center
from tests.exchange.conftest import app as app  # the root app, its center this test's
from tests.http import csrf_for, sign_in_as
from tests.verification.comparison.cases import (
    ADDRESS,
    NAME,
    ONLY_RIGHT,
    Compared,
    compared_world,
    set_right,
)


def _form(c: Compared, **kw: str) -> dict[str, str]:
    """The set-up form as the operator fills it: row 2 of the items left blank."""
    return {
        "name": "户籍人口与救助对象比对",
        "left_resource_id": str(c.left.id),
        "right_resource_id": str(c.right.id),
        "key_1_left": "公民身份号码",
        "key_1_right": "公民身份号码",
        "item_1_left": "姓名",
        "item_1_right": "姓名",
        "item_1_trim": "1",
        "item_1_authority": "left",
        "item_3_left": "出生日期",
        "item_3_right": "出生日期",
        "item_3_halfwidth": "1",
        "item_3_trim": "1",
        "item_3_date": "1",
        "item_3_authority": "left",
        "item_4_left": "户籍地址",
        "item_4_right": "户籍地址",
        "item_4_authority": "right",
        "key_authority": "left",
        "schedule": "none",
    } | kw


def _chart(page: str) -> dict:
    found = re.search(r'data-comparison-chart="([^"]*)"', page)
    assert found, "the history chart is on the page"
    return json.loads(html.unescape(found.group(1)))


def _bars(page: str, name: str) -> list[int]:
    return next(s["data"] for s in _chart(page)["series"] if s["name"] == name)


def _case_link(page: str, key: str) -> str:
    found = re.search(rf'href="(/verification/mismatches/\d+)" class="mono">{key}<', page)
    assert found, f"a case for {key} is listed"
    return found.group(1)


def test_a_comparison_is_defined_run_and_settled_through_its_pages(
    app: FastAPI, client: TestClient, db: Session, center: Center
) -> None:
    c = compared_world(db, center)
    db.commit()
    with clock.frozen("2026-09-28T09:30:00+08:00"):
        sign_in_as(client, db, c.s.op)
        headers = csrf_for(app, client)
        blank = client.get("/verification/comparisons/new")
        assert blank.status_code == 200 and "救助对象人口信息" in blank.text
        assert "日期格式统一" in blank.text and 'name="item_8_left"' in blank.text

        wrong = client.post(
            "/verification/comparisons",
            data=_form(c, item_3_left="性别"),
            headers=headers,
        )
        assert wrong.status_code == 422, wrong.text
        row = wrong.text[wrong.text.index('id="item-3"') : wrong.text.index('id="item-4"')]
        assert "左方资源没有数据项「性别」" in row  # beside row 3, the blank row 2 skipped
        assert 'value="性别"' in row and 'name="item_3_date" value="1" checked' in row

        made = client.post(
            "/verification/comparisons", data=_form(c), headers=headers, follow_redirects=False
        )
        assert made.status_code == 303, made.text
        link = made.headers["location"]
        listed = client.get("/verification/comparisons")
        assert "户籍人口与救助对象比对" in listed.text and "尚未执行" in listed.text
        assert "立即比对" in listed.text

        ran = client.post(f"{link}/run", headers=headers, follow_redirects=False)
        assert ran.status_code == 303
        page = client.get(link).text
        assert 'id="count-matched">3<' in page and 'id="count-equal">1<' in page
        # each item's authority by its department's name; the cases' list has no name column
        definition = page[page.index('id="definition"') : page.index('id="last-run"')]
        left = c.left.provider.short_name or c.left.provider.name
        right = c.right.provider.short_name or c.right.provider.name
        assert f"姓名：姓名 ↔ 姓名 · 以{left}为准" in definition
        assert f"户籍地址：户籍地址 ↔ 户籍地址 · 以{right}为准" in definition
        assert "<th>比对</th>" not in page
        assert 'id="count-differing">2<' in page and 'id="count-only-right">1<' in page
        assert _bars(page, "数据项不一致") == [2] and _bars(page, "仅左方有") == [1]
        by_name = client.get(f"{link}?item=姓名").text
        assert _case_link(by_name, NAME) and ADDRESS not in by_name
        only_right = client.get(f"{link}?kind=only_right").text
        assert ONLY_RIGHT in only_right and NAME not in only_right

        sign_in_as(client, db, c.s.consumer_officer)
        headers = csrf_for(app, client)
        mine = client.get("/verification/mismatches")
        assert "待处理（3）" in mine.text and "剩余 10 个工作日" in mine.text
        assert "立即比对" not in client.get("/verification/comparisons").text
        case = _case_link(mine.text, NAME)
        shown = client.get(case).text
        assert "李四" in shown and "李肆" in shown and 'id="answer-form"' in shown
        no_evidence = client.post(
            f"{case}/answer",
            data={"corrected": "no", "answer": "以申请人户口簿为准"},
            headers=headers,
        )
        assert no_evidence.status_code == 422 and "提出异议须附证明材料" in no_evidence.text
        assert "以申请人户口簿为准</textarea>" in no_evidence.text
        disputed = client.post(
            f"{case}/answer",
            data={"corrected": "no", "answer": "以申请人户口簿为准", "evidence": "户口簿复印件"},
            headers=headers,
            follow_redirects=False,
        )
        assert disputed.status_code == 303
        assert "有异议，待平台协调" in client.get(case).text

        sign_in_as(client, db, c.s.op)
        headers = csrf_for(app, client)
        queue = client.get("/verification/mismatches?show=disputed").text
        assert "有争议（1）" in queue and _case_link(queue, NAME) == case
        mediated = client.post(
            f"{case}/mediation",
            data={"outcome": "settle", "note": "以公安登记为准，民政局更正"},
            headers=headers,
            follow_redirects=False,
        )
        assert mediated.status_code == 303
        settled = client.get(case).text
        assert "已协调办结" in settled and 'id="mediation-form"' not in settled

    set_right(c, NAME, xingming="李四")  # 民政 corrects its copy, as mediated
    with clock.frozen("2026-09-29T09:30:00+08:00"):
        sign_in_as(client, db, c.s.op)
        headers = csrf_for(app, client)
        assert client.post(f"{link}/run", headers=headers, follow_redirects=False).is_redirect
        page = client.get(link).text
        assert _bars(page, "数据项不一致") == [2, 1] and 'id="count-differing">1<' in page
        assert page.count('<tr><td class="when mono">') == 2  # the history, as a table too
