"""Working-day calendar (工作日): deadlines counted in working days, for every domain.

The rules (`Deadline`, `WorkingCalendar`) load without the database; the rest comes from
`service` when first used, so that importing a rule does not import SQLAlchemy.
"""

from typing import Any

from govshare.core.calendar.rules import Deadline, WorkingCalendar, official_covers

_FROM_SERVICE = {
    "YearStatus",
    "entered_days",
    "entered_years",
    "import_year",
    "load",
    "on_year_entered",
    "parse_schedule",
    "year_statuses",
}


def __getattr__(name: str) -> Any:
    if name in _FROM_SERVICE:
        from govshare.core.calendar import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Deadline", "WorkingCalendar", "official_covers", *sorted(_FROM_SERVICE)]
