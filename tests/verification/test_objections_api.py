"""The objections API: raised by the consumer over HTTP, seen by the provider, answered; bad
input named by field, another department's grant not found."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.policy import load_profile
from govshare.sharing.models import Grant
from tests.exchange.builders import exchange_world
from tests.http import csrf_for, sign_in_as
from tests.sharing.builders import approved

SHAOYANG = load_profile("shaoyang")


def test_an_objection_raised_over_http_reaches_the_provider_and_is_answered(
    app: FastAPI, client: TestClient, db: Session, data_dir: Path
) -> None:
    app.state.runtime.__dict__["profile"] = SHAOYANG
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        x = exchange_world(db, data_dir)
        grant = db.get(Grant, approved(x.s, SHAOYANG).grant_id)
        assert grant is not None
        db.commit()
    body = {
        "keys": [{"公民身份号码": "361100198001010000"}],
        "items": ["姓名"],
        "claimed": {"姓名": "张卫"},
        "description": "户籍登记姓名为张卫",
    }
    with clock.frozen("2026-09-28T09:30:00+08:00"):
        sign_in_as(client, db, x.s.consumer_officer)
        headers = csrf_for(app, client)
        url = f"/api/v1/verification/grants/{grant.id}/objections"
        bad = client.post(url, json=body | {"items": ["婚姻状况"]}, headers=headers)
        assert bad.status_code == 422, bad.text
        assert "婚姻状况" in bad.text and "items" in bad.text
        empty = client.post(url, json=body | {"description": ""}, headers=headers)
        assert empty.status_code == 422 and "description" in empty.text
        raised = client.post(url, json=body, headers=headers)
        assert raised.status_code == 201, raised.text
        objection = raised.json()
        assert (objection["due_on"], objection["state_label"]) == ("2026-10-10", "待核实")
        assert objection["max_days"] == 15 and not objection["overdue"]

        sign_in_as(client, db, x.s.provider_officer)
        headers = csrf_for(app, client)
        queue = client.get("/api/v1/verification/objections", params={"side": "provider"})
        assert [o["number"] for o in queue.json()] == [objection["number"]]
        refused = client.post(url, json=body, headers=headers)  # not its grant as a consumer
        assert refused.status_code == 404
    with clock.frozen("2026-10-12T09:00:00+08:00"):
        sign_in_as(client, db, x.s.op)
        overdue = client.get("/api/v1/verification/objections", params={"overdue": "true"})
        assert [o["number"] for o in overdue.json()] == [objection["number"]]
        assert overdue.json()[0]["overdue"] is True
        sign_in_as(client, db, x.s.provider_officer)
        answered = client.post(
            f"/api/v1/verification/objections/{objection['id']}/answer",
            json={"confirmed": False, "answer": "经核对户籍档案，登记无误"},
            headers=csrf_for(app, client),
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["state_label"] == "已驳回" and not answered.json()["overdue"]
