"""`govshare workdays`: count working days and enter a year's holiday schedule."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from govshare.core import clock
from govshare.core.calendar import rules
from govshare.core.cli_support import console_actor, fails_cleanly, parse_date
from govshare.core.errors import Invalid

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(help="工作日：期限计算与节假日安排录入", no_args_is_help=True)


def _out() -> Console:
    """The console for tables and notices; rich is imported only by the commands that print
    through it, so `add`, `between` and `is` start fast."""
    from rich.console import Console

    return Console(highlight=False)


def _calendar() -> rules.WorkingCalendar:
    """The calendar with the operator's entries. On the embedded database they are read with
    the standard library's sqlite3, so that `add`, `between` and `is` answer without loading
    SQLAlchemy; any other database through the runtime and `service.load`."""
    from govshare.core import embedded
    from govshare.core.settings import get_settings

    settings = get_settings()
    path = embedded.database_file(settings)
    if path is None:
        from govshare.core.calendar import service
        from govshare.core.runtime import get_runtime

        with get_runtime().transaction() as session:
            return service.load(session)
    clock.set_city_zone(settings.zone)
    with embedded.reading(path) as conn:
        years = [year for (year,) in conn.execute("SELECT year FROM calendar_year")]
        days = conn.execute("SELECT day, is_working, name FROM calendar_day").fetchall()
    return rules.WorkingCalendar(
        entered_years=frozenset(years),
        days={date.fromisoformat(day): (bool(working), name) for day, working, name in days},
    )


@app.command("add")
@fails_cleanly
def add(
    start: Annotated[str, typer.Argument(metavar="DATE", help="起算日 YYYY-MM-DD（当天不计）")],
    n: Annotated[int, typer.Argument(metavar="N", help="工作日数")],
) -> None:
    """起算日之后第 N 个工作日。"""
    deadline = _calendar().add_working_days(parse_date(start, "DATE"), n)
    # stdout carries the date alone, so scripts can use it; the caveat goes to stderr.
    typer.echo(deadline.on.isoformat())
    if deadline.provisional:
        years = "、".join(map(str, deadline.pending_years))
        typer.echo(
            f"注意：该日期为暂定——{years}年节假日安排尚未录入，仅按周末计算；"
            "录入后（govshare workdays import）可能变化",
            err=True,
        )


@app.command("between")
@fails_cleanly
def between(
    a: Annotated[str, typer.Argument(metavar="A", help="起始日 YYYY-MM-DD（当天不计）")],
    b: Annotated[str, typer.Argument(metavar="B", help="截止日 YYYY-MM-DD（当天计入）")],
) -> None:
    """A 之后到 B（含）之间的工作日数；B 早于 A 时为负数。"""
    calendar = _calendar()
    first, last = parse_date(a, "A"), parse_date(b, "B")
    typer.echo(str(calendar.working_days_between(first, last)))
    pending = sorted(
        y
        for y in range(min(first, last).year, max(first, last).year + 1)
        if calendar.year_status(y) == "provisional"
    )
    if pending:
        years = "、".join(map(str, pending))
        typer.echo(f"注意：{years}年节假日安排尚未录入，结果为暂定", err=True)


@app.command("is")
@fails_cleanly
def is_(day: Annotated[str, typer.Argument(metavar="DATE", help="日期 YYYY-MM-DD")]) -> None:
    """该日是工作日还是休息日。"""
    calendar = _calendar()
    when = parse_date(day, "DATE")
    kind = "工作日" if calendar.is_working_day(when) else "休息日"
    name = calendar.day_name(when)
    typer.echo(f"{kind}（{name}）" if name else kind)
    if calendar.year_status(when.year) == "provisional":
        typer.echo(f"注意：{when.year}年节假日安排尚未录入，仅按周末判断", err=True)


@app.command("import")
@fails_cleanly
def import_file(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="节假日安排文件（.yaml 或 .csv）")],
) -> None:
    """录入一年的节假日安排（替换该年此前录入的内容）。"""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise Invalid(f"无法读取 {file}: {exc.strerror}", field="FILE") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Chinese Windows saves CSV in GBK; GB18030 reads that and more.
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise Invalid(f"{file.name} 既不是 UTF-8 也不是 GBK 编码", field="FILE") from None
    from govshare.core.calendar import service
    from govshare.core.runtime import get_runtime

    year, days, source = service.parse_schedule(text, file.name)
    with get_runtime().transaction() as session:
        service.import_year(session, actor=console_actor(), year=year, days=days, source=source)
    holidays = sum(not working for _, working, _ in days)
    _out().print(
        f"已录入 {year} 年节假日安排：{len(days)} 天"
        f"（节假日 {holidays} 天，调休上班 {len(days) - holidays} 天），依据：{source}",
        soft_wrap=True,
    )


@app.command("status")
@fails_cleanly
def status(
    years: Annotated[
        list[int] | None,
        typer.Argument(metavar="[YEAR]...", help="年份；不填则显示今明两年和已录入的年份"),
    ] = None,
) -> None:
    """各年份节假日安排的来源：官方数据、已录入或暂定。"""
    from govshare.core.calendar import service
    from govshare.core.runtime import get_runtime

    with get_runtime().transaction() as session:
        wanted = years or [
            clock.today().year,
            clock.today().year + 1,
            *service.entered_years(session),
        ]
        rows = service.year_statuses(session, wanted)
    from rich.table import Table

    table = Table("年份", "状态", "依据", "节假日", "调休上班", "录入人", "录入时间")
    for row in rows:
        table.add_row(
            str(row.year),
            row.label,
            row.source or ("chinesecalendar" if row.status == "official" else ""),
            "" if row.holidays is None else str(row.holidays),
            "" if row.workdays is None else str(row.workdays),
            row.entered_by or "",
            clock.to_city(row.entered_at).strftime("%Y-%m-%d %H:%M") if row.entered_at else "",
        )
    _out().print(table)
