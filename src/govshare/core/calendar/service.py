"""The working-day calendar (工作日) in the database: reading the operator's entries into a
`WorkingCalendar` (the rules are in `rules`), entering a year's schedule, and reading
schedule files."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import service as audit_service
from govshare.core.calendar.models import CalendarDay, CalendarYear
from govshare.core.calendar.rules import (
    FIRST_YEAR,
    LAST_YEAR,
    NAME_MAX,
    SOURCE_MAX,
    STATUS_LABELS,
    WEEKDAYS,
    ScheduleDay,
    WorkingCalendar,
    YearStatusCode,
    is_weekend,
)
from govshare.core.errors import Invalid
from govshare.core.permissions import Actor, Role, require

# Domains that store deadlines register here to recount them when the operator enters a
# year: a deadline counted provisionally over that year becomes exact (or moves).
Recount = Callable[[Session, WorkingCalendar], int]
_recounts: list[Recount] = []


def on_year_entered(recount: Recount) -> Recount:
    """Registers `recount(db_session, calendar) -> changed rows`, run inside `import_year`."""
    if recount not in _recounts:
        _recounts.append(recount)
    return recount


def load(db_session: Session) -> WorkingCalendar:
    """Reads the operator's entries once, for as many questions as the caller has."""
    years = db_session.execute(select(CalendarYear.year)).scalars()
    rows = db_session.execute(select(CalendarDay.day, CalendarDay.is_working, CalendarDay.name))
    return WorkingCalendar(
        entered_years=frozenset(years),
        days={day: (is_working, name) for day, is_working, name in rows},
    )


# --- operator entry -------------------------------------------------------------------


def _check_year(year: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid(f"年份应在 {FIRST_YEAR} 到 {LAST_YEAR} 之间，收到 {year!r}", field="year")


def _year_range(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def import_year(
    db_session: Session,
    *,
    actor: Actor,
    year: int,
    days: Sequence[ScheduleDay],
    source: str,
) -> CalendarYear:
    """Replaces the operator's schedule of `year` with `days` (节假日安排录入)."""
    require(actor, Role.PLATFORM_OPERATOR, action="录入节假日安排")
    _check_year(year)
    source = (source or "").strip()
    if not source:
        raise Invalid("请写明依据（如国务院办公厅的通知名称）", field="source")
    if len(source) > SOURCE_MAX:
        raise Invalid(f"依据不得超过 {SOURCE_MAX} 个字", field="source")
    if not days:
        # An empty schedule would silently turn every holiday into a working day.
        raise Invalid(f"{year} 年的安排中没有任何节假日或调休上班日", field="days")
    seen: set[date] = set()
    for day, is_working, name in days:
        where = day.isoformat()
        if day.year != year:
            raise Invalid(f"{where} 不在 {year} 年内", field="days")
        if day in seen:
            raise Invalid(f"{where} 重复出现", field="days")
        seen.add(day)
        weekday = f"星期{WEEKDAYS[day.weekday()]}"
        if is_working and not is_weekend(day):
            raise Invalid(f"{where} 是{weekday}，本来就上班，无需列为调休上班日", field="days")
        if not is_working and is_weekend(day):
            raise Invalid(f"{where} 是{weekday}，本来就休息，无需列为节假日", field="days")
        if name is not None and len(name) > NAME_MAX:
            raise Invalid(f"{where} 的名称不得超过 {NAME_MAX} 个字", field="days")

    first, last = _year_range(year)
    # A bulk delete runs now, so the new rows with the same dates cannot collide with it.
    replaced = db_session.execute(
        delete(CalendarDay).where(CalendarDay.day.between(first, last))
    ).rowcount
    entry = db_session.get(CalendarYear, year)
    previous_source = entry.source if entry else None
    if entry is None:
        entry = CalendarYear(year=year)
        db_session.add(entry)
    entry.source, entry.entered_by, entry.entered_at = source, actor.label, clock.now()
    ordered = sorted(days)
    db_session.add_all(
        CalendarDay(day=day, is_working=is_working, name=name or None)
        for day, is_working, name in ordered
    )
    db_session.flush()
    calendar = load(db_session)
    recounted = {r.__module__ + "." + r.__qualname__: r(db_session, calendar) for r in _recounts}
    audit_service.record(
        db_session,
        actor=actor,
        action="calendar.import_year",
        object_type="calendar_year",
        object_id=year,
        details={
            "source": source,
            "holidays": [d.isoformat() for d, w, _ in ordered if not w],
            "workdays": [d.isoformat() for d, w, _ in ordered if w],
            "replaced_days": replaced,
            "previous_source": previous_source,
            "recounted_deadlines": recounted,
        },
    )
    return entry


@dataclass(frozen=True)
class YearStatus:
    """One line of the status page: where a year's rules come from."""

    year: int
    status: YearStatusCode
    source: str | None = None
    entered_by: str | None = None
    entered_at: datetime | None = None
    holidays: int | None = None
    workdays: int | None = None

    @property
    def label(self) -> str:
        """The status in the interface's words."""
        return STATUS_LABELS[self.status]


def year_statuses(db_session: Session, years: Iterable[int]) -> list[YearStatus]:
    """The status of each year, entered years with their source and day counts."""
    wanted = sorted(set(years))
    for year in wanted:
        _check_year(year)
    calendar = load(db_session)
    result = []
    for year in wanted:
        status = calendar.year_status(year)
        if status != "entered":
            result.append(YearStatus(year=year, status=status))
            continue
        entry = db_session.get(CalendarYear, year)
        assert entry is not None
        days = entered_days(db_session, year)
        result.append(
            YearStatus(
                year=year,
                status=status,
                source=entry.source,
                entered_by=entry.entered_by,
                entered_at=entry.entered_at,
                holidays=sum(not d.is_working for d in days),
                workdays=sum(d.is_working for d in days),
            )
        )
    return result


def entered_years(db_session: Session) -> list[int]:
    """The years the operator has entered, in order."""
    return list(db_session.execute(select(CalendarYear.year).order_by(CalendarYear.year)).scalars())


def entered_days(db_session: Session, year: int) -> list[CalendarDay]:
    """The operator's entries for `year`, in date order."""
    first, last = _year_range(year)
    stmt = select(CalendarDay).where(CalendarDay.day.between(first, last)).order_by(CalendarDay.day)
    return list(db_session.execute(stmt).scalars())


# --- schedule files -------------------------------------------------------------------


class _ScheduleLoader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, so a bad date is reported with its line."""


_ScheduleLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

CSV_TYPES = {"holiday": False, "休": False, "workday": True, "班": True}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_day(value: Any, *, where: str, field_name: str) -> date:
    text = str(value).strip() if isinstance(value, str | int) else None
    if text is None or not _ISO_DATE.match(text):
        raise Invalid(f"{where}日期格式应为 YYYY-MM-DD，收到 {value!r}", field=field_name)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{where}没有这一天: {text}", field=field_name) from None


def _parse_name(value: Any, *, where: str, field_name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise Invalid(f"{where}名称应为文字，收到 {value!r}", field=field_name)
    name = str(value).strip()
    if len(name) > NAME_MAX:
        raise Invalid(f"{where}名称不得超过 {NAME_MAX} 个字", field=field_name)
    return name or None


def parse_schedule(text: str, filename: str) -> tuple[int, list[ScheduleDay], str]:
    """Reads a holiday schedule file (YAML or CSV) into (year, days, source)."""
    suffix = PurePath(filename).suffix.lower()
    text = text.removeprefix("\ufeff")  # Excel and Notepad save UTF-8 with a BOM
    if suffix in (".yaml", ".yml"):
        return _parse_yaml(text, filename)
    if suffix == ".csv":
        return _parse_csv(text, filename)
    raise Invalid(f"只支持 .yaml、.yml 或 .csv 文件，收到 {filename!r}", field="file")


def _parse_yaml(text: str, filename: str) -> tuple[int, list[ScheduleDay], str]:
    loader = _ScheduleLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise Invalid(f"{filename} 不是合法的 YAML: {exc}", field="file") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise Invalid(f"{filename} 顶层应为映射（year、source、holidays、workdays）", field="file")
    unknown = set(data) - {"year", "source", "holidays", "workdays"}
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise Invalid(f"{filename} 含未知的键: {names}", field="file")
    nodes = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}

    def line(node: yaml.Node) -> str:
        return f"第 {node.start_mark.line + 1} 行："

    year = data.get("year")
    if isinstance(year, bool) or not isinstance(year, int):
        where = line(nodes["year"]) if "year" in nodes else ""
        raise Invalid(f"{where}year 应为年份数字，如 2027", field="year")
    source = data.get("source", filename)
    if not isinstance(source, str):
        raise Invalid(f"{line(nodes['source'])}source 应为文字", field="source")

    days: list[ScheduleDay] = []
    for key, is_working in (("holidays", False), ("workdays", True)):
        items = data.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise Invalid(f"{line(nodes[key])}{key} 应为列表", field=key)
        for i, (item, node) in enumerate(zip(items, nodes[key].value, strict=True)):
            where, path = line(node), f"{key}[{i}]"
            if isinstance(item, dict):
                extra = set(item) - {"date", "name"}
                if extra or "date" not in item:
                    raise Invalid(f"{where}每项应为日期，或含 date 和 name 的映射", field=path)
                day = _parse_day(item["date"], where=where, field_name=f"{path}.date")
                name = _parse_name(item.get("name"), where=where, field_name=f"{path}.name")
            else:
                day = _parse_day(item, where=where, field_name=f"{path}")
                name = None
            days.append((day, is_working, name))
    return year, days, source


def _parse_csv(text: str, filename: str) -> tuple[int, list[ScheduleDay], str]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = {"date", "type"} - set(header)
    if missing:
        raise Invalid(f"{filename} 第 1 行：表头应为 date,type,name（可加 source）", field="header")
    reader.fieldnames = header
    days: list[ScheduleDay] = []
    sources: set[str] = set()
    year: int | None = None
    for row in reader:
        where = f"第 {reader.line_num} 行："
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # Excel leaves blank lines at the end
        day = _parse_day((row.get("date") or "").strip(), where=where, field_name="date")
        kind = (row.get("type") or "").strip().lower()
        if kind not in CSV_TYPES:
            expected = "holiday、workday、休 或 班"
            raise Invalid(f"{where}类型应为 {expected}，收到 {kind!r}", field="type")
        if year is None:
            year = day.year
        elif day.year != year:
            raise Invalid(f"{where}{day} 与前面的日期不在同一年（{year}）", field="date")
        name = _parse_name(row.get("name"), where=where, field_name="name")
        if (row.get("source") or "").strip():
            sources.add(row["source"].strip())
        days.append((day, CSV_TYPES[kind], name))
    if year is None:
        raise Invalid(f"{filename} 中没有任何日期", field="file")
    if len(sources) > 1:
        raise Invalid(f"{filename} 的 source 列前后不一致", field="source")
    return year, days, sources.pop() if sources else PurePath(filename).name
