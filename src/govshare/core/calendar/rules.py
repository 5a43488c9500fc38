"""The working-day rules themselves (工作日), without the database: what `load` reads is handed
to `WorkingCalendar`. Kept free of SQLAlchemy so that `govshare workdays add` starts fast.

Which rule decides a day, first match wins:
1. an operator-entered day (节假日 or 调休上班) for that date;
2. a year the operator entered: its entries plus Monday–Friday;
3. a year `chinesecalendar` knows (official holidays and swapped working weekends);
4. otherwise Monday–Friday alone, and any deadline counted over such a day is provisional.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import MAXYEAR, MINYEAR, date, timedelta
from typing import Literal

import chinese_calendar

from govshare.core.errors import Invalid

YearStatusCode = Literal["official", "entered", "provisional"]
ScheduleDay = tuple[date, bool, str | None]

STATUS_LABELS: dict[str, str] = {
    "official": "官方数据",
    "entered": "已录入",
    "provisional": "暂定（未录入，仅按周末计算）",
}

# chinesecalendar names its holidays in English; the platform speaks Chinese.
OFFICIAL_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}

NAME_MAX = 40  # CalendarDay.name
SOURCE_MAX = 200  # CalendarYear.source
WEEKDAYS = "一二三四五六日"
FIRST_YEAR, LAST_YEAR = 1949, 2200  # bounds for entered years; a typo beyond them is refused
# Bounds on one question, so that none costs more than a few milliseconds: three years of
# working days is longer than any period a regulation counts, ten years any span compared.
MAX_WORKING_DAYS = 366 * 3
MAX_SPAN_DAYS = 366 * 10


@functools.cache
def official_covers(year: int) -> bool:
    """Whether chinesecalendar has the official schedule of `year` (it raises for others)."""
    if not MINYEAR <= year <= MAXYEAR:
        return False
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5


@dataclass(frozen=True)
class Deadline:
    """A deadline date (期限), provisional when counted over a year whose holidays are unknown."""

    on: date
    provisional: bool
    pending_years: tuple[int, ...] = ()  # the provisional years walked over, for the label

    @property
    def label(self) -> str:
        """The date, with the reason when it is provisional."""
        if not self.provisional:
            return self.on.isoformat()
        years = "、".join(str(y) for y in (self.pending_years or (self.on.year,)))
        return f"{self.on.isoformat()}（暂定：{years}年节假日安排尚未录入）"


@dataclass(frozen=True)
class WorkingCalendar:
    """Answers working-day questions from the operator's entries and the official data."""

    entered_years: frozenset[int] = frozenset()
    days: dict[date, tuple[bool, str | None]] = field(default_factory=dict)

    def year_status(self, year: int) -> YearStatusCode:
        """Where the rules for `year` come from."""
        if year in self.entered_years:
            return "entered"
        if official_covers(year):
            return "official"
        return "provisional"

    def is_working_day(self, day: date) -> bool:
        """Whether government offices work on `day`."""
        entry = self.days.get(day)
        if entry is not None:
            return entry[0]
        if self.year_status(day.year) == "official":
            return bool(chinese_calendar.is_workday(day))
        return not is_weekend(day)

    def day_name(self, day: date) -> str | None:
        """The holiday or swap a day belongs to (e.g. 国庆节), if any is known."""
        entry = self.days.get(day)
        if entry is not None:
            return entry[1]
        if self.year_status(day.year) != "official":
            return None
        _, name = chinese_calendar.get_holiday_detail(day)
        return OFFICIAL_NAMES.get(name, name) if name else None

    def add_working_days(self, start: date, n: int) -> Deadline:
        """The n-th working day after `start` (which does not count)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise Invalid(f"工作日数必须是正整数，收到 {n!r}", field="n")
        if n > MAX_WORKING_DAYS:
            raise Invalid(f"工作日数不能超过 {MAX_WORKING_DAYS}，收到 {n}", field="n")
        check_day(start, "start")
        day, counted, pending = start, 0, set()
        while counted < n:
            day += timedelta(days=1)
            if self.year_status(day.year) == "provisional":
                pending.add(day.year)
            if self.is_working_day(day):
                counted += 1
        return Deadline(on=day, provisional=bool(pending), pending_years=tuple(sorted(pending)))

    def working_days_between(self, a: date, b: date) -> int:
        """Working days d with a < d <= b; negative when b is before a."""
        if b < a:
            return -self.working_days_between(b, a)
        check_day(a, "start")
        check_day(b, "end")
        if (b - a).days > MAX_SPAN_DAYS:
            raise Invalid(f"两个日期相隔不能超过 {MAX_SPAN_DAYS} 天（约十年）", field="end")
        return sum(self.is_working_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))


def check_day(day: date, field: str) -> None:
    """Refuses a date outside the years the calendar answers for, naming the field."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise Invalid(f"日期应在 {FIRST_YEAR} 到 {LAST_YEAR} 年之间，收到 {day}", field=field)
