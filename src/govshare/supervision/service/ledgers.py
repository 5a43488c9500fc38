"""Ledgers (台账, SUP-3): per department and month, what it has done on the platform.

Supervision reads facts, not copies: every figure is counted from the rows the catalog,
sharing, exchange, open data and verification domains already keep, one grouped query per
fact, so a city's hundred departments cost the same few queries as one. Months are the
city's calendar months; a moment counts in the month its city time falls in.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.catalog.models import ChangeEvent, Resource, ResourceVersion
from govshare.core import clock
from govshare.core.db import UTCDateTime
from govshare.core.errors import Invalid, NotFound
from govshare.core.permissions import Actor, own_organization, require
from govshare.exchange.models import UseKind
from govshare.exchange.service import usage
from govshare.identity.models import Organization
from govshare.opendata.models import OpenRelease
from govshare.sharing.models import ApplicationStep, Grant
from govshare.sharing.service.common import OVERSEERS, READERS
from govshare.verification.comparison_models import Mismatch
from govshare.verification.models import Objection


@dataclass(frozen=True)
class Column:
    """One figure of the ledger: its key on `Row.figures`, its group and its heading."""

    key: str
    group: str
    label: str


COLUMNS: tuple[Column, ...] = (
    Column("resources_catalogued", "目录编制", "新编目录"),
    Column("versions_published", "目录编制", "发布版本"),
    Column("changes_on_time", "目录编制", "按期调整"),
    Column("changes_late", "目录编制", "逾期调整"),
    Column("grants_given", "共享授权", "提供授权"),
    Column("grants_held", "共享授权", "获得授权"),
    Column("applications_answered", "共享授权", "办理申请"),
    Column("applications_late", "共享授权", "逾期办理"),
    Column("served_query", "提供数据", "在线查询"),
    Column("served_lookup", "提供数据", "主键查询"),
    Column("served_download", "提供数据", "下载"),
    Column("served_push", "提供数据", "推送"),
    Column("served_gateway", "提供数据", "接口调用"),
    Column("made_query", "使用数据", "在线查询"),
    Column("made_lookup", "使用数据", "主键查询"),
    Column("made_download", "使用数据", "下载"),
    Column("made_push", "使用数据", "推送"),
    Column("made_gateway", "使用数据", "接口调用"),
    Column("releases_published", "数据开放", "开放发布"),
    Column("objections_raised", "数据校核", "提出异议"),
    Column("objections_answered", "数据校核", "答复异议"),
    Column("objections_late", "数据校核", "逾期答复"),
    Column("mismatches_settled", "数据校核", "比对差异办结"),
)
KEYS = tuple(c.key for c in COLUMNS)

# The ledger's use columns gather the exchange's kinds of use.
USE_GROUPS: dict[str, str] = {
    UseKind.QUERY: "query",
    UseKind.LOOKUP: "lookup",
    UseKind.DOWNLOAD_CSV: "download",
    UseKind.DOWNLOAD_XLSX: "download",
    UseKind.DOWNLOAD_JSONL: "download",
    UseKind.FILE: "download",
    UseKind.PUSH: "push",
    UseKind.GATEWAY: "gateway",
}


@dataclass
class Row:
    """A department's figures over a period (a month, or a year of them)."""

    department_id: int
    department: str
    figures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KEYS, 0))

    @property
    def total(self) -> int:
        return sum(self.figures.values())


@dataclass(frozen=True)
class Ledger:
    """The ledger of a period: a row per department the actor may see, and their totals."""

    first: date  # the period's first day
    after: date  # the day after its last
    rows: list[Row]

    @property
    def totals(self) -> dict[str, int]:
        return {key: sum(r.figures[key] for r in self.rows) for key in KEYS}


def parse_month(value: str) -> date:
    """`YYYY-MM` as the month's first day (empty: this month); refused naming the field."""
    if not value:
        return clock.today().replace(day=1)
    try:
        if len(value) != 7:
            raise ValueError(value)
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise Invalid("月份格式应为 年-月，如 2026-12", field="month") from None


def parse_year(value: str) -> int:
    """A year like `2026` (empty: this year); refused naming the field."""
    if not value:
        return clock.today().year
    if not (value.isdigit() and len(value) == 4):
        raise Invalid("年份格式应为四位数字，如 2026", field="year")
    return int(value)


def month_after(first: date) -> date:
    """The first day of the month after `first`'s."""
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _moment(on: date) -> datetime:
    """The first instant of the city day `on`, in UTC as the tables keep it."""
    return clock.as_utc(datetime.combine(on, time(), clock.CITY_TZ))


def _period(column: Any, inner: Sequence[Any]) -> Any:
    """The index of the period a value falls in, given the periods' inner boundaries."""
    if not inner:
        return sa.literal(0)
    return sa.case(*((column < bound, i) for i, bound in enumerate(inner)), else_=len(inner))


def _gather(
    db_session: Session, bounds: Sequence[date], keys: Sequence[str] = KEYS
) -> dict[tuple[int, int], Counter[str]]:
    """The figures `keys` of every department in each period between consecutive `bounds`
    (month firsts, the last one the day after the last period), one grouped query per fact:
    the result is keyed by (department, period's index)."""
    first, after = bounds[0], bounds[-1]
    start, end = _moment(first), _moment(after)
    days = list(bounds[1:-1])
    moments = [_moment(b) for b in days]
    found: dict[tuple[int, int], Counter[str]] = {}

    def count(key: str, who: Any, n: Any, period: Any) -> None:
        if who is not None:
            found.setdefault((int(who), int(period)), Counter())[key] += int(n)

    def add(key: str, query: sa.Select[Any]) -> None:
        if key not in keys:
            return
        for who, period, n in db_session.execute(query):
            count(key, who, n, period)

    def within(column: Any) -> sa.ColumnElement[bool]:
        return sa.and_(column >= start, column < end)

    def by(who: Any, at: Any, *where: Any) -> sa.Select[Any]:
        """Counts per department and period; `at` is a timestamp column, or a city date one."""
        period = _period(at, moments if isinstance(at.type, UTCDateTime) else days)
        return sa.select(who, period, sa.func.count()).where(*where).group_by(who, period)

    add(
        "resources_catalogued",
        by(Resource.provider_id, Resource.created_at, within(Resource.created_at)),
    )
    add(
        "versions_published",
        by(
            Resource.provider_id, ResourceVersion.published_at, within(ResourceVersion.published_at)
        ).join_from(ResourceVersion, Resource, ResourceVersion.resource_id == Resource.id),
    )
    closed = [ChangeEvent.closed_on >= first, ChangeEvent.closed_on < after]
    add(
        "changes_on_time",
        by(
            ChangeEvent.organization_id,
            ChangeEvent.closed_on,
            *closed,
            ChangeEvent.closed_on <= ChangeEvent.due_on,
        ),
    )
    add(
        "changes_late",
        by(
            ChangeEvent.organization_id,
            ChangeEvent.closed_on,
            *closed,
            ChangeEvent.closed_on > ChangeEvent.due_on,
        ),
    )
    add("grants_given", by(Grant.provider_id, Grant.created_at, within(Grant.created_at)))
    add("grants_held", by(Grant.consumer_id, Grant.created_at, within(Grant.created_at)))
    finished = [ApplicationStep.finished_on >= first, ApplicationStep.finished_on < after]
    add(
        "applications_answered",
        by(ApplicationStep.organization_id, ApplicationStep.finished_on, *finished),
    )
    add(
        "applications_late",
        by(
            ApplicationStep.organization_id,
            ApplicationStep.finished_on,
            *finished,
            ApplicationStep.finished_on > ApplicationStep.due_on,
        ),
    )
    # One reading of the exchange's two use tables, so a refused gateway call counts here
    # exactly as it counts on the usage pages: not at all.
    uses = usage.use_facts(usage.Scope(since=start))
    period = _period(uses.c.at, moments)
    for side, who in (("served", uses.c.provider_id), ("made", uses.c.consumer_id)):
        if not any(key.startswith(f"{side}_") for key in keys):
            continue
        query = (
            sa.select(who, uses.c.kind, period, sa.func.count())
            .where(uses.c.at < end)
            .group_by(who, uses.c.kind, period)
        )
        for department_id, kind, at, n in db_session.execute(query):
            count(f"{side}_{USE_GROUPS[UseKind(kind)]}", department_id, n, at)
    add(
        "releases_published",
        by(
            Resource.provider_id, OpenRelease.published_at, within(OpenRelease.published_at)
        ).join_from(OpenRelease, Resource, OpenRelease.resource_id == Resource.id),
    )
    add(
        "objections_raised",
        by(Objection.consumer_id, Objection.raised_at, within(Objection.raised_at)),
    )
    # Late is the answer's city day past the deadline; the day is the city's, so it is
    # worked out here rather than in SQL that differs between databases.
    answered = sa.select(Objection.provider_id, Objection.answered_at, Objection.due_on).where(
        within(Objection.answered_at)
    )
    if {"objections_answered", "objections_late"} & set(keys):
        for provider_id, answered_at, due_on in db_session.execute(answered):
            on = clock.to_city(answered_at).date()
            counter = found.setdefault((int(provider_id), bisect_right(days, on)), Counter())
            counter["objections_answered"] += 1
            counter["objections_late"] += on > due_on
    add(
        "mismatches_settled",
        by(Mismatch.department_id, Mismatch.closed_at, within(Mismatch.closed_at)),
    )
    return found


def months_between(first: date, after: date) -> list[date]:
    """The first days of the months from `first`'s to the one before `after`'s, and `after`."""
    bounds = [first.replace(day=1)]
    while bounds[-1] < after:
        bounds.append(month_after(bounds[-1]))
    return bounds


def _departments(db_session: Session, actor: Actor) -> list[tuple[int, str]]:
    """The departments whose rows the actor sees: every active one for overseers, else its own."""
    departments = sa.select(Organization.id, Organization.name).order_by(Organization.id)
    if actor.has(*OVERSEERS):
        departments = departments.where(Organization.active.is_(True))
    else:
        departments = departments.where(Organization.id == actor.organization_id)
    return [(int(i), name) for i, name in db_session.execute(departments)]


def ledger(db_session: Session, *, actor: Actor, first: date, after: date | None = None) -> Ledger:
    """The ledger from the month of `first` to before `after` (default: that one month): a row
    per active department for overseers, the actor's own department otherwise."""
    require(actor, *READERS, action="查看台账")
    first = first.replace(day=1)
    after = after or month_after(first)
    found = _gather(db_session, [first, after])
    rows = []
    for department_id, name in _departments(db_session, actor):
        row = Row(department_id, name)
        row.figures.update(found.get((department_id, 0), {}))
        rows.append(row)
    return Ledger(first, after, rows)


def department_year(
    db_session: Session, *, actor: Actor, department_id: int, year: int
) -> list[tuple[date, Row]]:
    """A department's row month by month over `year`, up to this month."""
    require(actor, *READERS, action="查看台账")
    if not actor.has(*OVERSEERS) and department_id != actor.organization_id:
        raise NotFound("未找到该部门的台账")
    name = dict(_departments(db_session, actor)).get(department_id)
    if name is None:
        raise NotFound("未找到该部门的台账")
    this_month = clock.today().replace(day=1)
    if year > this_month.year:
        return []
    bounds = months_between(date(year, 1, 1), month_after(min(this_month, date(year, 12, 1))))
    found = _gather(db_session, bounds)
    shown = []
    for i, first in enumerate(bounds[:-1]):
        row = Row(department_id, name)
        row.figures.update(found.get((department_id, i), {}))
        shown.append((first, row))
    return shown


def monthly(
    db_session: Session,
    *,
    actor: Actor,
    first: date,
    after: date,
    department_id: int | None = None,
    keys: Sequence[str] = KEYS,
) -> list[tuple[date, dict[str, int]]]:
    """Month by month from the month of `first` to before `after`: the figures `keys` (the
    others stay 0, uncounted) of the department `department_id`, or (overseers only, `None`)
    of every department together."""
    require(actor, *READERS, action="查看台账")
    if department_id is None and not actor.has(*OVERSEERS):
        department_id = own_organization(actor)
    if not actor.has(*OVERSEERS) and department_id != actor.organization_id:
        raise NotFound("未找到该部门的台账")
    bounds = months_between(first, after)
    found = _gather(db_session, bounds, keys)
    shown = []
    for i, month in enumerate(bounds[:-1]):
        figures = dict.fromkeys(KEYS, 0)
        for (who, period), counter in found.items():
            if period == i and department_id in (None, who):
                for key, n in counter.items():
                    figures[key] += n
        shown.append((month, figures))
    return shown
