"""Working-day calendar (工作日): deadlines counted in working days, for every domain."""

from govshare.core.calendar.service import (
    Deadline,
    WorkingCalendar,
    YearStatus,
    entered_days,
    entered_years,
    import_year,
    load,
    official_covers,
    on_year_entered,
    parse_schedule,
    year_statuses,
)

__all__ = [
    "Deadline",
    "WorkingCalendar",
    "YearStatus",
    "entered_days",
    "entered_years",
    "import_year",
    "load",
    "official_covers",
    "on_year_entered",
    "parse_schedule",
    "year_statuses",
]
