"""Bulk loading of generated rows into PostgreSQL (COPY), MySQL/MariaDB (multi-row INSERT)
or SQLite, replacing the table atomically where the database allows."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import URL, make_url

Columns = Sequence[tuple[str, str]]


# --- loading into a database --------------------------------------------------------------

PORTABLE_TYPES: dict[str, dict[str, str]] = {
    "postgresql": {"text": "text", "bigint": "bigint", "integer": "integer", "numeric": "numeric(18, 2)",
                   "date": "date", "timestamp": "timestamp", "boolean": "boolean"},
    "mysql": {"text": "VARCHAR(255)", "bigint": "BIGINT", "integer": "INT", "numeric": "DECIMAL(18, 2)",
              "date": "DATE", "timestamp": "DATETIME(6)", "boolean": "BOOLEAN"},
    # SQLite keeps dates as ISO text in SQLAlchemy's own format, so its DATE/DATETIME types read them back.
    "sqlite": {"text": "TEXT", "bigint": "BIGINT", "integer": "INTEGER", "numeric": "NUMERIC(18, 2)",
               "date": "DATE", "timestamp": "DATETIME", "boolean": "BOOLEAN"},
}  # fmt: skip
_PG_BINARY_TYPES = {"text": "text", "bigint": "int8", "integer": "int4", "numeric": "numeric",
                    "date": "date", "timestamp": "timestamp", "boolean": "bool"}  # fmt: skip
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,49}")  # room for "ix_..._updated_at" in 64


def load_table(
    url: str | URL,
    table: str,
    columns: Columns,
    rows: Iterable[Sequence[Any]],
    *,
    key: str | Sequence[str],
    batch: int = 20000,
) -> int:
    """(Re)creates `table` with primary key `key` (a column, or several) and an index on
    updated_at (when there is one) in the database at a SQLAlchemy `url`, fills it with
    `rows`; returns rows written.

    `columns` are (name, portable type) pairs, types from PORTABLE_TYPES. PostgreSQL streams
    one binary COPY; MySQL/MariaDB and SQLite insert `batch` rows at a time. PostgreSQL and
    SQLite replace the table in one transaction; MySQL commits its DDL, and each batch."""
    target = make_url(url)
    dialect = {
        "postgresql": "postgresql",
        "mysql": "mysql",
        "mariadb": "mysql",
        "sqlite": "sqlite",
    }.get(target.get_backend_name())
    if dialect is None:
        raise ValueError(f"不支持的数据库类型：{target.get_backend_name()}")
    keys = (key,) if isinstance(key, str) else tuple(key)
    _check_shape(table, columns, keys)
    if batch < 1:
        raise ValueError("batch 必须是正整数")
    types = PORTABLE_TYPES[dialect]
    if dialect == "postgresql":
        return _load_postgresql(target, table, columns, rows, keys, types)
    if dialect == "mysql":
        return _load_mysql(target, table, columns, rows, keys, types, batch)
    return _load_sqlite(target, table, columns, rows, keys, types, batch)


def _check_shape(table: str, columns: Columns, keys: tuple[str, ...]) -> None:
    names = [name for name, _ in columns]
    for name in [table, *names]:
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"名称 {name!r} 不合法：只允许字母、数字和下划线，且不以数字开头")
    unknown = sorted({kind for _, kind in columns} - set(PORTABLE_TYPES["sqlite"]))
    if unknown:
        raise ValueError(f"不支持的列类型：{', '.join(unknown)}")
    if len(set(names)) != len(names) or not keys or not set(keys) <= set(names):
        raise ValueError(f"列名重复，或主键列 {', '.join(keys)} 不在列中")


def _key_list(keys: tuple[str, ...], quote: str) -> str:
    return ", ".join(f"{quote}{k}{quote}" for k in keys)


def _ddl(
    table: str,
    columns: Columns,
    keys: tuple[str, ...] | None,
    types: Mapping[str, str],
    quote: str,
    suffix: str = "",
) -> str:
    """CREATE TABLE with the dialect's types; `keys` None leaves the primary key for later."""
    body = [f"{quote}{name}{quote} {types[kind]}" for name, kind in columns]
    if keys is not None:
        body.append(f"PRIMARY KEY ({_key_list(keys, quote)})")
    return f"CREATE TABLE {quote}{table}{quote} ({', '.join(body)}){suffix}"


def _has_updated_at(columns: Columns) -> bool:
    return any(name == "updated_at" for name, _ in columns)


def _load_postgresql(
    target: URL,
    table: str,
    columns: Columns,
    rows: Iterable[Sequence[Any]],
    keys: tuple[str, ...],
    types: Mapping[str, str],
) -> int:
    import psycopg

    names = ", ".join(f'"{name}"' for name, _ in columns)
    written = 0
    # One transaction: readers see the old table or the full new one. Binary COPY, and the
    # key and index built afterwards, are each several times faster than the alternative.
    connect_args = {**_connect_args(target, "dbname"), **target.query}  # e.g. sslmode
    with psycopg.connect(**connect_args) as conn, conn.cursor() as cur:
        cur.execute(f'DROP TABLE IF EXISTS "{table}"')
        cur.execute(_ddl(table, columns, None, types, '"'))
        with cur.copy(f'COPY "{table}" ({names}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types([_PG_BINARY_TYPES[kind] for _, kind in columns])
            for row in rows:
                copy.write_row(row)
                written += 1
        primary = _key_list(keys, '"')
        cur.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "pk_{table}" PRIMARY KEY ({primary})')
        if _has_updated_at(columns):
            cur.execute(f'CREATE INDEX "ix_{table}_updated_at" ON "{table}" ("updated_at")')
    return written


def _load_mysql(
    target: URL,
    table: str,
    columns: Columns,
    rows: Iterable[Sequence[Any]],
    keys: tuple[str, ...],
    types: Mapping[str, str],
    batch: int,
) -> int:
    import pymysql

    names = ", ".join(f"`{name}`" for name, _ in columns)
    head = f"INSERT INTO `{table}` ({names}) VALUES "
    written = 0
    conn = pymysql.connect(**_connect_args(target, "database"), charset="utf8mb4", autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@max_allowed_packet")
            limit = min(4 * 1024 * 1024, int(cur.fetchone()[0]) // 2)
            # No key while loading: InnoDB appends rows in arrival order, and ADD PRIMARY KEY
            # sorts once, instead of splitting pages for every random key (twice as fast).
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")
            suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
            cur.execute(_ddl(table, columns, None, types, "`", suffix))
            row_literal = _mysql_row_literal(conn, columns)
            for chunk in _chunks(rows, batch):
                for statement in _insert_statements(head, map(row_literal, chunk), limit):
                    cur.execute(statement)
                conn.commit()
                written += len(chunk)
            alter = f"ADD PRIMARY KEY ({_key_list(keys, '`')})"
            if _has_updated_at(columns):
                alter += f", ADD INDEX `ix_{table}_updated_at` (`updated_at`)"
            cur.execute(f"ALTER TABLE `{table}` {alter}")
        conn.commit()
    finally:
        conn.close()
    return written


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _insert_statements(head: str, literals: Iterable[str], limit: int) -> Iterator[str]:
    """Multi-row INSERTs of at most about `limit` characters each."""
    parts: list[str] = []
    size = len(head)
    for literal in literals:
        if parts and size + len(literal) > limit:
            yield head + ",".join(parts)
            parts, size = [], len(head)
        parts.append(literal)
        size += len(literal) + 1
    if parts:
        yield head + ",".join(parts)


_NEEDS_ESCAPE = re.compile(r"[\x00\n\r\x1a\\'\"]").search


def _mysql_row_literal(conn: Any, columns: Columns) -> Callable[[Sequence[Any]], str]:
    """A function rendering a row as a SQL tuple. PyMySQL's own escaping (executemany) costs
    about 25 us a row in Python; per-column formatters cost a third of that."""
    from pymysql.constants import SERVER_STATUS
    from pymysql.converters import escape_string

    if conn.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES:

        def escape(value: str) -> str:
            return value.replace("'", "''")
    else:
        escape = escape_string

    def text(value: Any) -> str:
        value = value if isinstance(value, str) else str(value)
        return "'" + (escape(value) if _NEEDS_ESCAPE(value) else value) + "'"

    def timestamp(value: Any) -> str:
        return "'" + value.isoformat(sep=" ") + "'"

    def calendar_date(value: Any) -> str:
        return "'" + value.isoformat() + "'"

    by_kind = {"text": text, "timestamp": timestamp, "date": calendar_date}
    formats = [by_kind.get(kind, str) for _, kind in columns]

    def row_literal(row: Sequence[Any]) -> str:
        return (
            "("
            + ",".join(["NULL" if v is None else f(v) for f, v in zip(formats, row, strict=True)])
            + ")"
        )

    return row_literal


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")  # SQLAlchemy's SQLite format
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _load_sqlite(
    target: URL,
    table: str,
    columns: Columns,
    rows: Iterable[Sequence[Any]],
    keys: tuple[str, ...],
    types: Mapping[str, str],
    batch: int,
) -> int:
    convert = [kind in ("date", "timestamp", "numeric") for _, kind in columns]
    insert = f'INSERT INTO "{table}" VALUES ({", ".join(["?"] * len(columns))})'
    written = 0
    # Autocommit mode with an explicit BEGIN, so that DROP and CREATE belong to the same
    # transaction as the rows (the sqlite3 module would otherwise run DDL outside of it).
    conn = sqlite3.connect(target.database or ":memory:", isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.execute(f'DROP TABLE IF EXISTS "{table}"')
        conn.execute(_ddl(table, columns, keys, types, '"'))
        for chunk in _chunks(rows, batch):
            conn.executemany(
                insert,
                [
                    [_sqlite_value(v) if c else v for v, c in zip(row, convert, strict=True)]
                    for row in chunk
                ],
            )
            written += len(chunk)
        if _has_updated_at(columns):
            conn.execute(f'CREATE INDEX "ix_{table}_updated_at" ON "{table}" ("updated_at")')
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return written


def _connect_args(target: URL, database_key: str) -> dict[str, Any]:
    args: dict[str, Any] = target.translate_connect_args(username="user", database=database_key)
    return {k: v for k, v in args.items() if v is not None}
