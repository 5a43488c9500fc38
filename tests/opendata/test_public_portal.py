"""Acceptance, end to end through both zones: under Shangrao a citizen registers on the portal
and applies for conditional open data; the platform receives it with a deadline 20 working
days out, shown to the citizen with its date; the provider approves; that citizen (and no
one else) downloads exactly the fields granted."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.policy import load_profile
from govshare.exchange.center import Center
from govshare.opendata import publishing
from govshare.opendata.service import public
from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.settings import PortalSettings
from tests.exchange.builders import settings_of
from tests.opendata.builders import conditional_world
from tests.portal.people import post_form, registered

SHANGRAO = load_profile("shangrao").rules


def test_a_citizens_application_from_the_portal_to_the_download(
    db: Session, center: Center, tmp_path: Path, portal: PortalDatabase
) -> None:
    o = conditional_world(db, center)
    publishing.publish(
        db,
        actor=o.w.op,
        settings=settings_of(tmp_path),
        center=center,
        portal=portal,
        city_name="江州市",
    )
    slug = o.resource.code.lower().replace("/", "-")
    app = create_portal_app(PortalSettings(database_url=portal.url), database=portal)
    with TestClient(app) as citizen, TestClient(app) as neighbour, TestClient(app) as visitor:
        registered(citizen, name="陈静")
        registered(neighbour, name="刘洋")
        page = f"/dataset/{slug}/apply"
        applied = post_form(
            citizen,
            page,
            page,
            {
                "purpose": "研究本市各区能耗结构，用于硕士学位论文",
                "usage": "仅在校内研究使用，结果以统计形式发表",
                "fields": ["性别", "行政区划代码"],
                "agree": "yes",
            },
        )
        assert applied.status_code == 303, applied.text
        # Nobody downloads before an answer.
        assert citizen.get(f"/dataset/{slug}/download.csv").status_code == 403
        received = public.receive(db, actor=o.w.op, portal=portal, rules=SHANGRAO)
        assert len(received) == 1
        due = working_days.load(db).add_working_days(clock.today(), 20).on
        mine = citizen.get("/account/applications").text
        assert due.isoformat() in mine and "20 个工作日" in mine
        public.answer(
            db,
            actor=o.w.provider_officer,
            application_id=received[0].id,
            data=public.PublicAnswerIn(
                approve=True, answer="限学术研究使用", valid_until=date(2027, 6, 30)
            ),
        )
        public.deliver(db, actor=o.w.op, portal=portal)
        download = citizen.get(f"/dataset/{slug}/download.csv")
        assert download.status_code == 200, download.text
        rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
        assert rows[0] == ["性别", "行政区划代码"]
        assert len(rows) - 1 == sum(1 for r in o.rows if r["region_code"] == "361102") > 0
        assert neighbour.get(f"/dataset/{slug}/download.csv").status_code == 403
        assert visitor.get(f"/dataset/{slug}/download.csv").status_code == 403
