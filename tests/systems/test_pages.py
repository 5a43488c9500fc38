"""The register's pages and API: the list and its filters, a system's page, the forms and
their errors beside each field, and who sees what."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.systems.models import InformationSystem, PrivateLine
from tests.builders import count
from tests.http import csrf_for, sign_in_as
from tests.systems.builders import line, officer_of, registered

TODAY = "2026-10-12T09:00:00+08:00"


def _beside(html: str, input_id: str, message: str) -> bool:
    pattern = (
        rf'id="{input_id}".*?(?:</textarea>|</select>|>)\s*'
        rf'<div class="field-error" role="alert">{message}'
    )
    return re.search(pattern, html, re.S) is not None


def test_an_officer_registers_a_system_and_keeps_its_lines_through_the_pages(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen(TODAY):
        officer = officer_of(db, "市民政局")
        db.commit()
        sign_in_as(client, db, officer)
        headers = csrf_for(app, client)
        empty = client.get("/systems")
        assert empty.status_code == 200 and "登记信息系统" in empty.text

        short = {"name": "救", "purpose": "最低生活保障审核", "owner": "社会救助科"}
        refused = client.post("/systems", data=short, headers=headers)
        assert refused.status_code == 422 and _beside(refused.text, "name", "至少填写 2 个字")
        assert 'value="社会救助科"' in refused.text and count(db, InformationSystem) == 0

        form = short | {"name": "社会救助信息系统", "level": "province"}
        created = client.post("/systems", data=form, headers=headers, follow_redirects=False)
        assert created.status_code == 303
        page_url = created.headers["location"]
        page = client.get(page_url).text
        assert "社会救助信息系统" in page and "省级" in page and "尚未登记接入共享平台" in page

        late = client.post(
            f"{page_url}/lines",
            data={"peer": "市公安局 人口信息管理系统", "planned_close_on": "2026-13-01"},
            headers=headers,
        )
        assert late.status_code == 422
        assert _beside(late.text, "planned_close_on", "日期格式应为 年-月-日，如 2026-10-01")
        added = client.post(
            f"{page_url}/lines",
            data={"peer": "市公安局 人口信息管理系统", "planned_close_on": "2026-10-01"},
            headers=headers,
        )
        assert "已登记专线" in added.text and "逾期 11 天未关闭" in added.text
        (row,) = db.query(PrivateLine).all()
        future = client.post(
            f"{page_url}/lines/{row.id}/close", data={"closed_on": "2026-10-20"}, headers=headers
        )
        assert future.status_code == 422
        assert "关闭日期不能晚于今天（2026-10-12）" in future.text
        closed = client.post(
            f"{page_url}/lines/{row.id}/close", data={"closed_on": "2026-10-12"}, headers=headers
        )
        assert "2026-10-12 已关闭" in closed.text

        connected = client.post(
            f"{page_url}/connection", data={"connected_on": "2026-10-09"}, headers=headers
        )
        assert "已登记接入共享平台" in connected.text and "尚未登记接入" not in connected.text
        listed = client.get("/systems", params={"connected": "yes"}).text
        assert 'data-system="社会救助信息系统"' in listed
        assert (
            'data-system="社会救助信息系统"'
            not in client.get("/systems", params={"connected": "no"}).text
        )


def test_another_department_neither_sees_nor_lists_the_system(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen(TODAY):
        owner = officer_of(db, "市民政局")
        system = registered(db, owner)
        line(db, owner, system, clock.today())
        stranger = officer_of(db, "市公安局")
        db.commit()
        sign_in_as(client, db, stranger)
        assert client.get(f"/systems/{system.id}").status_code == 404
        assert 'data-system="社会救助信息系统"' not in client.get("/systems").text
        api = client.get("/api/v1/systems")
        assert api.status_code == 200 and api.json() == []
        headers = csrf_for(app, client)
        refused = client.put(
            f"/api/v1/systems/{system.id}/connection",
            json={"connected_on": "2026-10-09"},
            headers=headers,
        )
        assert refused.status_code == 404


def test_the_api_registers_and_reads_a_system(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    with clock.frozen(TODAY):
        officer = officer_of(db, "市民政局")
        db.commit()
        sign_in_as(client, db, officer)
        headers = csrf_for(app, client)
        body = {
            "name": "社会救助信息系统",
            "purpose": "最低生活保障审核",
            "owner": "社会救助科",
            "level": "province",
        }
        created = client.post("/api/v1/systems", json=body, headers=headers)
        assert created.status_code == 201, created.text
        system = created.json()
        assert system["organization_id"] == officer.organization_id and not system["connected"]
        twice = client.post("/api/v1/systems", json=body, headers=headers)
        assert twice.status_code == 409 and twice.json()["field"] == "name"
        added = client.post(
            f"/api/v1/systems/{system['id']}/lines",
            json={"peer": "市公安局", "planned_close_on": "2026-12-31"},
            headers=headers,
        )
        assert added.status_code == 201
        shown = client.get("/api/v1/systems", params={"open_lines": True}).json()
        assert [s["name"] for s in shown] == ["社会救助信息系统"]
        assert shown[0]["lines"][0]["planned_close_on"] == "2026-12-31"
