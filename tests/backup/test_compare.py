"""The comparison the restore tests rely on finds what differs: a changed value, a row gone or
added, a table only one side has, a changed file, another key — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.backup.compare import State, database_tables, differences
from tests.backup.conftest import drop_postgres_database, postgres_database
from tests.conftest import BACKENDS

SCHEMA = [
    "CREATE TABLE item (id integer PRIMARY KEY, name varchar(20), amount numeric(10, 2))",
    "CREATE TABLE note (body varchar(40))",  # no primary key
    "INSERT INTO item VALUES (1, '甲', 1.50), (2, '乙', 2.00), (3, '丙', NULL)",
    "INSERT INTO note VALUES ('第一条'), ('第二条')",
]


def _execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two databases of the backend holding the same two small tables."""
    if request.param == "sqlite":
        urls = (f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}")
    else:
        urls = (postgres_database("cmp_a"), postgres_database("cmp_b"))
    for url in urls:
        _execute(url, *SCHEMA)
    yield urls
    if request.param == "postgresql":
        for url in urls:
            drop_postgres_database(url)


def _state(url: str, files: dict[str, str] | None = None, key: bytes = b"k") -> State:
    tables, sequences = database_tables(url)
    return State({"platform": tables}, files or {"ab/cd": "0" * 64}, key, {"platform": sequences})


def _name(url: str, table: str) -> str:
    return f"public.{table}" if url.startswith("postgresql") else table


def test_identical_databases_have_no_difference(pair: tuple[str, str]) -> None:
    a, b = pair
    assert differences(_state(a), _state(b)) == []


def test_a_changed_value_is_named_by_its_table_key_and_column(pair: tuple[str, str]) -> None:
    a, b = pair
    _execute(b, "UPDATE item SET name = '丁' WHERE id = 2")
    assert differences(_state(a), _state(b)) == [
        f"platform table {_name(a, 'item')}: row {{'id': 2}} changed (name: '乙' became '丁')"
    ]


def test_rows_gone_or_added_and_tables_only_one_side_has_are_found(pair: tuple[str, str]) -> None:
    a, b = pair
    _execute(
        b,
        "DELETE FROM item WHERE id = 3",
        "INSERT INTO item VALUES (4, '戊', 4.00)",
        "UPDATE note SET body = '第二条（改）' WHERE body = '第二条'",
        "CREATE TABLE added (id integer PRIMARY KEY)",
    )
    item, note, added = (_name(a, t) for t in ("item", "note", "added"))
    assert differences(_state(a), _state(b)) == [
        f"platform table {added}: only after",
        f"platform table {item}: row {{'id': 3}} is gone",
        f"platform table {item}: row {{'id': 4}} is new",
        f"platform table {note}: row ('第二条',) is gone or changed",
    ]


def test_a_changed_file_a_missing_file_and_another_key_are_found() -> None:
    before = State({}, {"ab/cd": "0" * 64, "ef/gh": "1" * 64}, b"k")
    after = State({}, {"ab/cd": "2" * 64}, b"other")
    assert differences(before, after) == [
        f"file ab/cd: '{'0' * 64}' became '{'2' * 64}'",
        "file ef/gh: only before",
        "secret_key: the key file differs",
    ]
