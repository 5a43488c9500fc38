"""The injectable clock. Services ask `now()` / `today()` instead of the system clock, so tests
and the demo can set "today" (a deadline computed on 2026-09-25 must stay the same forever)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Asia/Shanghai")  # replaced from GOVSHARE_TIMEZONE by set_city_zone()

_frozen: ContextVar[datetime | None] = ContextVar("govshare_frozen_now", default=None)
_process_frozen: list[datetime] = []


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    value = _frozen.get() or (_process_frozen[-1] if _process_frozen else None)
    return value if value is not None else datetime.now(UTC)


def set_city_zone(zone: ZoneInfo) -> None:
    """Sets the city's time zone once per process, from the settings."""
    global CITY_TZ
    CITY_TZ = zone


def today() -> date:
    """Today's calendar date in the city (Asia/Shanghai), which deadlines count from."""
    return now().astimezone(CITY_TZ).date()


def to_city(moment: datetime) -> datetime:
    """A stored timestamp shown in city time; naive values (SQLite) are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CITY_TZ)


def as_utc(moment: datetime) -> datetime:
    """Normalise a timestamp read back from any database to aware UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextlib.contextmanager
def frozen(at: datetime | date | str) -> Iterator[datetime]:
    """Set the clock for the current context (and threads started under it, e.g. a test server)."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if isinstance(at, date) and not isinstance(at, datetime):
        at = datetime(at.year, at.month, at.day, 9, 0, tzinfo=CITY_TZ)
    if at.tzinfo is None:
        at = at.replace(tzinfo=CITY_TZ)
    at = at.astimezone(UTC)
    token = _frozen.set(at)
    _process_frozen.append(at)
    try:
        yield at
    finally:
        _process_frozen.pop()
        _frozen.reset(token)
