"""Evidence through the pages and the API: a scan attached with the objection form, a bad one
refused beside its input with nothing written, more added from the objection's page and by
the API, and downloads for the parties."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.policy import load_profile
from govshare.sharing.models import Grant
from govshare.verification.models import Objection
from tests.exchange.builders import exchange_world
from tests.http import csrf_for, sign_in_as
from tests.sharing.builders import approved

SHAOYANG = load_profile("shaoyang")
SCAN = b"%PDF-1.4\n% household register\n"
PHOTO = b"\xff\xd8\xff\xe0" + b"\x00" * 64
FORM = {
    "keys": "361100198001010000",
    "items": ["姓名"],
    "claimed_姓名": "张卫",
    "description": "户籍登记姓名为张卫",
}


def test_scans_go_with_the_objection_form_and_are_downloaded_by_the_parties(
    app: FastAPI, client: TestClient, db: Session, data_dir: Path
) -> None:
    app.state.runtime.__dict__["profile"] = SHAOYANG
    with clock.frozen("2026-09-25T10:00:00+08:00"):
        x = exchange_world(db, data_dir)
        grant = db.get(Grant, approved(x.s, SHAOYANG).grant_id)
        assert grant is not None
        db.commit()
    with clock.frozen("2026-09-28T09:30:00+08:00"):
        sign_in_as(client, db, x.s.consumer_officer)
        form = client.get(f"/verification/grants/{grant.id}/objections/new").text
        assert 'enctype="multipart/form-data"' in form and 'name="attachments"' in form
        post = f"/verification/grants/{grant.id}/objections"
        headers = csrf_for(app, client)
        bad = client.post(
            post,
            data=FORM,
            files=[("attachments", ("户口簿.pdf", b"MZ\x90\x00", "application/pdf"))],
            headers=headers,
        )
        assert bad.status_code == 422
        beside = bad.text[bad.text.index('id="attachments"') :]
        assert "证明材料“户口簿.pdf”须为 PDF 或图片" in beside[:600]
        assert "户籍登记姓名为张卫" in bad.text  # what was typed is kept
        assert db.scalar(select(func.count(Objection.id))) == 0
        done = client.post(
            post,
            data=FORM,
            files=[
                ("attachments", ("户口簿.pdf", SCAN, "application/pdf")),
                ("attachments", ("迁移证明.jpg", PHOTO, "application/octet-stream")),
            ],
            headers=headers,
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        link = done.headers["location"]
        shown = client.get(link).text
        assert "户口簿.pdf" in shown and "迁移证明.jpg" in shown
        assert 'id="evidence-form"' in shown

        more = client.post(
            f"{link}/evidence",
            files=[("attachments", ("补充说明.pdf", SCAN, "application/pdf"))],
            headers=headers,
            follow_redirects=False,
        )
        assert more.status_code == 303
        objection_id = int(link.rsplit("/", 1)[1])
        api = client.get(f"/api/v1/verification/objections/{objection_id}").json()
        names = [a["filename"] for a in api["attachments"]]
        assert names == ["户口簿.pdf", "迁移证明.jpg", "补充说明.pdf"]
        assert api["attachments"][1]["content_type"] == "image/jpeg"  # typed by its name

        sign_in_as(client, db, x.s.provider_officer)
        headers = csrf_for(app, client)
        by_api = client.post(
            f"/api/v1/verification/objections/{objection_id}/evidence",
            files=[("attachments", ("户籍底册.pdf", SCAN, "application/pdf"))],
            headers=headers,
        )
        assert by_api.status_code == 201, by_api.text
        (added,) = by_api.json()
        assert added["organization"] == x.s.provider.name
        page = client.get(link).text
        first = page.index('href="/verification/evidence/')
        href = page[first + 6 : page.index('"', first + 6)]
        got = client.get(href)
        assert got.status_code == 200 and got.content == SCAN
        assert got.headers["content-type"] == "application/pdf"
        assert "filename*=UTF-8''" in got.headers["content-disposition"]
        assert client.get(added["url"]).content == SCAN
        refused = client.post(
            f"/api/v1/verification/objections/{objection_id}/evidence",
            files=[("attachments", ("x.png", b"not a png", "image/png"))],
            headers=headers,
        )
        assert refused.status_code == 422 and "x.png" in refused.text
