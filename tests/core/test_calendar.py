"""Working-day calendar: official data, operator-entered years, provisional years, the CLI."""

from __future__ import annotations

import sqlite3
from datetime import date
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.core import calendar
from govshare.core.audit.models import AuditEntry
from govshare.core.calendar.models import CalendarDay, CalendarYear
from govshare.core.errors import Forbidden, Invalid
from govshare.core.permissions import Actor, Role
from tests.conftest import Cli

OPERATOR = Actor(label="operator", roles=frozenset({Role.PLATFORM_OPERATOR}))
OFFICIAL = calendar.WorkingCalendar()  # no operator entries: official data and weekends


def sample_2027() -> str:
    return (
        resources.files("govshare.core.calendar")
        .joinpath("samples/2027.yaml")
        .read_text(encoding="utf-8")
    )


def import_sample_2027(db: Session) -> None:
    year, days, source = calendar.parse_schedule(sample_2027(), "2027.yaml")
    calendar.import_year(db, actor=OPERATOR, year=year, days=days, source=source)


def counts(db: Session) -> tuple[int, int, int]:
    return (
        db.execute(select(func.count()).select_from(CalendarYear)).scalar_one(),
        db.execute(select(func.count()).select_from(CalendarDay)).scalar_one(),
        db.execute(select(func.count()).select_from(AuditEntry)).scalar_one(),
    )


# --- counting -------------------------------------------------------------------------


def test_day_before_national_day_plus_one_is_after_the_holiday(db: Session) -> None:
    deadline = calendar.load(db).add_working_days(date(2026, 9, 30), 1)
    assert deadline == calendar.Deadline(date(2026, 10, 8), provisional=False)
    assert deadline.label == "2026-10-08"


def test_swapped_saturday_is_a_working_day(db: Session) -> None:
    assert calendar.load(db).add_working_days(date(2026, 10, 9), 1).on == date(2026, 10, 10)


def test_official_holiday_name_is_chinese() -> None:
    assert OFFICIAL.day_name(date(2026, 10, 1)) == "国庆节"
    assert not OFFICIAL.is_working_day(date(2026, 10, 1))


def test_zero_working_days_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        OFFICIAL.add_working_days(date(2026, 9, 30), 0)
    assert caught.value.field == "n"


@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 10, 31)),
    n=st.integers(min_value=1, max_value=40),
)
def test_between_undoes_add(start: date, n: int) -> None:
    deadline = OFFICIAL.add_working_days(start, n)
    assert OFFICIAL.working_days_between(start, deadline.on) == n
    assert OFFICIAL.working_days_between(deadline.on, start) == -n
    assert OFFICIAL.is_working_day(deadline.on)
    assert not deadline.provisional


@given(day=st.dates(min_value=date(2027, 1, 1), max_value=date(2035, 12, 31)))
def test_weekend_is_never_a_working_day_in_a_provisional_year(day: date) -> None:
    assert OFFICIAL.year_status(day.year) == "provisional"
    assert OFFICIAL.is_working_day(day) == (day.weekday() < 5)


def test_unknown_year_is_never_asked_of_chinesecalendar() -> None:
    # The library raises for years it lacks; the calendar must answer without it.
    assert not calendar.official_covers(2027)
    assert calendar.official_covers(2026)
    assert OFFICIAL.day_name(date(2027, 10, 1)) is None


def test_2027_deadline_is_provisional_until_2027_is_imported(db: Session) -> None:
    before = calendar.load(db).add_working_days(date(2027, 9, 30), 1)
    assert before == calendar.Deadline(date(2027, 10, 1), provisional=True, pending_years=(2027,))
    assert before.label == "2027-10-01（暂定：2027年节假日安排尚未录入）"

    import_sample_2027(db)

    after = calendar.load(db).add_working_days(date(2027, 9, 30), 1)
    assert after == calendar.Deadline(date(2027, 10, 8), provisional=False)
    assert calendar.load(db).year_status(2027) == "entered"


def test_deadline_walking_into_an_unentered_year_is_provisional(db: Session) -> None:
    deadline = calendar.load(db).add_working_days(date(2026, 12, 30), 3)
    assert deadline.provisional
    assert deadline.on == date(2027, 1, 4)


def test_entered_swapped_sunday_is_a_working_day(db: Session) -> None:
    import_sample_2027(db)
    cal = calendar.load(db)
    assert cal.is_working_day(date(2027, 9, 26))
    assert cal.day_name(date(2027, 9, 26)) == "国庆节调休上班"
    assert not cal.is_working_day(date(2027, 10, 4))
    assert not cal.is_working_day(date(2027, 10, 2))  # an ordinary Saturday in the holiday


# --- import ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "named"),
    [
        ([(date(2027, 1, 1), False, "元旦"), (date(2026, 12, 31), False, None)], "2026-12-31"),
        ([(date(2027, 1, 1), False, "元旦"), (date(2027, 1, 1), False, "元旦")], "2027-01-01"),
        ([(date(2027, 1, 2), False, "元旦")], "2027-01-02"),  # a Saturday off: pointless
        ([(date(2027, 1, 4), True, None)], "2027-01-04"),  # a Monday at work: pointless
    ],
    ids=["outside-year", "duplicate", "holiday-on-weekend", "workday-on-weekday"],
)
def test_import_refuses_bad_day_and_writes_nothing(
    db: Session, days: list[tuple[date, bool, str | None]], named: str
) -> None:
    before = counts(db)
    with pytest.raises(Invalid) as caught:
        calendar.import_year(db, actor=OPERATOR, year=2027, days=days, source="通知")
    assert named in caught.value.message
    assert counts(db) == before


def test_import_by_non_operator_is_refused_and_writes_nothing(db: Session) -> None:
    staff = Actor(label="staff", roles=frozenset({Role.DEPARTMENT_STAFF, Role.AUDITOR}))
    before = counts(db)
    with pytest.raises(Forbidden):
        calendar.import_year(
            db, actor=staff, year=2027, days=[(date(2027, 1, 1), False, "元旦")], source="通知"
        )
    assert counts(db) == before


def test_import_writes_one_audit_entry(db: Session) -> None:
    import_sample_2027(db)
    entries = list(
        db.execute(select(AuditEntry).where(AuditEntry.action == "calendar.import_year")).scalars()
    )
    assert len(entries) == 1
    assert (entries[0].object_type, entries[0].object_id) == ("calendar_year", "2027")
    assert entries[0].actor_label == "operator"
    assert "2027-10-01" in entries[0].details


def test_reimport_replaces_the_year(db: Session) -> None:
    import_sample_2027(db)
    calendar.entered_days(db, 2027)  # loaded rows in the session must not clash
    calendar.import_year(
        db, actor=OPERATOR, year=2027, days=[(date(2027, 10, 1), False, "国庆节")], source="更正"
    )
    days = calendar.entered_days(db, 2027)
    assert [(d.day, d.is_working, d.name) for d in days] == [(date(2027, 10, 1), False, "国庆节")]
    [status] = calendar.year_statuses(db, [2027])
    assert (status.status, status.source, status.holidays, status.workdays) == (
        "entered",
        "更正",
        1,
        0,
    )
    assert calendar.load(db).add_working_days(date(2027, 9, 30), 1).on == date(2027, 10, 4)


def test_year_statuses_name_each_source(db: Session) -> None:
    statuses = {s.year: s.status for s in calendar.year_statuses(db, [2026, 2027])}
    assert statuses == {2026: "official", 2027: "provisional"}


# --- schedule files -------------------------------------------------------------------


def test_sample_file_parses_into_a_valid_schedule(db: Session) -> None:
    year, days, source = calendar.parse_schedule(sample_2027(), "2027.yaml")
    assert year == 2027
    assert "2027" in source
    assert (date(2027, 10, 1), False, "国庆节") in days
    assert (date(2027, 10, 9), True, "国庆节调休上班") in days
    calendar.import_year(db, actor=OPERATOR, year=year, days=days, source=source)


def test_yaml_accepts_plain_dates() -> None:
    text = "year: 2027\nholidays:\n  - 2027-01-01\nworkdays: [2027-02-20]\n"
    assert calendar.parse_schedule(text, "x.yml") == (
        2027,
        [(date(2027, 1, 1), False, None), (date(2027, 2, 20), True, None)],
        "x.yml",
    )


def test_yaml_bad_date_names_line_and_field() -> None:
    text = "year: 2027\nholidays:\n  - {date: 2027-01-01, name: 元旦}\n  - {date: 2027-02-30}\n"
    with pytest.raises(Invalid) as caught:
        calendar.parse_schedule(text, "2027.yaml")
    assert caught.value.field == "holidays[1].date"
    assert "第 4 行" in caught.value.message


def test_csv_with_chinese_types_and_source_column() -> None:
    text = (
        "\ufeffdate,type,name,source\n"
        "2027-01-01,休,元旦,国办发明电〔2026〕X号\n"
        "2027-02-20,班,春节调休上班,\n"
        "\n"
    )
    assert calendar.parse_schedule(text, "2027.csv") == (
        2027,
        [(date(2027, 1, 1), False, "元旦"), (date(2027, 2, 20), True, "春节调休上班")],
        "国办发明电〔2026〕X号",
    )


def test_csv_without_source_takes_the_file_name() -> None:
    text = "date,type,name\n2027-01-01,holiday,元旦\n"
    assert calendar.parse_schedule(text, "/tmp/2027年安排.csv")[2] == "2027年安排.csv"


def test_csv_bad_type_names_the_row() -> None:
    text = "date,type,name\n2027-01-01,holiday,元旦\n2027-02-20,加班,\n"
    with pytest.raises(Invalid) as caught:
        calendar.parse_schedule(text, "2027.csv")
    assert caught.value.field == "type"
    assert "第 3 行" in caught.value.message


def test_csv_mixing_years_names_the_row() -> None:
    text = "date,type\n2027-01-01,holiday\n2028-01-03,holiday\n"
    with pytest.raises(Invalid) as caught:
        calendar.parse_schedule(text, "2027.csv")
    assert (caught.value.field, "第 3 行" in caught.value.message) == ("date", True)


def test_unknown_file_type_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        calendar.parse_schedule("", "2027.xlsx")
    assert caught.value.field == "file"


# --- command line ---------------------------------------------------------------------


def test_cli_add_prints_the_date_only(govshare_cli: Cli) -> None:
    result = govshare_cli("workdays", "add", "2026-09-30", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "2026-10-08\n"
    assert result.stderr == ""


def test_cli_provisional_date_warns_on_stderr(
    govshare_cli: Cli,
) -> None:
    result = govshare_cli("workdays", "add", "2027-09-30", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "2027-10-01\n"
    assert "暂定" in result.stderr and "2027" in result.stderr


def test_cli_import_then_count(govshare_cli: Cli, tmp_path: Path) -> None:
    schedule = tmp_path / "2027.yaml"
    schedule.write_text(sample_2027(), encoding="utf-8")

    imported = govshare_cli("workdays", "import", str(schedule))
    assert imported.exit_code == 0, imported.output
    assert "23 天" in imported.stdout

    added = govshare_cli("workdays", "add", "2027-09-30", "1")
    assert (added.stdout, added.stderr) == ("2027-10-08\n", "")
    assert govshare_cli("workdays", "between", "2027-09-30", "2027-10-08").stdout == "1\n"
    swapped = govshare_cli("workdays", "is", "2027-10-09")
    assert swapped.stdout == "工作日（国庆节调休上班）\n"
    status = govshare_cli("workdays", "status", "2026", "2027", "2028")
    assert status.exit_code == 0, status.output
    assert "已录入" in status.stdout and "官方数据" in status.stdout and "暂定" in status.stdout


def test_cli_counts_with_the_entries_of_a_configured_database(
    govshare_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the embedded database the counting commands read the entries with sqlite3; on one
    the operator configured, through the runtime. Both see the same entries."""
    from govshare.core.runtime import get_runtime
    from govshare.core.settings import get_settings

    monkeypatch.setenv("GOVSHARE_DATABASE_URL", f"sqlite:///{tmp_path / 'configured.db'}")
    get_settings.cache_clear()
    get_runtime.cache_clear()
    assert govshare_cli("db", "upgrade").exit_code == 0
    schedule = tmp_path / "2027.yaml"
    schedule.write_text(sample_2027(), encoding="utf-8")
    assert govshare_cli("workdays", "import", str(schedule)).exit_code == 0
    try:
        added = govshare_cli("workdays", "add", "2027-09-30", "1")
        assert (added.stdout, added.stderr) == ("2027-10-08\n", "")
        assert govshare_cli("workdays", "is", "2027-10-09").stdout == "工作日（国庆节调休上班）\n"
        # The entries went to the configured database, not to the embedded one beside it.
        with sqlite3.connect(govshare_cli.data_dir / "govshare.db") as embedded:
            assert embedded.execute("SELECT count(*) FROM calendar_year").fetchone() == (0,)
    finally:
        get_runtime().engine.dispose()


def test_cli_is_names_official_holiday(govshare_cli: Cli) -> None:
    assert govshare_cli("workdays", "is", "2026-10-01").stdout == "休息日（国庆节）\n"
    assert govshare_cli("workdays", "is", "2026-10-12").stdout == "工作日\n"


@pytest.mark.parametrize(
    "args",
    [["add", "2026-13-01", "1"], ["add", "2026-09-30", "0"], ["between", "x", "2026-10-01"]],
)
def test_cli_bad_input_fails_with_one_line(govshare_cli: Cli, args: list[str]) -> None:
    result = govshare_cli("workdays", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("错误: ")


def test_cli_import_bad_row_fails_and_names_it(govshare_cli: Cli, tmp_path: Path) -> None:
    schedule = tmp_path / "2027.csv"
    schedule.write_text("date,type,name\n2027-01-01,holiday,元旦\n2027-01-04,workday,\n")
    result = govshare_cli("workdays", "import", str(schedule))
    assert result.exit_code == 2
    assert "2027-01-04" in result.stderr
    status = govshare_cli("workdays", "status", "2027")
    assert "暂定" in status.stdout
