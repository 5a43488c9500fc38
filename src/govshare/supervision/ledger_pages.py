"""Pages of the ledgers (台账, SUP-3): a month of every department the reader may see, a
department's months of a year, and both as workbooks."""

from __future__ import annotations

from datetime import date
from itertools import groupby
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govshare.core import clock
from govshare.core.inputs import Id
from govshare.supervision import ledger_export
from govshare.supervision.service import ledgers
from govshare.web.deps import DB, PageActor
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)


def workbook(content: bytes, filename: str) -> Response:
    disposition = f"attachment; filename=\"ledger.xlsx\"; filename*=UTF-8''{quote(filename)}"
    return Response(
        content, media_type=ledger_export.MEDIA_TYPE, headers={"Content-Disposition": disposition}
    )


def _groups() -> list[tuple[str, int]]:
    return [(g, len(list(cs))) for g, cs in groupby(ledgers.COLUMNS, key=lambda c: c.group)]


@router.get("/supervision/ledgers", response_class=HTMLResponse)
def ledger_month(request: Request, db_session: DB, actor: PageActor, month: str = "") -> Response:
    first = ledgers.parse_month(month)
    found = ledgers.ledger(db_session, actor=actor, first=first)
    previous = (first - date.resolution).replace(day=1)
    following = ledgers.month_after(first)
    return render(
        request,
        "supervision/ledgers.html",
        {
            "ledger": found,
            "columns": ledgers.COLUMNS,
            "groups": _groups(),
            "month": first.strftime("%Y-%m"),
            "previous": previous.strftime("%Y-%m"),
            "following": following.strftime("%Y-%m") if following <= clock.today() else "",
        },
    )


@router.get("/supervision/ledgers.xlsx")
def ledger_month_xlsx(db_session: DB, actor: PageActor, month: str = "") -> Response:
    first = ledgers.parse_month(month)
    found = ledgers.ledger(db_session, actor=actor, first=first)
    name = f"台账-{first.strftime('%Y-%m')}.xlsx"
    return workbook(ledger_export.month_workbook(found), name)


@router.get("/supervision/ledgers/{department_id}", response_class=HTMLResponse)
def ledger_year(
    request: Request, db_session: DB, actor: PageActor, department_id: Id, year: str = ""
) -> Response:
    chosen = ledgers.parse_year(year)
    months = ledgers.department_year(
        db_session, actor=actor, department_id=department_id, year=chosen
    )
    totals = {k: sum(r.figures[k] for _, r in months) for k in ledgers.KEYS}
    return render(
        request,
        "supervision/ledger_year.html",
        {
            "months": months,
            "totals": totals,
            "year": chosen,
            "department_id": department_id,
            "department": months[0][1].department if months else "",
            "columns": ledgers.COLUMNS,
            "groups": _groups(),
        },
    )


@router.get("/supervision/ledgers/{department_id}/year.xlsx")
def ledger_year_xlsx(
    db_session: DB, actor: PageActor, department_id: Id, year: str = ""
) -> Response:
    chosen = ledgers.parse_year(year)
    months = ledgers.department_year(
        db_session, actor=actor, department_id=department_id, year=chosen
    )
    department = months[0][1].department if months else str(department_id)
    content = ledger_export.year_workbook(department, chosen, months)
    return workbook(content, f"台账-{department}-{chosen}.xlsx")
