"""Masking: the Python reference's documented results, and agreement of the SQL compiled for
PostgreSQL, MariaDB and SQLite with it, row by row, through bound parameters and through
`literal_sql` text alike. Each dialect runs on a real database of its own (see `connect`)."""

from __future__ import annotations

import csv
import functools
import hashlib
import hmac
import io
import os
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, make_url
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import OperationalError

from govshare.exchange.masking import (
    Mask,
    mask_expression,
    mask_value,
    register_sqlite_functions,
    row_key_expression,
    row_key_value,
    text_form,
)
from govshare.exchange.scope import literal_sql
from govshare.sharing.models import MaskRule
from tests.worker_db import own

PG_URL = own(
    os.environ.get("GOVSHARE_TEST_MASK_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/gs_mask")
)
MYSQL_URL = own(
    os.environ.get("GOVSHARE_TEST_MASK_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/gs_mask")
)
DIALECTS = ["postgresql", "mysql", "sqlite"]
KEY = b"exchange-test-key-0123456789"

MASKS = [Mask(rule) for rule in MaskRule if not rule.takes_n] + [
    Mask(rule, n) for rule in MaskRule if rule.takes_n for n in (1, 3, 6)
]

# --- databases (shared with test_scope) ----------------------------------------------------


def _ensure_database(url: sa.URL) -> None:
    """Create the test database when missing, from the server's maintenance connection."""
    # the server's own maintenance database (URL.set(database=None) changes nothing)
    admin_url = url.set(database="postgres" if url.get_backend_name() == "postgresql" else "mysql")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if url.get_backend_name() == "postgresql":
                found = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
                ).first()
                if not found:
                    conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
            else:
                conn.execute(
                    sa.text(f"CREATE DATABASE IF NOT EXISTS `{url.database}` CHARACTER SET utf8mb4")
                )
    finally:
        admin.dispose()


def connect(dialect: str, tmp_dir: os.PathLike[str]) -> Engine:
    """An engine on this dialect's own test database; MariaDB missing fails loudly."""
    if dialect == "sqlite":
        engine = sa.create_engine(f"sqlite:///{os.path.join(tmp_dir, 'mask.db')}")
        event.listen(engine, "connect", lambda conn, _: register_sqlite_functions(conn))
        return engine
    url = make_url(PG_URL if dialect == "postgresql" else MYSQL_URL)
    if dialect == "mysql":
        if os.environ.get("GOVSHARE_TEST_NO_MYSQL") == "1":
            pytest.skip("GOVSHARE_TEST_NO_MYSQL=1")
        url = url.update_query_dict({"charset": "utf8mb4"})
    try:
        _ensure_database(url)
    except OperationalError as exc:
        pytest.fail(
            f"{dialect} is not reachable at {url.render_as_string()}: {exc.orig}. Start it, point "
            + ("GOVSHARE_TEST_MASK_PG" if dialect == "postgresql" else "GOVSHARE_TEST_MASK_MYSQL")
            + " at one"
            + (", or set GOVSHARE_TEST_NO_MYSQL=1." if dialect == "mysql" else "."),
            pytrace=False,
        )
    return sa.create_engine(url)


def run_both(
    engine: Engine, select: sa.Select[Any]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows of `select` executed with bound parameters, and as `literal_sql` text."""
    with engine.connect() as conn:
        bound = [tuple(row) for row in conn.execute(select)]
        cursor = conn.connection.dbapi_connection.cursor()  # raw: no parameter interpolation
        cursor.execute(_literal(select, engine.dialect.name))
        literal = [tuple(row) for row in cursor.fetchall()]
        cursor.close()
    return bound, literal


@functools.cache
def _literal(select: sa.Select[Any], dialect: str) -> str:
    return literal_sql(select, dialect)


@pytest.fixture(scope="module", params=DIALECTS)
def mask_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    engine = connect(request.param, tmp_path_factory.mktemp("mask"))
    yield engine
    engine.dispose()


# --- the reference -------------------------------------------------------------------------


def masked(value: object, rule: MaskRule, n: int | None = None) -> object:
    return mask_value(value, Mask(rule, n), key=KEY)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("110101199001011234", "110101********1234"),
        ("11010119900101123X", "110101********123X"),
        ("110101900101123", "110101*****1123"),
        ("1101011990", "1********0"),
        ("ab", "**"),
    ],
)
def test_id_number_keeps_region_and_last_four(value: str, expected: str) -> None:
    assert masked(value, MaskRule.ID_NUMBER) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("13800138000", "138****8000"), ("1380013800X", "1*********X"), ("010-1234", "0******4")],
)
def test_mobile_masks_the_middle_four_of_eleven_digits(value: str, expected: str) -> None:
    assert masked(value, MaskRule.MOBILE) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), ("欧阳", "欧*"), ("张", "*"), ("", "")],
)
def test_name_keeps_the_family_character(value: str, expected: str) -> None:
    assert masked(value, MaskRule.NAME) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6222021234567890123", "622202*********0123"),
        ("622202123456", "622202**3456"),
        ("62220212345", "6*********5"),
    ],
)
def test_bank_card_keeps_bank_code_and_last_four(value: str, expected: str) -> None:
    assert masked(value, MaskRule.BANK_CARD) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("北京市朝阳区建国路88号", "北京市朝阳区******"),
        ("上海市浦东", "上海***"),
        ("北京市", "北**"),
        ("", ""),
    ],
)
def test_address_keeps_the_district(value: str, expected: str) -> None:
    assert masked(value, MaskRule.ADDRESS) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("zhang.san@example.com", "z***@example.com"),
        ("@example.com", "***@example.com"),
        ("a@b@c", "a***@b@c"),
        ("no-at-sign", "n********n"),
    ],
)
def test_email_keeps_first_character_and_domain(value: str, expected: str) -> None:
    assert masked(value, MaskRule.EMAIL) == expected


def test_keep_first_and_keep_last_star_the_rest() -> None:
    assert masked("320102", MaskRule.KEEP_FIRST, 2) == "32****"
    assert masked("320102", MaskRule.KEEP_LAST, 2) == "****02"
    assert masked("32", MaskRule.KEEP_LAST, 3) == "32"


def test_hash_is_keyed_hmac_sha256_of_the_text_form() -> None:
    expected = hmac.new(KEY, "张三 10.5".encode(), hashlib.sha256).hexdigest()
    assert masked("张三 10.5", MaskRule.HASH) == expected
    assert (
        masked(Decimal("10.50"), MaskRule.HASH)
        == hmac.new(KEY, b"10.5", hashlib.sha256).hexdigest()
    )
    assert mask_value("x", Mask(MaskRule.HASH), key=KEY[::-1]) != masked("x", MaskRule.HASH)


def test_year_only_keeps_a_leading_year() -> None:
    assert masked(date(2020, 1, 31), MaskRule.YEAR_ONLY) == "2020"
    assert masked(datetime(1999, 12, 1, 8, 0), MaskRule.YEAR_ONLY) == "1999"
    assert masked("2021年3月", MaskRule.YEAR_ONLY) == "2021"
    assert masked("３月2021", MaskRule.YEAR_ONLY) is None
    assert masked("１２３４", MaskRule.YEAR_ONLY) is None  # full-width digits are not ASCII


def test_null_stays_null_and_null_rule_blanks_everything() -> None:
    assert all(mask_value(None, mask, key=KEY) is None for mask in MASKS)
    assert masked("张三", MaskRule.NULL) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("10.50"), "10.5"),
        (Decimal("0.000"), "0"),
        (Decimal("-0.00"), "0"),
        (Decimal("1E+2"), "100"),
        (Decimal("123456789012345678901234567890.5"), "123456789012345678901234567890.5"),
        (-3, "-3"),
        (1.0, "1"),
        (1e20, "100000000000000000000"),
        (True, "true"),
        (date(2020, 1, 31), "2020-01-31"),
        (datetime(2020, 1, 31, 8, 5, 9), "2020-01-31 08:05:09"),
        (datetime(2020, 1, 31, 8, 5, 9, 120), "2020-01-31 08:05:09.000120"),
    ],
)
def test_text_form_is_plain_and_iso(value: object, expected: str) -> None:
    assert text_form(value) == expected


def test_mask_validates_n_and_key() -> None:
    with pytest.raises(ValueError, match="needs an integer n"):
        Mask(MaskRule.KEEP_FIRST)
    with pytest.raises(ValueError, match="takes no n"):
        Mask(MaskRule.NAME, 2)
    with pytest.raises(ValueError, match="within"):
        Mask(MaskRule.KEEP_LAST, 0)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        mask_value("x", Mask(MaskRule.HASH), key=b"short")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        mask_expression("sqlite", sa.column("x", sa.String()), Mask(MaskRule.HASH), key=b"")
    assert Mask("keep_first", 2).rule is MaskRule.KEEP_FIRST  # type: ignore[arg-type]


# --- agreement on real databases ------------------------------------------------------------

TEXTS = [
    None,
    "",
    "a",
    "ab",
    "abc",
    "张",
    "张三",
    "欧阳娜娜",
    "110101199001011234",
    "11010119900101123X",
    "110101900101123",
    "13800138000",
    "1380013800\n",
    "138001380001",
    "6222021234567890123",
    "622202123456",
    "user@example.com",
    "@example.com",
    "user@",
    "a@b@c",
    "北京市朝阳区建国路88号院3号楼",
    "上海市",
    "ab  ",
    " 2020年",
    "2020-01-31",
    "１２３４５",
    "٣٤٥٦٧٨٩٠١٢٣",
    "😀",
    "👨‍👩‍👧 family",
    "O'Brien 100% a\\b",
    "10.50",
]
NUMBERS = [Decimal("10.50"), Decimal("0.000"), Decimal("-3"), Decimal("100"), Decimal("-0.0001")]
NUMBERS += [Decimal("1234567890.1234"), None]
INTS = [0, -3, 12345678901, 2020, None]
DAYS = [date(2020, 1, 31), date(1999, 12, 1), None]
MOMENTS = [datetime(2020, 1, 31, 8, 5, 9), datetime(2021, 6, 1, 23, 59, 59, 120), None]
FLOATS = [1.5, -0.25, 3.0, 120.123456, 1e20, 1e-7, None]
FLAGS = [True, False, None]
COLUMNS = ("txt", "num", "whole", "day", "moment", "ratio", "flag")


@functools.cache
def sample_table(name: str) -> sa.Table:
    """A table with a column of each supported type; MariaDB gets utf8mb4 and microseconds."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("txt", sa.String(200)),
        sa.Column("num", sa.Numeric(14, 4, asdecimal=True)),
        sa.Column("whole", sa.BigInteger),
        sa.Column("day", sa.Date),
        sa.Column("moment", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")),
        sa.Column("ratio", sa.Double),
        sa.Column("flag", sa.Boolean),
        mysql_charset="utf8mb4",
    )


def edge_rows() -> list[dict[str, Any]]:
    columns = {
        "num": NUMBERS,
        "whole": INTS,
        "day": DAYS,
        "moment": MOMENTS,
        "ratio": FLOATS,
        "flag": FLAGS,
    }
    rows = []
    for i, text in enumerate(TEXTS):
        row: dict[str, Any] = {"id": i, "txt": text}
        row.update({name: values[i % len(values)] for name, values in columns.items()})
        rows.append(row)
    return rows


_CREATED: set[tuple[str, str]] = set()


def reset(engine: Engine, table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace the table's rows; return them as the database reads them back.

    The table is recreated once per engine and table object (a leftover from an older run may
    have other columns), then only emptied: DDL per Hypothesis example would be slow.
    """
    if (engine.url.render_as_string(), str(id(table))) not in _CREATED:
        table.metadata.drop_all(engine)
        table.metadata.create_all(engine)
        _CREATED.add((engine.url.render_as_string(), str(id(table))))
    with engine.begin() as conn:
        conn.execute(table.delete())
        if rows:
            conn.execute(table.insert(), list(rows))
        return [dict(row._mapping) for row in conn.execute(sa.select(table).order_by(table.c.id))]


@functools.cache
def masked_select(dialect: str, table: sa.Table, columns: tuple[str, ...]) -> sa.Select[Any]:
    """Every mask on every given column, one output column each, ordered by id."""
    outputs = [
        mask_expression(dialect, table.c[column], mask, key=KEY).label(f"m{i}")
        for column in columns
        for i, mask in enumerate(MASKS)
    ]
    return sa.select(*outputs).order_by(table.c.id)


def expected(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    return [
        tuple(mask_value(row[column], mask, key=KEY) for column in columns for mask in MASKS)
        for row in rows
    ]


def assert_agree(want: list[tuple[Any, ...]], got: list[tuple[Any, ...]], how: str) -> None:
    assert len(got) == len(want), how
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        assert g == w, f"{how}: row {i} differs"


@pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support Decimal")
def test_every_rule_agrees_with_the_reference_on_edge_values(mask_engine: Engine) -> None:
    table = sample_table("mask_edge")
    rows = reset(mask_engine, table, edge_rows())
    bound, literal = run_both(mask_engine, masked_select(mask_engine.dialect.name, table, COLUMNS))
    want = expected(rows, COLUMNS)
    assert_agree(want, bound, "bound parameters")
    assert_agree(want, literal, "literal SQL")


@pytest.mark.filterwarnings("ignore:Dialect sqlite\\+pysqlite does \\*not\\* support Decimal")
def test_row_keys_agree_with_the_reference_and_tell_rows_apart(mask_engine: Engine) -> None:
    table = sample_table("mask_row_key")
    rows = [r for r in reset(mask_engine, table, edge_rows()) if r["txt"] is not None]
    for columns in (("id",), ("txt",), ("id", "txt", "day")):
        rows_here = [r for r in rows if all(r[c] is not None for c in columns)]
        expr = row_key_expression(
            mask_engine.dialect.name, [table.c[c] for c in columns], key=KEY
        ).label("k")
        query = sa.select(expr).where(table.c.id.in_([r["id"] for r in rows_here]))
        bound, literal = run_both(mask_engine, query.order_by(table.c.id))
        want = [(row_key_value([r[c] for c in columns], key=KEY),) for r in rows_here]
        assert_agree(want, bound, f"bound parameters {columns}")
        assert_agree(want, literal, f"literal SQL {columns}")
        assert len({k for (k,) in want}) == len(want)  # distinct rows, distinct keys
    # The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert row_key_value(["ab", "c"], key=KEY) != row_key_value(["a", "bc"], key=KEY)
    with pytest.raises(ValueError, match="NULL"):
        row_key_value([None], key=KEY)


def test_text_forms_read_back_as_stored(mask_engine: Engine) -> None:
    """The edge values survive the round trip, so the agreement test compares what it meant to."""
    rows = reset(mask_engine, sample_table("mask_roundtrip"), edge_rows())
    assert [row["txt"] for row in rows] == TEXTS
    assert {text_form(row["num"]) for row in rows} >= {"10.5", "0", "-3", "100", "-0.0001"}
    assert "2021-06-01 23:59:59.000120" in {text_form(row["moment"]) for row in rows}


_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_TEXT = st.one_of(
    st.text(_CHARACTERS, max_size=24),
    st.text(st.sampled_from("0123456789@X.-张欧阳😀 "), max_size=20),
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=8),
    st.text(st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), max_size=6),
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(st.one_of(st.none(), _TEXT), min_size=1, max_size=12))
def test_every_rule_agrees_on_generated_text(mask_engine: Engine, texts: list[str | None]) -> None:
    table = sample_table("mask_generated")
    rows = reset(mask_engine, table, [{"id": i, "txt": t} for i, t in enumerate(texts)])
    assert [row["txt"] for row in rows] == texts
    bound, literal = run_both(mask_engine, masked_select(mask_engine.dialect.name, table, ("txt",)))
    want = expected(rows, ["txt"])
    assert_agree(want, bound, "bound parameters")
    assert_agree(want, literal, "literal SQL")


def test_literal_sql_streams_through_postgres_copy(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """How the exchange uses it: `COPY (SELECT …) TO STDOUT` gets the masked text."""
    engine = connect("postgresql", tmp_path_factory.mktemp("copy"))
    table = sample_table("mask_copy")
    rows = reset(engine, table, edge_rows())
    select = masked_select("postgresql", table, ("txt", "num"))
    sql = f"COPY ({literal_sql(select, 'postgresql')}) TO STDOUT WITH (FORMAT csv, NULL '\\N')"
    raw = engine.raw_connection()
    try:
        buffer = io.BytesIO()
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for chunk in copy:
                buffer.write(bytes(chunk))
    finally:
        raw.close()
        engine.dispose()
    lines = csv.reader(io.StringIO(buffer.getvalue().decode("utf-8"), newline=""))
    got = [tuple(None if cell == "\\N" else cell for cell in line) for line in lines]
    assert got == expected(rows, ["txt", "num"])
