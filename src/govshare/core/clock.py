"""The injectable clock. Services ask `now()` / `today()` instead of the system clock, so tests
and the demo can set "today" (a deadline computed on 2026-09-25 must stay the same forever).

Three ways to set it, innermost first:
- `frozen(at)`: time stands still at `at` for the current context (and, while it lasts, for
  threads started under it, e.g. a test server);
- `running_from(at)`: time starts at `at` and runs on with the machine's monotonic clock, for
  the whole process (the test suite runs under one, so no test ever sees the real date);
- `GOVSHARE_CLOCK_START` (`<ISO instant>@<monotonic seconds>`): the same for a child process,
  so a worker or CLI process started by a test shares its parent's clock.
Without any of them, `now()` is the real time."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Asia/Shanghai")  # replaced from GOVSHARE_TIMEZONE by set_city_zone()
START_VARIABLE = "GOVSHARE_CLOCK_START"

_frozen: ContextVar[datetime | None] = ContextVar("govshare_frozen_now", default=None)
_process_frozen: list[datetime] = []
# (instant, monotonic reading at that instant) stacks of running clocks
_running: list[tuple[datetime, float]] = []


def _from_environment() -> tuple[datetime, float] | None:
    value = os.environ.get(START_VARIABLE)
    if not value:
        return None
    instant, _, mark = value.partition("@")
    try:
        start = datetime.fromisoformat(instant)
        return (start if start.tzinfo else start.replace(tzinfo=UTC)), float(mark)
    except ValueError:
        raise ValueError(
            f"{START_VARIABLE}={value!r}: expected '<ISO instant>@<monotonic seconds>'"
        ) from None


_inherited = _from_environment()


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    value = _frozen.get() or (_process_frozen[-1] if _process_frozen else None)
    if value is not None:
        return value
    running = _running[-1] if _running else _inherited
    if running is not None:
        start, mark = running
        return start + timedelta(seconds=time.monotonic() - mark)
    return datetime.now(UTC)


def machine_seconds() -> float:
    """The machine's own Unix time, for programs that keep it rather than the platform's
    clock (nginx's cache expiry and access log); never a date of the platform's."""
    return time.time()


def from_machine(seconds: float) -> datetime:
    """An instant the machine's own clock stamped (nginx's access log), on the platform's
    clock: as long before `now()` as it was before the machine's time now."""
    return now() - timedelta(seconds=max(machine_seconds() - seconds, 0.0))


def is_set() -> bool:
    """Whether the clock is frozen or running from a set instant (not the real time)."""
    return bool(_frozen.get() or _process_frozen or _running or _inherited)


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


def _instant(at: datetime | date | str) -> datetime:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if isinstance(at, date) and not isinstance(at, datetime):
        at = datetime(at.year, at.month, at.day, 9, 0, tzinfo=CITY_TZ)
    if at.tzinfo is None:
        at = at.replace(tzinfo=CITY_TZ)
    return at.astimezone(UTC)


@contextlib.contextmanager
def frozen(at: datetime | date | str) -> Iterator[datetime]:
    """Set the clock for the current context (and threads started under it, e.g. a test server)."""
    at = _instant(at)
    token = _frozen.set(at)
    _process_frozen.append(at)
    try:
        yield at
    finally:
        _process_frozen.pop()
        _frozen.reset(token)


@contextlib.contextmanager
def running_from(at: datetime | date | str) -> Iterator[datetime]:
    """Start the process's clock at `at` and let it run; child processes inherit it through
    the environment while this lasts."""
    start = (_instant(at), time.monotonic())
    _running.append(start)
    previous = os.environ.get(START_VARIABLE)
    os.environ[START_VARIABLE] = f"{start[0].isoformat()}@{start[1]!r}"
    try:
        yield start[0]
    finally:
        _running.pop()
        if previous is None:
            os.environ.pop(START_VARIABLE, None)
        else:
            os.environ[START_VARIABLE] = previous
