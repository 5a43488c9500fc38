"""The comparison API: defined and run by the operator over HTTP, bad definitions named by
field, the department's cases listed and answered, the history for the chart."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.exchange.center import Center
from tests.exchange.conftest import app as app  # the root app, its center this test's
from tests.http import csrf_for, sign_in_as
from tests.verification.comparison.cases import NAME, compared_world, comparison_in


def test_a_comparison_defined_and_run_over_http_gives_each_department_its_cases(
    app: FastAPI, client: TestClient, db: Session, center: Center
) -> None:
    c = compared_world(db, center)
    db.commit()
    body = comparison_in(c).model_dump(mode="json")
    with clock.frozen("2026-09-28T09:30:00+08:00"):
        sign_in_as(client, db, c.s.op)
        headers = csrf_for(app, client)
        bad = client.post(
            "/api/v1/verification/comparisons",
            json=body | {"items": [body["items"][0] | {"left": "性别"}]},
            headers=headers,
        )
        assert bad.status_code == 422 and "items[0].left" in bad.text, bad.text
        made = client.post("/api/v1/verification/comparisons", json=body, headers=headers)
        assert made.status_code == 201, made.text
        comparison = made.json()
        run = client.post(
            f"/api/v1/verification/comparisons/{comparison['id']}/runs", headers=headers
        )
        assert run.status_code == 201, run.text
        assert (run.json()["differing"], run.json()["mismatches"]) == (2, 4)

        sign_in_as(client, db, c.s.consumer_officer)
        headers = csrf_for(app, client)
        mine = client.get("/api/v1/verification/mismatches").json()
        assert len(mine) == 3 and {m["department"] for m in mine} == {"市民政局"}
        name = next(m for m in mine if m["key"] == [NAME])
        answered = client.post(
            f"/api/v1/verification/mismatches/{name['id']}/answer",
            json={"corrected": False, "answer": "以申请人户口簿为准", "evidence": "户口簿复印件"},
            headers=headers,
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["state_label"] == "有异议，待平台协调"
        refused = client.post(
            f"/api/v1/verification/comparisons/{comparison['id']}/runs", headers=headers
        )
        assert refused.status_code == 403

        sign_in_as(client, db, c.s.op)
        mediated = client.post(
            f"/api/v1/verification/mismatches/{name['id']}/mediation",
            json={"outcome": "settle", "note": "以公安登记为准，民政局更正"},
            headers=csrf_for(app, client),
        )
        assert mediated.status_code == 200 and mediated.json()["state"] == "settled"
        runs = client.get(f"/api/v1/verification/comparisons/{comparison['id']}/runs").json()
        assert [r["mismatches"] for r in runs] == [4]
