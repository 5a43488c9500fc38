"""What the generators of the open datasets' source tables share: the moment their data is
as of, seeded randomness, and the rows as the loader wants them.

A generator is a function of a `Context` yielding one dict per row, keyed by the columns of
its table in `opendata.yaml` (`updated_at` may be left out: the day before the first sync).
Rows are a pure function of the context, so a build is the same every time on the same day;
rows of a day (a daily series) depend on that day only, so a later build adds rows and
changes none."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from govshare.demo.opendata.city import stamp

Row = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """The days a table's rows cover."""

    origin: date  # the day the department's database was first synchronised
    until: date  # the last day with data (the day before origin, later for series that grow)

    def rng(self, *parts: object) -> random.Random:
        """A random source for one table (and, given more parts, one row or one day)."""
        return random.Random(":".join(["govshare-opendata", *map(str, parts)]))

    @property
    def updated(self) -> datetime:
        """When the rows of a table that does not grow were last changed."""
        return stamp(self.origin - timedelta(days=1), 20)


Generator = Callable[[Context], Iterable[Row]]


def as_tuples(rows: Iterable[Row], columns: list[str], context: Context) -> Iterator[tuple]:
    """Rows in the table's column order; a missing column is the generator's mistake."""
    for row in rows:
        row.setdefault("updated_at", context.updated)
        yield tuple(row[c] for c in columns)


def months_before(day: date, count: int) -> list[str]:
    """The `count` complete months before `day`'s month, oldest first, as YYYY-MM."""
    year, month = day.year, day.month
    out = []
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        out.append(f"{year}-{month:02d}")
    return out[::-1]


def years_after(day: date, years: int) -> date:
    """The last day of a term of `years` years starting on `day`."""
    return day.replace(year=day.year + years, day=min(day.day, 28)) - timedelta(days=1)


def days_back(until: date, first: date) -> Iterator[date]:
    day = first
    while day <= until:
        yield day
        day += timedelta(days=1)
