"""The objection pages: raising from a grant's page, the provider's queue with its deadline,
the head's approval of an extension, the answer; errors beside their fields."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.permissions import Role
from govshare.core.policy import load_profile
from govshare.sharing.models import Grant
from tests.builders import actor_of, user
from tests.exchange.builders import exchange_world
from tests.http import csrf_for, sign_in_as
from tests.sharing.builders import approved

SHAOYANG = load_profile("shaoyang")


def test_an_objection_goes_through_its_pages(
    app: FastAPI, client: TestClient, db: Session, data_dir: Path
) -> None:
    app.state.runtime.__dict__["profile"] = SHAOYANG
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        x = exchange_world(db, data_dir)
        grant = db.get(Grant, approved(x.s, SHAOYANG).grant_id)
        assert grant is not None
        head = actor_of(user(db, x.s.provider, [Role.DEPARTMENT_HEAD], "gaj-head"))
        db.commit()
    with clock.frozen("2026-09-28T09:30:00+08:00"):
        sign_in_as(client, db, x.s.consumer_officer)
        page = client.get(f"/sharing/grants/{grant.id}")
        assert f'href="/verification/grants/{grant.id}/objections/new"' in page.text
        form = client.get(f"/verification/grants/{grant.id}/objections/new")
        assert form.status_code == 200 and "5 个工作日内核实答复" in form.text
        assert "公民身份号码" in form.text
        post = f"/verification/grants/{grant.id}/objections"
        headers = csrf_for(app, client)
        wrong = client.post(
            post,
            data={"keys": "1,2", "items": ["姓名"], "description": "姓名有误，请核实"},
            headers=headers,
        )
        assert wrong.status_code == 422 and "第 1 行须有 1 个值：公民身份号码" in wrong.text
        assert "姓名有误，请核实" in wrong.text  # the form keeps what was typed
        assert ">1,2</textarea>" in wrong.text
        done = client.post(
            post,
            data={
                "keys": "361100198001010000\n",
                "items": ["姓名"],
                "claimed_姓名": "张卫",
                "description": "户籍登记姓名为张卫",
            },
            headers=headers,
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        link = done.headers["location"]
        shown = client.get(link)
        assert "待核实" in shown.text and "2026-10-10" in shown.text and "张卫" in shown.text
        assert 'id="served-form"' in shown.text and 'id="answer-form"' not in shown.text

        sign_in_as(client, db, x.s.provider_officer)
        queue = client.get("/verification/objections?show=to_verify")
        assert "待我核实（1）" in queue.text and "剩余 5 个工作日" in queue.text
        asked = client.post(
            f"{link}/extension",
            data={"days": "15", "reason": "需要公安分局协查"},
            headers=csrf_for(app, client),
            follow_redirects=False,
        )
        assert asked.status_code == 303, asked.text

        sign_in_as(client, db, head)
        approval = client.get(link)
        assert 'id="decision-form"' in approval.text and "需要公安分局协查" in approval.text
        approved_ = client.post(
            f"{link}/extension/decision",
            data={"approve": "yes"},
            headers=csrf_for(app, client),
            follow_redirects=False,
        )
        assert approved_.status_code == 303
        assert "2026-10-23" in client.get(link).text

        sign_in_as(client, db, x.s.provider_officer)
        headers = csrf_for(app, client)
        unchosen = client.post(f"{link}/answer", data={"answer": "经核实"}, headers=headers)
        assert unchosen.status_code == 422 and "请选择" in unchosen.text
        answered = client.post(
            f"{link}/answer",
            data={"confirmed": "no", "answer": "经核对户籍档案，登记无误"},
            headers=headers,
            follow_redirects=False,
        )
        assert answered.status_code == 303
        assert "已驳回" in client.get(link).text
