"""Ledgers (台账, SUP-3): a department's figures for a month counted from the facts the other
domains keep, in the city's calendar month; a department sees its own row only."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.exchange.models import UseKind
from govshare.exchange.service import usage
from govshare.sharing.models import Grant
from govshare.supervision.service import ledgers
from govshare.verification.schemas import AnswerIn, MetadataObjectionIn
from govshare.verification.service import objections
from tests.http import sign_in_as
from tests.sharing.builders import SHANGRAO, Sharing, approved, sharing_world

SEPTEMBER = date(2026, 9, 1)
OCTOBER = date(2026, 10, 1)


@dataclass
class Facts:
    s: Sharing
    grant: Grant


def known_facts(db: Session) -> Facts:
    """September: three entries published, a grant, three uses and an objection answered on
    time; and a lookup early on 1 October city time, still 30 September in UTC."""
    with clock.frozen("2026-09-21T10:00:00+08:00"):
        s = sharing_world(db)
        grant = db.get(Grant, approved(s).grant_id)
        assert grant is not None
    with clock.frozen("2026-09-22T10:00:00+08:00"):
        for kind in (UseKind.QUERY, UseKind.QUERY, UseKind.DOWNLOAD_XLSX):
            usage.record_use(db, actor=s.consumer_officer, grant=grant, kind=kind, rows=5)
    with clock.frozen("2026-09-28T09:30:00+08:00"):
        objection = objections.raise_on_metadata(
            db,
            actor=s.consumer_officer,
            profile=SHANGRAO,
            resource_id=s.unconditional.id,
            data=MetadataObjectionIn(
                items=["更新周期"], claimed={"更新周期": "每月"}, description="目录写每日，实际每月"
            ),
        )
    with clock.frozen("2026-09-29T10:00:00+08:00"):
        objections.answer(
            db,
            actor=s.provider_officer,
            objection_id=objection.id,
            data=AnswerIn(confirmed=True, answer="已提交目录变更，更新周期改为每月"),
        )
    with clock.frozen("2026-10-01T07:00:00+08:00"):
        usage.record_use(db, actor=s.consumer_officer, grant=grant, kind=UseKind.LOOKUP, rows=1)
    db.flush()
    return Facts(s, grant)


def _row(ledger: ledgers.Ledger, department_id: int) -> dict[str, int]:
    return next(r.figures for r in ledger.rows if r.department_id == department_id)


def nonzero(figures: dict[str, int]) -> dict[str, int]:
    return {key: n for key, n in figures.items() if n}


PROVIDER_SEPTEMBER = {
    "resources_catalogued": 3,
    "versions_published": 3,
    "grants_given": 1,
    "applications_answered": 1,
    "served_query": 2,
    "served_download": 1,
    "objections_answered": 1,
}
CONSUMER_SEPTEMBER = {"grants_held": 1, "made_query": 2, "made_download": 1, "objections_raised": 1}


def test_a_month_counts_each_departments_facts(db: Session) -> None:
    f = known_facts(db)
    with clock.frozen("2026-10-12T09:00:00+08:00"):
        september = ledgers.ledger(db, actor=f.s.op, first=SEPTEMBER)
        october = ledgers.ledger(db, actor=f.s.op, first=OCTOBER)
    assert nonzero(_row(september, f.s.provider.id)) == PROVIDER_SEPTEMBER
    assert nonzero(_row(september, f.s.consumer.id)) == CONSUMER_SEPTEMBER
    assert september.totals["served_query"] == 2 and september.totals["made_query"] == 2
    assert nonzero(_row(october, f.s.provider.id)) == {"served_lookup": 1}
    assert nonzero(_row(october, f.s.consumer.id)) == {"made_lookup": 1}


def test_a_department_sees_only_its_own_row(db: Session) -> None:
    f = known_facts(db)
    with clock.frozen("2026-10-12T09:00:00+08:00"):
        seen = ledgers.ledger(db, actor=f.s.consumer_officer, first=SEPTEMBER)
    assert [r.department_id for r in seen.rows] == [f.s.consumer.id]
    assert seen.totals == _row(seen, f.s.consumer.id)


def test_a_departments_year_runs_month_by_month_to_this_month(db: Session) -> None:
    f = known_facts(db)
    with clock.frozen("2026-10-12T09:00:00+08:00"):
        year = ledgers.department_year(
            db, actor=f.s.provider_officer, department_id=f.s.provider.id, year=2026
        )
    assert [first.month for first, _ in year] == list(range(1, 11))
    assert nonzero(year[8][1].figures) == PROVIDER_SEPTEMBER


NOW = "2026-10-12T09:00:00+08:00"


def test_the_page_and_its_workbook_show_the_same_figures(db: Session, client: TestClient) -> None:
    f = known_facts(db)
    db.commit()
    with clock.frozen(NOW):
        sign_in_as(client, db, f.s.op)
        page = client.get("/supervision/ledgers?month=2026-09")
        assert page.status_code == 200, page.text
        assert 'id="ledger"' in page.text and "目录编制" in page.text and "合计" in page.text
        assert f'href="/supervision/ledgers/{f.s.provider.id}?year=2026"' in page.text
        assert 'href="/supervision/ledgers"' in page.text  # the tab
        got = client.get("/supervision/ledgers.xlsx?month=2026-09")
        assert got.status_code == 200
        year = client.get(f"/supervision/ledgers/{f.s.provider.id}?year=2026")
        assert year.status_code == 200 and "2026-09" in year.text
        assert client.get(f"/supervision/ledgers/{f.s.provider.id}/year.xlsx").status_code == 200
    sheet = load_workbook(io.BytesIO(got.content)).active
    assert sheet.title == "2026-09"
    assert [c.value for c in sheet[2]][1:] == [c.label for c in ledgers.COLUMNS]
    lines = {r[0]: r[1:] for r in sheet.iter_rows(min_row=3, values_only=True)}
    expected = dict.fromkeys(ledgers.KEYS, 0) | PROVIDER_SEPTEMBER
    assert list(lines[f.s.provider.name]) == [expected[k] for k in ledgers.KEYS]
    assert lines["合计"][ledgers.KEYS.index("served_query")] == 2


def test_the_api_gives_a_department_its_own_row(db: Session, client: TestClient) -> None:
    f = known_facts(db)
    db.commit()
    with clock.frozen(NOW):
        sign_in_as(client, db, f.s.consumer_officer)
        got = client.get("/api/v1/supervision/ledgers?month=2026-09")
        assert got.status_code == 200, got.text
        body = got.json()
        assert [r["department_id"] for r in body["rows"]] == [f.s.consumer.id]
        assert nonzero(body["rows"][0]["figures"]) == CONSUMER_SEPTEMBER
        other = client.get(f"/supervision/ledgers/{f.s.provider.id}")
        assert other.status_code == 404


def test_a_bad_month_is_refused_naming_the_field(db: Session, client: TestClient) -> None:
    f = known_facts(db)
    db.commit()
    with clock.frozen(NOW):
        sign_in_as(client, db, f.s.op)
        for bad in ("2026-13", "2026-9", "九月"):
            refused = client.get(f"/api/v1/supervision/ledgers?month={bad}")
            assert refused.status_code == 422 and refused.json()["field"] == "month", bad
        assert client.get("/supervision/ledgers?month=2026-13").status_code == 422
