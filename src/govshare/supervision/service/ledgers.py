"""Ledgers (台账, SUP-3): per department and month, what it has done on the platform.

Supervision reads facts, not copies: every figure is counted from the rows the catalog,
sharing, exchange, open data and verification domains already keep, one grouped query per
fact, so a city's hundred departments cost the same few queries as one. Months are the
city's calendar months; a moment counts in the month its city time falls in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.catalog.models import ChangeEvent, Resource, ResourceVersion
from govshare.core import clock
from govshare.core.errors import Invalid, NotFound
from govshare.core.permissions import Actor, require
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


def _counts(db_session: Session, query: sa.Select[Any]) -> Iterable[tuple[int, int]]:
    return ((int(who), int(n)) for who, n in db_session.execute(query) if who is not None)


def _gather(db_session: Session, first: date, after: date) -> dict[int, Counter[str]]:
    """Every figure of every department over [first, after), one grouped query per fact."""
    start, end = _moment(first), _moment(after)
    found: dict[int, Counter[str]] = {}

    def add(key: str, query: sa.Select[Any]) -> None:
        for who, n in _counts(db_session, query):
            found.setdefault(who, Counter())[key] += n

    def within(column: Any) -> sa.ColumnElement[bool]:
        return sa.and_(column >= start, column < end)

    def by(who: Any, *where: Any) -> sa.Select[Any]:
        return sa.select(who, sa.func.count()).where(*where).group_by(who)

    add("resources_catalogued", by(Resource.provider_id, within(Resource.created_at)))
    add(
        "versions_published",
        by(Resource.provider_id, within(ResourceVersion.published_at)).join_from(
            ResourceVersion, Resource, ResourceVersion.resource_id == Resource.id
        ),
    )
    closed = [ChangeEvent.closed_on >= first, ChangeEvent.closed_on < after]
    add(
        "changes_on_time",
        by(ChangeEvent.organization_id, *closed, ChangeEvent.closed_on <= ChangeEvent.due_on),
    )
    add(
        "changes_late",
        by(ChangeEvent.organization_id, *closed, ChangeEvent.closed_on > ChangeEvent.due_on),
    )
    add("grants_given", by(Grant.provider_id, within(Grant.created_at)))
    add("grants_held", by(Grant.consumer_id, within(Grant.created_at)))
    finished = [ApplicationStep.finished_on >= first, ApplicationStep.finished_on < after]
    add("applications_answered", by(ApplicationStep.organization_id, *finished))
    add(
        "applications_late",
        by(
            ApplicationStep.organization_id,
            *finished,
            ApplicationStep.finished_on > ApplicationStep.due_on,
        ),
    )
    # One reading of the exchange's two use tables, so a refused gateway call counts here
    # exactly as it counts on the usage pages: not at all.
    uses = usage.use_facts(usage.Scope(since=start))
    for side, who in (("served", uses.c.provider_id), ("made", uses.c.consumer_id)):
        query = (
            sa.select(who, uses.c.kind, sa.func.count())
            .where(uses.c.at < end)
            .group_by(who, uses.c.kind)
        )
        for department_id, kind, n in db_session.execute(query):
            if department_id is not None:
                key = f"{side}_{USE_GROUPS[UseKind(kind)]}"
                found.setdefault(int(department_id), Counter())[key] += int(n)
    add(
        "releases_published",
        by(Resource.provider_id, within(OpenRelease.published_at)).join_from(
            OpenRelease, Resource, OpenRelease.resource_id == Resource.id
        ),
    )
    add("objections_raised", by(Objection.consumer_id, within(Objection.raised_at)))
    # Late is the answer's city day past the deadline; the day is the city's, so it is
    # worked out here rather than in SQL that differs between databases.
    answered = db_session.execute(
        sa.select(Objection.provider_id, Objection.answered_at, Objection.due_on).where(
            within(Objection.answered_at)
        )
    )
    for provider_id, answered_at, due_on in answered:
        counter = found.setdefault(int(provider_id), Counter())
        counter["objections_answered"] += 1
        counter["objections_late"] += clock.to_city(answered_at).date() > due_on
    add("mismatches_settled", by(Mismatch.department_id, within(Mismatch.closed_at)))
    return found


def ledger(db_session: Session, *, actor: Actor, first: date, after: date | None = None) -> Ledger:
    """The ledger from the month of `first` to before `after` (default: that one month): a row
    per active department for overseers, the actor's own department otherwise."""
    require(actor, *READERS, action="查看台账")
    first = first.replace(day=1)
    after = after or month_after(first)
    departments = sa.select(Organization.id, Organization.name).order_by(Organization.id)
    if actor.has(*OVERSEERS):
        departments = departments.where(Organization.active.is_(True))
    else:
        departments = departments.where(Organization.id == actor.organization_id)
    found = _gather(db_session, first, after)
    rows = []
    for department_id, name in db_session.execute(departments):
        row = Row(department_id, name)
        row.figures.update(found.get(department_id, {}))
        rows.append(row)
    return Ledger(first, after, rows)


def department_year(
    db_session: Session, *, actor: Actor, department_id: int, year: int
) -> list[tuple[date, Row]]:
    """A department's row month by month over `year`, up to this month."""
    require(actor, *READERS, action="查看台账")
    if not actor.has(*OVERSEERS) and department_id != actor.organization_id:
        raise NotFound("未找到该部门的台账")
    shown = []
    first = date(year, 1, 1)
    while first.year == year and first <= clock.today():
        month = ledger(db_session, actor=actor, first=first)
        row = next((r for r in month.rows if r.department_id == department_id), None)
        if row is None:
            raise NotFound("未找到该部门的台账")
        shown.append((first, row))
        first = month_after(first)
    return shown
