"""Row scope: the reference's documented semantics, agreement of the SQL filters with it on
PostgreSQL, MariaDB and SQLite (bound and literal), and the masked, filtered `scoped_select`."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.dialects import mysql

from govshare.core.errors import Invalid
from govshare.exchange.masking import Mask, mask_value
from govshare.exchange.scope import (
    Condition,
    filter_clause,
    literal_sql,
    row_matches,
    scoped_select,
)
from govshare.sharing.models import MaskRule, RowOp
from tests.exchange.test_masking import DIALECTS, KEY, connect, reset, run_both

# --- the reference -------------------------------------------------------------------------


def matches(value: object, op: str, *values: str) -> bool:
    return row_matches({"c": value}, [Condition("c", RowOp(op), values)])


def test_eq_compares_numbers_as_numbers_and_text_exactly() -> None:
    assert matches("010", "eq", "10")
    assert matches("10", "eq", "10.0")
    assert matches(Decimal("10.50"), "eq", "10.5")
    assert matches(10, "eq", "+10.000")
    assert not matches("a", "eq", "A")
    assert not matches("1e3", "eq", "1000")  # not a number in the shared syntax
    assert not matches(" 1", "eq", "1")


def test_long_digit_strings_compare_exactly_not_as_floats() -> None:
    assert float("110101199001011234") == float("110101199001011235")
    assert not matches("110101199001011234", "eq", "110101199001011235")
    assert matches("110101199001011234", "in", "1", "110101199001011234")


def test_between_puts_numbers_before_text() -> None:
    assert matches("9", "between", "1", "10")
    assert not matches("9", "between", "10", "20")  # as text '9' > '10'; as numbers it is not
    assert matches("5", "between", "1", "abc")
    assert not matches("z", "between", "1", "9")
    assert matches(date(2020, 1, 31), "between", "2020-01-01", "2020-12-31")
    assert not matches(datetime(2021, 1, 1, 0, 0), "between", "2020-01-01", "2020-12-31")


def test_prefix_is_text_on_the_text_form() -> None:
    assert matches(Decimal("10.50"), "prefix", "10.5")
    assert not matches(Decimal("10.50"), "prefix", "10.50")
    assert matches(2020, "prefix", "20")
    assert matches("张三", "prefix", "张")
    assert not matches("010", "prefix", "10")


def test_null_never_matches() -> None:
    assert not any(
        matches(None, op, *values)
        for op, values in [("eq", ("",)), ("in", ("a",)), ("between", ("", "z")), ("prefix", ("",))]
    )


def test_condition_checks_its_arity() -> None:
    with pytest.raises(ValueError, match=re.escape("takes 2..2")):
        Condition("c", RowOp.BETWEEN, ("1",))
    with pytest.raises(ValueError, match=re.escape("takes 1..1")):
        Condition("c", RowOp.EQ, ("1", "2"))
    with pytest.raises(ValueError, match=re.escape("takes 1..n")):
        Condition("c", RowOp.IN, ())
    with pytest.raises(ValueError, match="NUL"):
        Condition("c", RowOp.PREFIX, ("a\x00",))
    with pytest.raises(ValueError, match="strings"):
        Condition("c", RowOp.EQ, (1,))  # type: ignore[arg-type]
    assert Condition("c", "in", ["a", "b"]).values == ("a", "b")  # type: ignore[arg-type]


# --- agreement on real databases ------------------------------------------------------------


@pytest.fixture(scope="module", params=DIALECTS)
def scope_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    engine = connect(request.param, tmp_path_factory.mktemp("scope"))
    yield engine
    engine.dispose()


@functools.cache
def filter_table(name: str) -> sa.Table:
    """Text columns under a collation that is NOT code point order, to prove ours overrides it."""
    text = (
        sa.String(200, collation="NOCASE")
        .with_variant(sa.String(200, collation="und-x-icu"), "postgresql")
        .with_variant(mysql.VARCHAR(200, collation="utf8mb4_general_ci"), "mysql")
    )
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("txt", text),
        sa.Column("num", sa.Numeric(12, 3)),
        sa.Column("whole", sa.Integer),
        sa.Column("big", sa.Numeric(40, 4)),  # beyond the fast path: compared via its text form
        sa.Column("day", sa.Date),
        sa.Column("moment", sa.DateTime),
        sa.Column("flag", sa.Boolean),
        mysql_charset="utf8mb4",
    )


TEXTS = [
    "10", "010", "10.0", "10.50", "-3", "+5", "1e3", " 1", "nan", "inf", "abc", "ABC", "a", "",
    None, "2020-01-31", "张三", "110101199001011234", "110101199001011235", "9", "1.", ".5", "a\n",
    "1\n", "Ab", "b", "😀", "ab ", "ab", "0", "-0", "00.000", "1234567890123456789012345678901",
    "O'Brien", "100%", "a\\b",
]  # fmt: skip
NUMS = [Decimal("10.5"), Decimal("0"), Decimal("-3"), Decimal("100"), Decimal("9.999"), None]
NUMS += [Decimal("1234567.125"), Decimal("-0.001")]
WHOLES = [10, 9, -3, 0, 100, None, 2020, 2147483647]
BIGS = [Decimal("10.5"), Decimal("1234567890123456789012345678901.5"), Decimal("-3"), None]
BIGS += [Decimal("100"), Decimal("123456789012345678901234567890.0001")]
DAYS = [date(2020, 1, 31), date(2019, 12, 31), None, date(2020, 12, 31)]
MOMENTS = [datetime(2020, 1, 31, 8, 5, 9), None, datetime(2020, 12, 31, 23, 59, 59)]
FLAGS = [True, False, None]
COLUMNS = ("txt", "num", "whole", "big", "day", "moment", "flag")

FILTER_VALUES = [
    "10", "10.0", "010", "10.5", "10.50", "-3", "+5", "0", "-0", "9", "100", "1e3", "abc", "ABC",
    "a", "b", "", "2020", "2020-01-01", "2020-12-31", "2020-01-31", "2020-01-31 08", "张", "张三",
    "110101199001011234", "true", "false", "t", "1", "ab", "9223372036854775808", "0.0005",
    "123456789012345678901234567890", "1234567890123456789012345678901", "-100000000000000000000",
    "9.9", "2147483647", "O'Brien", "100%", "a\\b", "a\\",
]  # fmt: skip


def filter_rows() -> list[dict[str, Any]]:
    others = {
        "num": NUMS,
        "whole": WHOLES,
        "big": BIGS,
        "day": DAYS,
        "moment": MOMENTS,
        "flag": FLAGS,
    }
    rows = []
    for i, text in enumerate(TEXTS):
        row: dict[str, Any] = {"id": i, "txt": text}
        row.update({name: values[i % len(values)] for name, values in others.items()})
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def loaded(scope_engine: Engine) -> tuple[Engine, sa.Table, list[dict[str, Any]]]:
    table = filter_table("scope_filter")
    return scope_engine, table, reset(scope_engine, table, filter_rows())


def assert_same_ids(
    engine: Engine, table: sa.Table, rows: list[dict[str, Any]], conditions: Sequence[Condition]
) -> None:
    select = (
        sa.select(table.c.id)
        .where(filter_clause(engine.dialect.name, table, conditions))
        .order_by(table.c.id)
    )
    want = [row["id"] for row in rows if row_matches(row, conditions)]
    bound, literal = run_both(engine, select)
    assert [r[0] for r in bound] == want, f"bound parameters, {conditions}"
    assert [r[0] for r in literal] == want, f"literal SQL, {conditions}"


_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_VALUE = st.one_of(st.sampled_from(FILTER_VALUES), st.text(_CHARACTERS, max_size=4))


@st.composite
def conditions(draw: st.DrawFn, columns: Sequence[str] = COLUMNS) -> Condition:
    column = draw(st.sampled_from(columns))
    op = draw(st.sampled_from(list(RowOp)))
    count = {RowOp.EQ: 1, RowOp.PREFIX: 1, RowOp.BETWEEN: 2}.get(op) or draw(st.integers(1, 4))
    values = tuple(draw(st.lists(_VALUE, min_size=count, max_size=count)))
    return Condition(column, op, values)


def assert_same_ids_at_once(
    engine: Engine, table: sa.Table, rows: list[dict[str, Any]], each: Sequence[Condition]
) -> None:
    """Like `assert_same_ids` for many single conditions in one query: CASE WHEN <clause> THEN 1
    ELSE 0 treats a NULL outcome as WHERE does."""
    dialect = engine.dialect.name
    flags = [
        sa.case((filter_clause(dialect, table, [c]), 1), else_=0).label(f"c{i}")
        for i, c in enumerate(each)
    ]
    bound, literal = run_both(engine, sa.select(table.c.id, *flags).order_by(table.c.id))
    for how, result in (("bound parameters", bound), ("literal SQL", literal)):
        for i, condition in enumerate(each):
            want = [row["id"] for row in rows if row_matches(row, [condition])]
            assert [r[0] for r in result if r[i + 1] == 1] == want, f"{how}, {condition}"


def test_every_op_on_every_column_agrees_with_the_reference(
    loaded: tuple[Engine, sa.Table, list[dict[str, Any]]],
) -> None:
    engine, table, rows = loaded
    for column in COLUMNS:
        each = [
            Condition(column, RowOp(op), values)
            for value in FILTER_VALUES
            for op, values in [("eq", (value,)), ("prefix", (value,)), ("between", (value, "9.9"))]
        ]
        each.append(Condition(column, RowOp.IN, tuple(FILTER_VALUES)))
        each.append(Condition(column, RowOp.BETWEEN, ("-3", "zzz")))
        assert_same_ids_at_once(engine, table, rows, each)


def test_filters_select_what_the_semantics_promise(
    loaded: tuple[Engine, sa.Table, list[dict[str, Any]]],
) -> None:
    """A few hand-checked answers, so agreement cannot hide a shared mistake."""
    engine, table, rows = loaded
    ids = {row["txt"]: row["id"] for row in rows}

    def selected(*conditions: Condition) -> set[int]:
        query = sa.select(table.c.id).where(filter_clause(engine.dialect.name, table, conditions))
        with engine.connect() as conn:
            return set(conn.scalars(query))

    assert selected(Condition("txt", RowOp.EQ, ("10",))) == {ids["10"], ids["010"], ids["10.0"]}
    assert selected(Condition("txt", RowOp.EQ, ("ab",))) == {ids["ab"]}  # not 'ab ' nor 'Ab'
    assert selected(Condition("txt", RowOp.IN, ("abc",))) == {ids["abc"]}
    assert ids["😀"] in selected(Condition("txt", RowOp.BETWEEN, ("z", "\U0010ffff")))
    assert selected(Condition("num", RowOp.PREFIX, ("10.5",))) == {
        row["id"] for row in rows if row["num"] == Decimal("10.5")
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chosen=st.lists(conditions(), min_size=1, max_size=3))
def test_generated_conditions_agree_with_the_reference(
    loaded: tuple[Engine, sa.Table, list[dict[str, Any]]], chosen: list[Condition]
) -> None:
    engine, table, rows = loaded
    assert_same_ids(engine, table, rows, chosen)


_NUMERIC_TEXT = st.from_regex(r"[+-]?[0-9]{1,3}(\.[0-9]{1,3})?", fullmatch=True)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(
        st.one_of(st.none(), _NUMERIC_TEXT, st.text(_CHARACTERS, max_size=6)),
        min_size=1,
        max_size=10,
    ),
    chosen=st.lists(conditions(["txt"]), min_size=1, max_size=4),
)
def test_generated_rows_and_conditions_agree(
    scope_engine: Engine, texts: list[str | None], chosen: list[Condition]
) -> None:
    table = filter_table("scope_generated")
    rows = reset(scope_engine, table, [{"id": i, "txt": t} for i, t in enumerate(texts)])
    for condition in chosen:
        assert_same_ids(scope_engine, table, rows, [condition])


# --- scoped_select ----------------------------------------------------------------------------

PEOPLE = [
    {"id": 1, "id_number": "320102199001011234", "name": "张三", "district": "320102", "born_on": date(1990, 1, 1)},
    {"id": 2, "id_number": "32010219850505432X", "name": "欧阳娜娜", "district": "320104", "born_on": date(1985, 5, 5)},
    {"id": 3, "id_number": "110101199001011234", "name": "李四", "district": "110101", "born_on": date(1990, 1, 1)},
    {"id": 4, "id_number": None, "name": "王五", "district": "320102", "born_on": None},
]  # fmt: skip
MASKS = {"id_number": Mask(MaskRule.ID_NUMBER), "name": Mask(MaskRule.NAME)}
GRANTED = [Condition("district", RowOp.PREFIX, ("3201",))]


@functools.cache
def people_table() -> sa.Table:
    return sa.Table(
        "scope_people",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("id_number", sa.String(18)),
        sa.Column("name", sa.String(40)),
        sa.Column("district", sa.String(6)),
        sa.Column("born_on", sa.Date),
        mysql_charset="utf8mb4",
    )


def granted_select(dialect: str, table: sa.Table, **kw: Any) -> sa.Select[Any]:
    defaults: dict[str, Any] = {
        "dialect": dialect,
        "columns": ["name", "id_number", "born_on"],
        "conditions": GRANTED,
        "masks": MASKS,
        "key": KEY,
        "order_by": ["id"],
    }
    return scoped_select(table, **(defaults | kw))


def masked(row: dict[str, Any], column: str) -> object:
    return mask_value(row[column], MASKS[column], key=KEY)


def test_scoped_select_projects_masks_and_filters_like_the_reference(scope_engine: Engine) -> None:
    table = people_table()
    rows = reset(scope_engine, table, PEOPLE)
    select = granted_select(scope_engine.dialect.name, table)
    assert [c.name for c in select.selected_columns] == ["name", "id_number", "born_on"]
    want = [
        (masked(r, "name"), masked(r, "id_number"), r["born_on"])
        for r in rows
        if row_matches(r, GRANTED)
    ]
    bound, literal = run_both(scope_engine, select)
    assert bound == want
    assert [row[:2] for row in literal] == [
        row[:2] for row in want
    ]  # raw DB-API dates differ in type
    assert [row[:2] for row in bound] == [
        ("张*", "320102********1234"),
        ("欧***", "320102********432X"),
        ("王*", None),
    ]


def test_consumer_lookup_by_a_masked_id_number_uses_the_original_value(
    scope_engine: Engine,
) -> None:
    table = people_table()
    reset(scope_engine, table, PEOPLE)
    lookup = [Condition("id_number", RowOp.EQ, ("32010219850505432X",))]
    outside = [Condition("id_number", RowOp.EQ, ("110101199001011234",))]  # exists, but not granted
    dialect = scope_engine.dialect.name
    with scope_engine.connect() as conn:
        found = conn.execute(granted_select(dialect, table, where=lookup)).all()
        hidden = conn.execute(granted_select(dialect, table, where=outside)).all()
    assert [tuple(row) for row in found] == [("欧***", "320102********432X", date(1985, 5, 5))]
    assert hidden == []


@pytest.mark.parametrize("op", [RowOp.PREFIX, RowOp.BETWEEN])
def test_consumer_may_not_probe_a_masked_column_by_range(op: RowOp) -> None:
    values = ("3201",) if op is RowOp.PREFIX else ("320102199001010000", "320102199001019999")
    with pytest.raises(Invalid, match="已脱敏") as caught:
        granted_select("sqlite", people_table(), where=[Condition("id_number", op, values)])
    assert caught.value.field == "id_number"


def test_consumer_may_not_filter_on_an_ungranted_column() -> None:
    with pytest.raises(Invalid, match="未授权的字段“district”"):
        granted_select(
            "sqlite", people_table(), where=[Condition("district", RowOp.EQ, ("110101",))]
        )


def test_unmasked_granted_columns_take_any_consumer_filter(scope_engine: Engine) -> None:
    table = people_table()
    reset(scope_engine, table, PEOPLE)
    where = [Condition("born_on", RowOp.BETWEEN, ("1986-01-01", "1999-12-31"))]
    select = granted_select(
        scope_engine.dialect.name, table, where=where, columns=["id", "name", "born_on"]
    )
    with scope_engine.connect() as conn:
        assert [tuple(row) for row in conn.execute(select)] == [(1, "张*", date(1990, 1, 1))]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"columns": []}, "non-empty"),
        ({"columns": ["name", "name"]}, "repeats"),
        ({"columns": ["nickname"]}, "no column 'nickname'"),
        ({"masks": {"nickname": Mask(MaskRule.NULL)}}, "no column 'nickname'"),
        ({"order_by": ["rank"]}, "no column 'rank'"),
        ({"conditions": [Condition("rank", RowOp.EQ, ("1",))]}, "no column 'rank'"),
        ({"dialect": "oracle"}, "unsupported dialect"),
    ],
)
def test_scoped_select_rejects_what_it_cannot_compile(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rest = dict(change)
        granted_select(rest.pop("dialect", "sqlite"), people_table(), **rest)


def test_literal_sql_inlines_every_value() -> None:
    table = people_table()
    where = [Condition("name", RowOp.IN, ("O'Brien", "100%", "a\\b"))]
    select = granted_select("postgresql", table, where=where, masks={})
    text = literal_sql(select, "postgresql")
    assert "'O''Brien'" in text and "'100%'" in text and "'a\\b'" in text
    assert "%(" not in text and ":param" not in text
    assert "'a\\\\b'" in literal_sql(granted_select("mysql", table, where=where, masks={}), "mysql")
