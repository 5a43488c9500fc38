"""The calendar page: year statuses, a month view, the deadline calculator, the import form."""

from __future__ import annotations

import calendar as stdlib_calendar
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from govshare.core import calendar, clock
from govshare.core.calendar.rules import (
    FIRST_YEAR,
    LAST_YEAR,
    MAX_WORKING_DAYS,
    WorkingCalendar,
)
from govshare.core.errors import DomainError, Invalid
from govshare.core.permissions import Role
from govshare.web.deps import DB, PageActor
from govshare.web.templating import redirect, render

router = APIRouter(include_in_schema=False)
WEEKDAYS = "一二三四五六日"


def month_grid(cal: WorkingCalendar, year: int, month: int) -> list[dict[str, Any]]:
    """Cells of one month, Monday first, with holidays and swapped working days marked."""
    cells: list[dict[str, Any]] = [{"day": None} for _ in range(date(year, month, 1).weekday())]
    for d in range(1, stdlib_calendar.monthrange(year, month)[1] + 1):
        day = date(year, month, d)
        working, weekend = cal.is_working_day(day), day.weekday() >= 5
        kind = (
            "swap"
            if working and weekend
            else "off"
            if not working and not weekend
            else "weekend"
            if weekend
            else ""
        )
        cells.append({"day": d, "kind": kind, "name": cal.day_name(day) or ""})
    return cells


def _context(db_session: DB, actor: PageActor, year: int | None, **extra: Any) -> dict[str, Any]:
    today = clock.today()
    shown = year or today.year
    if not 1949 <= shown <= 2200:
        raise Invalid("年份须在 1949 到 2200 之间", field="year")
    cal = calendar.load(db_session)
    years = sorted(
        {today.year - 1, today.year, today.year + 1, shown, *calendar.entered_years(db_session)}
    )
    return {
        "statuses": calendar.year_statuses(db_session, years),
        "year": shown,
        "year_status": cal.year_status(shown),
        "months": [(m, month_grid(cal, shown, m)) for m in range(1, 13)],
        "weekdays": WEEKDAYS,
        "today": today,
        "can_import": actor.has(Role.PLATFORM_OPERATOR),
        **extra,
    }


@router.get("/calendar", response_class=HTMLResponse)
def calendar_page(
    request: Request,
    db_session: DB,
    actor: PageActor,
    year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)] = None,
    start: date | None = None,
    n: Annotated[int | None, Query(ge=1, le=MAX_WORKING_DAYS)] = None,
) -> Response:
    extra: dict[str, Any] = {}
    if start is not None and n is not None:
        try:
            extra["deadline"] = calendar.load(db_session).add_working_days(start, n)
        except DomainError as exc:
            extra["calc_error"] = exc.message
        extra.update(start=start, n=n)
    return render(request, "calendar/calendar.html", _context(db_session, actor, year, **extra))


@router.post("/calendar/import", response_class=HTMLResponse)
def calendar_import(
    request: Request,
    db_session: DB,
    actor: PageActor,
    schedule: Annotated[UploadFile, File()],
    source: Annotated[str, Form()] = "",
) -> Response:
    try:
        raw = schedule.file.read(1_000_000)
        text = _decode(raw)
        year, days, parsed_source = calendar.parse_schedule(
            text, schedule.filename or "schedule.yaml"
        )
        calendar.import_year(
            db_session, actor=actor, year=year, days=days, source=source.strip() or parsed_source
        )
    except DomainError as exc:
        db_session.rollback()
        context = _context(db_session, actor, None, import_error=exc.message)
        return render(request, "calendar/calendar.html", context, exc.status)
    return redirect(f"/calendar?year={year}", f"已录入 {year} 年节假日安排（{len(days)} 天）")


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("文件编码无法识别，请保存为 UTF-8", field="schedule")
