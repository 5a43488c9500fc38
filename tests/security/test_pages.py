"""The security pages and API: an incident registered and reported on its pages, a drill
planned with its scan, a check's finding recorded and shown with its notice; what a
department sees; bad input named on the page."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core import clock
from tests.http import csrf_for, sign_in_as
from tests.security.builders import AT, cast, checked, registered

PDF = b"%PDF-1.4\n% drill plan\n"


def test_an_incident_is_registered_and_reported_on_its_pages(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    c = cast(db)
    db.commit()
    with clock.frozen(AT):
        sign_in_as(client, db, c.police_officer)
        form = client.get("/security/incidents/new")
        assert form.status_code == 200 and "市公安局" in form.text
        bad = client.post(
            "/security/incidents",
            data={"title": "接口异常", "kind": "misuse", "level": "major",
                  "occurred_at": "2026-11-03T09:00", "discovered_at": "2026-11-03T08:00",
                  "description": "同一令牌短时大量调用", "department_ids": [str(c.police.id)]},
            headers=csrf_for(app, client),
        )  # fmt: skip
        assert bad.status_code == 422 and "发现时间不能早于发生时间" in bad.text
        done = client.post(
            "/security/incidents",
            data={"title": "人口库接口异常调用", "kind": "misuse", "level": "major",
                  "occurred_at": "2026-11-03T08:30", "discovered_at": "2026-11-03T08:50",
                  "description": "同一令牌短时大量调用", "department_ids": [str(c.police.id)]},
            headers=csrf_for(app, client),
            follow_redirects=False,
        )  # fmt: skip
        assert done.status_code == 303, done.text
        link = done.headers["location"]
        page = client.get(link)
        assert 'id="overdue"' in page.text  # an hour after 08:50 has passed at 10:00
        assert 'id="report-form"' in page.text and 'id="close-form"' not in page.text
        reported = client.post(
            f"{link}/reports",
            data={"recipient": "cyberspace", "addressee": "市委网信办",
                  "reported_at": "2026-11-03T09:30", "content": "已电话报告事件经过"},
            headers=csrf_for(app, client),
            follow_redirects=False,
        )  # fmt: skip
        assert reported.status_code == 303
        shown = client.get(link).text
        assert "已按时报告" in shown and "逾期未报告" in shown
        listed = client.get("/security/incidents?show=overdue")
        assert "人口库接口异常调用" in listed.text

        sign_in_as(client, db, c.civil_officer)
        assert "人口库接口异常调用" not in client.get("/security/incidents?show=all").text
        assert client.get(link).status_code == 404

        sign_in_as(client, db, c.op)
        assert 'id="close-form"' in client.get(link).text
        api = client.get("/api/v1/security/incidents?overdue=true")
        assert api.status_code == 200
        (found,) = api.json()
        assert [r["status"] for r in found["reports"]] == ["on_time", "overdue"]


def test_a_drill_is_planned_with_its_scan(app: FastAPI, client: TestClient, db: Session) -> None:
    c = cast(db)
    db.commit()
    with clock.frozen(AT):
        sign_in_as(client, db, c.op)
        page = client.get("/security/exercises?year=2026")
        assert page.status_code == 200 and "2026 年度应急演练" in page.text
        planned = client.post(
            "/security/exercises",
            data={"kind": "drill", "year": "2026", "title": "数据泄露应急演练",
                  "planned_on": "2026-11-20", "plan": "模拟令牌泄露"},
            files=[("attachments", ("演练方案.pdf", PDF, "application/pdf"))],
            headers=csrf_for(app, client),
            follow_redirects=False,
        )  # fmt: skip
        assert planned.status_code == 303, planned.text
        shown = client.get(planned.headers["location"]).text
        assert "演练方案.pdf" in shown and 'id="result-form"' in shown
        assert client.get("/security/exercises?year=20x6").status_code == 422
        sign_in_as(client, db, c.police_officer)
        assert client.get(planned.headers["location"]).status_code == 403


def test_a_check_finding_shows_its_notice(app: FastAPI, client: TestClient, db: Session) -> None:
    c = cast(db)
    check = checked(c)
    registered(c)
    db.commit()
    with clock.frozen(AT):
        sign_in_as(client, db, c.op)
        for path in ("/security", "/security/checks?kind=secrecy", "/security/incidents/new"):
            assert client.get(path).status_code == 200, path
        link = f"/security/checks/{check.id}"
        empty = client.post(
            f"{link}/findings", data={"department_id": ""}, headers=csrf_for(app, client)
        )
        assert empty.status_code == 422 and 'id="finding-form"' in empty.text
        done = client.post(
            f"{link}/findings",
            data={"department_id": str(c.police.id), "description": "前置库账号共用",
                  "requirement": "一人一号并签订保密协议"},
            headers=csrf_for(app, client),
            follow_redirects=False,
        )  # fmt: skip
        assert done.status_code == 303
        shown = client.get(link).text
        assert "ZG2026" in shown and "待整改" in shown
        sign_in_as(client, db, c.police_staff)
        mine = client.get("/security/checks")
        assert check.number in mine.text and 'id="check-form"' not in mine.text
        nav = client.get("/security/incidents").text
        assert "安全管理" in nav and "测评与演练" not in nav
