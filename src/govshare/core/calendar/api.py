"""Working-day calendar API: deadlines and year statuses, for people and systems."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from govshare.core import calendar
from govshare.core.calendar.rules import FIRST_YEAR, LAST_YEAR, MAX_WORKING_DAYS
from govshare.web.deps import DB, SignedIn

router = APIRouter(tags=["工作日历"])
WorkingDays = Annotated[int, Query(ge=1, le=MAX_WORKING_DAYS, description="工作日数")]
Year = Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)]


class DeadlineOut(BaseModel):
    start: date
    working_days: int
    on: date
    provisional: bool
    label: str


@router.get("/workdays/add", summary="计算 N 个工作日后的日期")
def add(db_session: DB, actor: SignedIn, start: date, n: WorkingDays) -> DeadlineOut:
    deadline = calendar.load(db_session).add_working_days(start, n)
    return DeadlineOut(
        start=start,
        working_days=n,
        on=deadline.on,
        provisional=deadline.provisional,
        label=deadline.label,
    )


@router.get("/workdays/between", summary="两个日期之间的工作日数（相隔不超过十年）")
def between(db_session: DB, actor: SignedIn, start: date, end: date) -> dict[str, object]:
    cal = calendar.load(db_session)
    working_days = cal.working_days_between(start, end)  # refuses a span too long first
    provisional = any(
        cal.year_status(y) == "provisional"
        for y in range(min(start, end).year, max(start, end).year + 1)
    )
    return {
        "start": start,
        "end": end,
        "working_days": working_days,
        "provisional": provisional,
    }


@router.get("/workdays/years", summary="各年份节假日数据来源")
def years(
    db_session: DB, actor: SignedIn, first: Year = None, last: Year = None
) -> list[dict[str, object]]:
    from govshare.core import clock

    this_year = clock.today().year
    statuses = calendar.year_statuses(
        db_session, range(first or this_year - 1, (last or this_year + 1) + 1)
    )
    return [
        {"year": s.year, "status": s.status, "label": s.label, "source": s.source} for s in statuses
    ]
