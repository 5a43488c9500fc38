"""The open-data API: a provider opens a resource, the operator confirms, the portal has it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.exchange.center import Center
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalDataset
from tests.http import csrf_for, sign_in_as
from tests.opendata.builders import OPEN_FIELDS, OPEN_FILTER, OPEN_MASKING, REVIEW, open_world

API = "/api/v1/opendata"
PROBLEM = "application/problem+json"


def _post(client: TestClient, app: FastAPI, path: str, body: Any = None) -> Any:
    return client.post(f"{API}{path}", json=body, headers=csrf_for(app, client))


def test_open_a_resource_through_the_api(
    app: FastAPI, client: TestClient, db: Session, center: Center, portal: PortalDatabase
) -> None:
    o = open_world(db, center)
    db.commit()
    sign_in_as(client, db, o.w.provider_officer)
    view = {"fields": OPEN_FIELDS, "masking": OPEN_MASKING, "row_filter": OPEN_FILTER}
    unmasked = client.put(
        f"{API}/resources/{o.resource.code}/open-view",
        json=view | {"masking": []},
        headers=csrf_for(app, client),
    )
    assert unmasked.status_code == 422 and unmasked.headers["content-type"] == PROBLEM
    assert "公民身份号码" in unmasked.text
    defined = client.put(
        f"{API}/resources/{o.resource.code}/open-view", json=view, headers=csrf_for(app, client)
    )
    assert defined.status_code == 200, defined.text
    release = defined.json()["id"]
    early = _post(client, app, f"/releases/{release}/submit")
    assert early.status_code == 409 and "保密审查" in early.json()["detail"]
    review = _post(
        client, app, f"/releases/{release}/secrecy-review", REVIEW.model_dump(mode="json")
    )
    assert review.status_code == 200 and review.json()["secrecy_outcome"] == "passed"
    assert _post(client, app, f"/releases/{release}/submit").json()["state"] == "submitted"
    sign_in_as(client, db, o.w.op)
    no_reason = _post(client, app, f"/releases/{release}/decision", {"approve": False})
    assert no_reason.status_code == 422
    confirmed = _post(client, app, f"/releases/{release}/decision", {"approve": True})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "open" and confirmed.json()["published_rows"] > 0
    with portal.session() as ps:
        assert list(ps.scalars(sa.select(PortalDataset.code))) == [o.resource.code]
    listed = client.get(f"{API}/releases", params={"state": "open"}).json()
    assert [r["resource_code"] for r in listed] == [o.resource.code]
    # The provider withdraws; the portal follows at once.
    sign_in_as(client, db, o.w.provider_officer)
    gone = _post(client, app, f"/releases/{release}/withdrawal", {"reason": "口径调整"})
    assert gone.status_code == 200 and gone.json()["state"] == "withdrawn"
    with portal.session() as ps:
        assert ps.scalar(sa.select(sa.func.count()).select_from(PortalDataset)) == 0
    # Publishing on demand is the operator's.
    assert _post(client, app, "/publish").status_code == 403
