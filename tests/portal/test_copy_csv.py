"""PostgreSQL's own CSV of an open table (`copy_csv`) reads back as the values the portal writes
everywhere else (`templating.plain`), value for value, for the values that trip formatting up."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from govshare.portal import copy_csv
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalField, rows_table
from govshare.portal.templating import plain
from tests.conftest import BACKENDS
from tests.portal.conftest import fresh_portal

pytestmark = pytest.mark.skipif(
    "postgresql" not in BACKENDS, reason="COPY is PostgreSQL's; SQLite formats in Python"
)

DOUBLES = [
    0.0, -0.0, 1.0, -7.0, 0.75, 0.1 + 0.2, 123456.789, 1e-4, 1e-5, 1.5e-7, 5e-324, 1e15,
    1.234e15, 999999999999999.9, 1e16, 1.5e16, 2.0**53, 1e22, 1.7976931348623157e308,
    -2.5e-310, math.nan, math.inf, -math.inf, None,
]  # fmt: skip
NUMERICS = [
    Decimal("30.5000"), Decimal("100"), Decimal("0.00"), Decimal("-1.10"), Decimal("1E+20"),
    Decimal("0.000000012300"), Decimal("123456789012345678901234567890.5"), None,
]  # fmt: skip
TIMESTAMPS = [
    datetime(2026, 1, 1, 8, 30), datetime(2026, 12, 31, 23, 59, 59, 500000),
    datetime(2027, 2, 1, 0, 0, 0, 1), datetime(999, 3, 4, 5, 6, 7), None,
]  # fmt: skip
DATES = [date(2026, 10, 3), date(9, 1, 2), None]
TEXTS = ["普通", "", '带"引号",逗号', "换行\r\n第二行", "=1+1", " 前后空格 ", "\\.", None]
INTEGERS = [0, -1, 9_223_372_036_854_775_807, None]
BOOLEANS = [True, False, None]

COLUMNS = {
    "double": DOUBLES,
    "numeric": NUMERICS,
    "timestamp": TIMESTAMPS,
    "date": DATES,
    "text": TEXTS,
    "integer": INTEGERS,
    "boolean": BOOLEANS,
}
ROWS = max(len(values) for values in COLUMNS.values())


@pytest.fixture(scope="module")
def table() -> Iterator[tuple[PortalDatabase, list[PortalField]]]:
    portal = fresh_portal("postgresql", "govshare_test_portal_copy")
    fields = [
        PortalField(position=i, name=type_, column=f"c{i}", type=type_)
        for i, type_ in enumerate(COLUMNS)
    ]
    rows = rows_table(7, [(f.column, f.type) for f in fields])
    with portal.session() as s:
        rows.create(s.connection())
        s.execute(
            rows.insert(),
            [
                {"_row": n, **{f.column: _nth(COLUMNS[f.type], n) for f in fields}}
                for n in range(ROWS)
            ],
        )
    yield portal, fields
    portal.dispose()


def _nth(values: list[Any], n: int) -> Any:
    return values[n] if n < len(values) else None


def _read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def test_copy_writes_every_value_as_the_portal_does(
    table: tuple[PortalDatabase, list[PortalField]],
) -> None:
    portal, fields = table
    with portal.session() as s:
        data = b"".join(copy_csv.copy_chunks(s, 7, fields, chunk=64))
        table_ = rows_table(7, [(f.column, f.type) for f in fields])
        stored = s.execute(table_.select().order_by(table_.c["_row"])).all()
    expected = [[plain(v) for v in row[1:]] for row in stored]
    copied = _read_csv(data)
    assert len(copied) == ROWS
    for column, field in enumerate(fields):
        got = [row[column] for row in copied]
        want = [row[column] for row in expected]
        assert got == want, field.type
    # what the values must be, not only the same on both paths
    doubles = [row[0] for row in copied][: len(DOUBLES)]
    assert doubles[:4] == ["0.0", "-0.0", "1.0", "-7.0"]
    assert doubles[5] == "0.30000000000000004"
    assert doubles[8] == "0.00001" and doubles[11] == "1000000000000000.0"
    assert doubles[14:16] == ["10000000000000000", "15000000000000000"]
    assert doubles[-4:] == ["nan", "inf", "-inf", ""]
    assert [row[1] for row in copied][:7] == [
        "30.5", "100", "0", "-1.1", "100000000000000000000", "0.0000000123",
        "123456789012345678901234567890.5",
    ]  # fmt: skip
    assert [row[2] for row in copied][:3] == [
        "2026-01-01T08:30:00",
        "2026-12-31T23:59:59.500000",
        "2027-02-01T00:00:00.000001",
    ]
    assert [row[6] for row in copied][:3] == ["是", "否", ""]


def test_copy_sends_the_rows_in_pieces_of_about_the_chunk(
    table: tuple[PortalDatabase, list[PortalField]],
) -> None:
    portal, fields = table
    with portal.session() as s:
        pieces = list(copy_csv.copy_chunks(s, 7, fields[4:5], chunk=8))
    assert len(pieces) > 3
    assert all(len(p) >= 8 for p in pieces[:-1])
    assert [row[0] for row in _read_csv(b"".join(pieces))][: len(TEXTS)] == [
        plain(t) for t in TEXTS
    ]


def test_each_column_reads_back_in_the_order_of_the_fields(
    table: tuple[PortalDatabase, list[PortalField]],
) -> None:
    portal, fields = table
    chosen = [fields[5], fields[3]]
    with portal.session() as s:
        data = b"".join(copy_csv.copy_chunks(s, 7, chosen, chunk=1024))
    assert _read_csv(data)[:2] == [["0", "2026-10-03"], ["-1", "0009-01-02"]]
