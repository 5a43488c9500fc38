"""The supervision pages and API: the department answers a notice on its page, the operator
returns and accepts it; the findings, the circulated notice's printable page, availability."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.permissions import Role
from tests.builders import actor_of, user
from tests.http import csrf_for, sign_in_as
from tests.supervision.builders import FOUND_AT, PAST_NOTICE, escalate, overdue

PDF = b"%PDF-1.4\n% rectification report\n"


def test_a_notice_is_answered_returned_and_accepted_on_its_page(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    o = overdue(db)
    db.commit()
    link = f"/supervision/notices/{o.notice.id}"
    with clock.frozen(FOUND_AT):
        sign_in_as(client, db, o.s.provider_officer)
        listed = client.get("/supervision/notices")
        assert listed.status_code == 200
        assert o.notice.number in listed.text and "第三十条第（三）项" in listed.text
        assert 'id="to-answer"' in listed.text and "剩余 10 个工作日" in listed.text
        page = client.get(link)
        assert 'id="answer-form"' in page.text and 'id="decision-form"' not in page.text
        assert "《上饶市政务信息资源共享和开放管理办法》第三十条第（三）项" in page.text
        assert o.application.number in page.text
        short = client.post(f"{link}/answer", data={"answer": "已"}, headers=csrf_for(app, client))
        assert short.status_code == 422 and "至少填写 4 个字" in short.text
        done = client.post(
            f"{link}/answer",
            data={"answer": "已答复该申请，并建立每日查看待办制度"},
            files=[("attachments", ("整改报告.pdf", PDF, "application/pdf"))],
            headers=csrf_for(app, client),
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        shown = client.get(link).text
        assert "已反馈，待审核" in shown and "整改报告.pdf" in shown

        sign_in_as(client, db, o.s.op)
        page = client.get(link)
        assert 'id="decision-form"' in page.text
        no_reason = client.post(
            f"{link}/decision", data={"accept": "no", "note": ""}, headers=csrf_for(app, client)
        )
        assert no_reason.status_code == 422 and "退回须说明理由" in no_reason.text
        returned = client.post(
            f"{link}/decision",
            data={"accept": "no", "note": "申请仍未答复，请先答复"},
            headers=csrf_for(app, client),
            follow_redirects=False,
        )
        assert returned.status_code == 303
        assert "2026-12-04" in client.get(link).text  # ten working days from 2026-11-20

        sign_in_as(client, db, o.s.provider_officer)
        client.post(
            f"{link}/answer",
            data={"answer": "已于今日答复该申请"},
            headers=csrf_for(app, client),
            follow_redirects=False,
        )
        sign_in_as(client, db, o.s.op)
        accepted = client.post(
            f"{link}/decision",
            data={"accept": "yes", "note": "整改到位"},
            headers=csrf_for(app, client),
            follow_redirects=False,
        )
        assert accepted.status_code == 303
        final = client.get(link).text
        assert "整改通过" in final and "退回重新整改" in final  # the history keeps the return
        assert "整改通过（1）" in client.get("/supervision/notices?show=closed").text


def test_the_findings_page_lists_what_was_found_and_a_department_only_its_own(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    o = overdue(db)
    other = actor_of(user(db, o.s.consumer, [Role.DATA_OFFICER]))
    db.commit()
    with clock.frozen(FOUND_AT):
        sign_in_as(client, db, o.s.op)
        page = client.get("/supervision/findings")
        assert page.status_code == 200
        assert "共享申请超期未答复" in page.text and o.notice.number in page.text
        assert 'id="detect-now"' in page.text
        kind = client.get("/supervision/findings?kind=data_stale&show=all")
        assert kind.status_code == 200 and o.notice.number not in kind.text
        assert client.get("/supervision/findings?kind=nonsense").status_code == 422
        sign_in_as(client, db, other)
        assert o.notice.number not in client.get("/supervision/findings").text
        assert client.get(f"/supervision/notices/{o.notice.id}").status_code == 404


def test_a_circulated_notice_prints_in_the_citys_name(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    o = overdue(db)
    escalate(db)
    db.commit()
    with clock.frozen(PAST_NOTICE):
        sign_in_as(client, db, o.s.authority)
        listed = client.get("/supervision/circulars")
        assert o.notice.circular_number in listed.text
        page = client.get(f"/supervision/circulars/{o.notice.id}")
        assert page.status_code == 200
        assert "江州市政务服务数据管理局" in page.text
        assert "关于市公安局逾期未完成整改的通报" in page.text
        assert "2026年12月8日" in page.text and "data-print" in page.text
        notice = client.get(f"/supervision/notices/{o.notice.id}").text
        assert 'id="circulated"' in notice
        unescalated = client.get(f"/supervision/circulars/{o.notice.id + 1000}")
        assert unescalated.status_code == 404


def test_the_api_reads_and_answers_notices(app: FastAPI, client: TestClient, db: Session) -> None:
    o = overdue(db)
    db.commit()
    with clock.frozen(FOUND_AT):
        sign_in_as(client, db, o.s.provider_officer)
        (notice,) = client.get("/api/v1/supervision/notices").json()
        assert notice["number"] == o.notice.number and notice["state"] == "issued"
        assert notice["finding"]["article"] == "第三十条第（三）项"
        assert notice["finding"]["kind"] == "decision_overdue"
        uploaded = client.post(
            f"/api/v1/supervision/notices/{o.notice.id}/evidence",
            files=[("attachments", ("整改报告.pdf", PDF, "application/pdf"))],
            headers=csrf_for(app, client),
        )
        assert uploaded.status_code == 201, uploaded.text
        answered = client.post(
            f"/api/v1/supervision/notices/{o.notice.id}/answer",
            json={"answer": "已答复该申请"},
            headers=csrf_for(app, client),
        )
        assert answered.status_code == 200 and answered.json()["state"] == "answered"
        assert len(answered.json()["attachments"]) == 1
        refused = client.post(
            f"/api/v1/supervision/notices/{o.notice.id}/decision",
            json={"accept": True},
            headers=csrf_for(app, client),
        )
        assert refused.status_code == 403
        sign_in_as(client, db, o.s.op)
        decided = client.post(
            f"/api/v1/supervision/notices/{o.notice.id}/decision",
            json={"accept": True},
            headers=csrf_for(app, client),
        )
        assert decided.status_code == 200 and decided.json()["state"] == "accepted"
        url = decided.json()["attachments"][0]["url"]
        assert client.get(url).content == PDF
        findings = client.get("/api/v1/supervision/findings").json()
        assert [f["id"] for f in findings] == [o.finding.id]
        assert client.get("/api/v1/supervision/availability").json() == []
        detected = client.post("/api/v1/supervision/detect", headers=csrf_for(app, client))
        assert detected.status_code == 200 and detected.json()["kept"] == 1
