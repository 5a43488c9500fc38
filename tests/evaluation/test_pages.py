"""Evaluation pages, API and reports: the ranking, a unit's facts, an adjustment posted on
the page, the Excel and PDF reports (read back), the circulated notice as PDF, and the
department's standing on its IT project."""

from __future__ import annotations

import io

from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy.orm import Session

from govshare.catalog.service import projects
from govshare.core import clock
from govshare.evaluation.models import Adjustment
from tests.builders import count
from tests.evaluation.builders import FACTS_AT, evaluated
from tests.http import csrf_for, sign_in_as

SEPTEMBER_LATER = "2026-09-30T10:00:00+08:00"


def _pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_ranking_detail_and_adjustment_pages(app: FastAPI, client: TestClient, db: Session) -> None:
    e = evaluated(db)
    db.commit()
    with clock.frozen(SEPTEMBER_LATER):
        sign_in_as(client, db, e.op)
        page = client.get("/evaluation?period=2026-09")
        assert page.status_code == 200
        assert "市稳定局" in page.text and "县区（园区）" in page.text
        assert 'id="ranking-department"' in page.text and "接口和数据库可用" in page.text
        assert client.get("/evaluation?period=2026-13").status_code == 422
        detail = client.get(f"/evaluation/units/{e.shaky.id}?period=2026-09")
        assert "可用性探测失败" in detail.text and 'id="adjust-form"' in detail.text
        link = f"/evaluation/units/{e.shaky.id}/adjustments"
        refused = client.post(
            link,
            data={"period": "2026-09", "points": "3", "reason": "短"},
            headers=csrf_for(app, client),
        )
        assert refused.status_code == 422 and "至少 4 个字" in refused.text
        assert count(db, Adjustment) == 0
        done = client.post(
            link,
            data={"period": "2026-09", "points": "-2.5", "reason": "接口长时间中断未报告"},
            headers=csrf_for(app, client),
            follow_redirects=True,
        )
        assert "接口长时间中断未报告" in done.text and "-2.5" in done.text
        api = client.get("/api/v1/evaluation?period=2026-09").json()
        shaky = next(u for u in api["units"] if u["unit_id"] == e.shaky.id)
        assert (shaky["computed"], shaky["adjustment"], shaky["total"]) == (72.5, -2.5, 70.0)
        unit = client.get(f"/api/v1/evaluation/units/{e.shaky.id}?period=2026-09").json()
        assert unit["adjustments"][0]["reason"] == "接口长时间中断未报告"
        early = client.post(
            "/api/v1/evaluation/snapshots", json={"year": 2026}, headers=csrf_for(app, client)
        )
        assert early.status_code == 422 and early.headers["content-type"].startswith(
            "application/problem+json"
        )
        assert "尚未结束" in early.text
        assert client.get("/api/v1/evaluation/snapshots").json() == []
        # a department sees its own line, not the others'
        sign_in_as(client, db, e.steady_actor)
        page = client.get("/evaluation?period=2026-09")
        assert "市稳定局" in page.text and "市波动局" not in page.text
        assert 'href="/evaluation"' in page.text  # the nav entry
        assert client.get(f"/evaluation/units/{e.shaky.id}?period=2026-09").status_code == 404
        assert 'id="adjust-form"' not in client.get(f"/evaluation/units/{e.steady.id}").text
        refused = client.post(
            "/api/v1/evaluation/adjustments?period=2026-09",
            json={"organization_id": e.steady.id, "points": 5, "reason": "给自己加分"},
            headers=csrf_for(app, client),
        )
        assert refused.status_code == 403 and "无权调整考核得分" in refused.text


def test_reports_and_the_standing_on_an_it_project(client: TestClient, db: Session) -> None:
    e = evaluated(db)
    with clock.frozen(FACTS_AT):
        made = projects.create_project(
            db,
            actor=e.op,
            data=projects.ProjectIn(
                organization_id=e.shaky.id, name="智慧政务", project_number="XM-9", budget="1000"
            ),
        )
    db.commit()
    with clock.frozen(SEPTEMBER_LATER):
        sign_in_as(client, db, e.op)
        xlsx = client.get("/evaluation/report.xlsx?period=2026-Q3")
        assert xlsx.status_code == 200
        book = load_workbook(io.BytesIO(xlsx.content))
        assert {"市直部门", "县区（园区）", "考核指标", "考核事实"} <= set(book.sheetnames)
        names = [row[1] for row in book["市直部门"].iter_rows(min_row=4, values_only=True)]
        assert "市稳定局" in names and "市波动局" in names
        report = client.get("/evaluation/report.pdf?period=2026-Q3")
        assert report.headers["content-type"] == "application/pdf"
        text = _pdf_text(report.content)
        assert "上饶市2026年第三季度政务信息资源共享工作考核结果" in text
        assert "市稳定局" in text and "上饶市新型智慧城市建设领导小组办公室" in text
        # SY§20, WH§15: the department's standing where its IT project is approved
        page = client.get(f"/catalog/projects/{made.id}").text
        assert 'id="standing"' in page and "市波动局 2026年度" in page and "未发布" in page
