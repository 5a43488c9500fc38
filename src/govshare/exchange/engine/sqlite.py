"""SQLite as a source (values typed per row, so they are checked and encoded in Python) and as
a target (the embedded data resource center: DDL is transactional, so a full run is one
transaction from the load table to the swap, like PostgreSQL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from govshare.exchange.engine import connect
from govshare.exchange.engine.base import Lines, Source, Target, Window, beside, keyset
from govshare.exchange.engine.copytext import BadValue, decode_row, display, encode_value
from govshare.exchange.engine.model import (
    Column,
    RejectLog,
    State,
    SyncSpec,
    TargetFailed,
    TypeMismatch,
)

TYPES = {
    "text": "TEXT",
    "integer": "INTEGER",
    "bigint": "INTEGER",
    "numeric": "NUMERIC",
    "double": "REAL",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _param(text: str, type_: str) -> object:
    """A watermark text back as the value SQLite compares with (numbers compare as numbers)."""
    if type_ in ("integer", "bigint"):
        return int(text)
    if type_ == "numeric":
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    return text


class SqliteSource(Source):
    """Reads a SQLite file read-only inside one read transaction."""

    def __init__(self, spec: SyncSpec, log: RejectLog) -> None:
        super().__init__(spec, log)
        self.dsn = connect.parse(spec.source_url)
        self.conn: sqlite3.Connection | None = None

    @property
    def connection(self) -> sqlite3.Connection:
        assert self.conn is not None, "begin() first"
        return self.conn

    @property
    def from_clause(self) -> str:
        query = self.spec.source_query
        if query is None:
            table = ".".join(quote(p) for p in self.spec.source_table.split("."))
            query = f"SELECT {', '.join(quote(n) for n in self.spec.names)} FROM {table}"
        return f"FROM ({query.strip().rstrip(';')}) AS s"

    def _ref(self, name: str) -> str:
        return f"s.{quote(name)}"

    def connect(self) -> None:
        if self.conn is None:
            self.conn = connect.sqlite(self.dsn, must_exist=True)

    def begin(self) -> None:
        self.connect()
        assert self.conn is not None
        with connect.translating("source", self.dsn):
            self.conn.execute("BEGIN")
            cur = self.conn.execute(f"SELECT * {self.from_clause} LIMIT 0")
            names = [d[0] for d in cur.description or ()]
        if names != list(self.spec.names):
            raise TypeMismatch(
                "源查询返回的字段与同步字段不一致："
                f"应为 {', '.join(self.spec.names)}，实际为 {', '.join(names)}"
            )

    def max_change(self) -> str | None:
        name = self.spec.change_column or ""
        with connect.translating("source", self.dsn):
            row = self.connection.execute(
                f"SELECT max({self._ref(name)}) {self.from_clause}"
            ).fetchone()
        if row is None or row[0] is None:
            return None
        try:
            return encode_value(row[0], self.spec.column(name).type)
        except BadValue:
            return display(row[0])

    def rejects(self, window: Window | None) -> int:
        return 0  # checked row by row in rows()

    def _select(
        self, columns: tuple[Column, ...], window: Window | None, *, ordered: bool = True
    ) -> tuple[str, list[object]]:
        refs = ", ".join(self._ref(c.name) for c in columns)
        sql = f"SELECT {refs} {self.from_clause}"
        if window is None:
            return sql, []
        params: list[object] = []
        change = self.spec.column(self.spec.change_column or "")
        key_types = [c.type for c in self.spec.key_columns]

        def placeholder(text: str, key: int | None) -> str:
            params.append(_param(text, change.type if key is None else key_types[key]))
            return "?"

        keys = [self._ref(k) for k in self.spec.key]
        where = keyset(self._ref(change.name), keys, window, placeholder)
        if not ordered:
            return f"{sql} WHERE {where}", params
        order = ", ".join([self._ref(change.name), *keys])
        return f"{sql} WHERE {where} ORDER BY {order}", params

    def _encode(self, row: tuple[Any, ...], columns: tuple[Column, ...]) -> bytes | None:
        fields = []
        for value, column in zip(row, columns, strict=True):
            if value is None and column.name in self.spec.key:
                raise BadValue("主键为空")
            fields.append(encode_value(value, column.type))
        return ("\t".join(fields) + "\n").encode()

    def _stream(
        self, columns: tuple[Column, ...], window: Window | None, *, log: bool, ordered: bool = True
    ) -> Iterator[Lines]:
        sql, params = self._select(columns, window, ordered=ordered)
        size = self.block_rows
        with connect.translating("source", self.dsn):
            cur = self.connection.execute(sql, params)
            while rows := cur.fetchmany(size):
                lines: Lines = []
                for row in rows:
                    try:
                        lines.append(self._encode(row, columns))
                    except BadValue as exc:
                        if log:
                            self.reject_row([display(v) for v in row], str(exc))
                yield lines

    def rows(self, window: Window | None, *, ordered: bool = True) -> Iterator[Lines]:
        return self._stream(self.spec.columns, window, log=True, ordered=ordered)

    def keys(self) -> Iterator[Lines]:
        return self._stream(self.spec.key_columns, None, log=False)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class SqliteTarget(Target):
    """Writes a SQLite file; every write is a BEGIN IMMEDIATE transaction."""

    placeholder = "?"

    def __init__(self, spec: SyncSpec, log: RejectLog) -> None:
        super().__init__(spec, log)
        self.dsn = connect.parse(spec.target_url)
        self.conn: sqlite3.Connection | None = None

    @property
    def connection(self) -> sqlite3.Connection:
        assert self.conn is not None, "open() first"
        return self.conn

    def quote(self, name: str) -> str:
        return quote(name)

    def _ddl(self, table: str, columns: tuple[Column, ...], *, temporary: bool = False) -> str:
        cols = []
        for c in columns:
            null = " NOT NULL" if c.name in self.spec.key else ""
            cols.append(f"{quote(c.name)} {TYPES[c.type]}{null}")
        if temporary:
            cols.append(f"PRIMARY KEY ({self.column_list(self.spec.key)})")
        return f"CREATE {'TEMPORARY ' if temporary else ''}TABLE {table} ({', '.join(cols)})"

    def open(self) -> None:
        if self.spec.target_schema:
            raise TargetFailed("SQLite 目标库不支持指定 schema，请留空")
        self.conn = connect.sqlite(self.dsn, must_exist=False)
        with connect.translating("target", self.dsn):
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.state_table} (name TEXT PRIMARY KEY, "
                "target_table TEXT NOT NULL, mode TEXT NOT NULL, watermark TEXT, "
                "watermark_key TEXT, signature TEXT NOT NULL, updated_at TEXT NOT NULL)"
            )

    def state(self) -> State | None:
        with connect.translating("target", self.dsn):
            return self.read_state(self.connection.cursor())

    def exists(self) -> bool:
        with connect.translating("target", self.dsn):
            row = self.connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (self.spec.target_table,),
            ).fetchone()
        return row is not None

    def _write_state(self, cur: sqlite3.Cursor, state: State) -> None:
        cur.execute(
            f"INSERT INTO {self.state_table} (name, target_table, mode, watermark, "
            "watermark_key, signature, updated_at) VALUES (?, ?, ?, ?, ?, ?, "
            "?) ON CONFLICT (name) DO UPDATE SET "
            "target_table = excluded.target_table, mode = excluded.mode, "
            "watermark = excluded.watermark, watermark_key = excluded.watermark_key, "
            "signature = excluded.signature, updated_at = excluded.updated_at",
            self.state_values(state),
        )

    def _insert(self, table: str, *, upsert: bool = False) -> str:
        marks = ", ".join(["?"] * len(self.spec.columns))
        sql = f"INSERT INTO {table} ({self.column_list()}) VALUES ({marks})"
        if upsert:
            others = [n for n in self.spec.names if n not in self.spec.key]
            keys = self.column_list(self.spec.key)
            if others:
                sets = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in others)
                sql += f" ON CONFLICT ({keys}) DO UPDATE SET {sets}"
            else:
                sql += f" ON CONFLICT ({keys}) DO NOTHING"
        return sql

    def replace(
        self, batches: Iterable[Lines], state: State, meanwhile: Callable[[], object]
    ) -> int:
        name = self.spec.target_table
        columns = self.spec.columns
        index = quote(f"{name}__key")
        insert = self._insert(self.load_table)
        with connect.translating("target", self.dsn):
            cur = self.connection.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute(f"DROP TABLE IF EXISTS {self.load_table}")
                cur.execute(self._ddl(self.load_table, columns))
                sent = 0
                for lines in batches:
                    cur.executemany(insert, [decode_row(line, columns) for line in lines])
                    sent += len(lines)
                cur.execute(f"DROP TABLE IF EXISTS {self.table()}")
                add_key = f"CREATE UNIQUE INDEX {index} ON {self.load_table} ({self.column_list(self.spec.key)})"
                sent -= beside(meanwhile, lambda: self._add_key(cur, add_key))
                cur.execute(f"ALTER TABLE {self.load_table} RENAME TO {quote(name)}")
                self._write_state(cur, state)
                cur.execute("COMMIT")
            except BaseException:
                if self.connection.in_transaction:
                    cur.execute("ROLLBACK")
                raise
        return sent

    def _add_key(self, cur: sqlite3.Cursor, add_key: str) -> int:
        """Adds the key, removing duplicates first if it fails; returns how many it removed."""
        cur.execute("SAVEPOINT govshare_key")
        removed = 0
        try:
            cur.execute(add_key)
        except sqlite3.IntegrityError:
            cur.execute("ROLLBACK TO SAVEPOINT govshare_key")
            removed = self.dedupe(cur, self.load_table)
            cur.execute(add_key)
        cur.execute("RELEASE SAVEPOINT govshare_key")
        return removed

    def upsert(self, batches: Iterable[Lines], state: State) -> int:
        columns = self.spec.columns
        insert = self._insert(self.table(), upsert=True)
        written = 0
        with connect.translating("target", self.dsn):
            cur = self.connection.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                for lines in batches:
                    cur.executemany(insert, [decode_row(line, columns) for line in lines])
                    written += len(lines)
                if written:
                    self._write_state(cur, state)
                cur.execute("COMMIT")
            except BaseException:
                if self.connection.in_transaction:
                    cur.execute("ROLLBACK")
                raise
        return written

    def delete_absent(self, key_batches: Iterable[Lines]) -> int:
        keys = quote("govshare_keys")
        columns = self.spec.key_columns
        marks = ", ".join(["?"] * len(columns))
        with connect.translating("target", self.dsn):
            cur = self.connection.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute(f"DROP TABLE IF EXISTS temp.{keys}")
                cur.execute(self._ddl(keys, columns, temporary=True))
                insert = f"INSERT OR IGNORE INTO temp.{keys} ({self.column_list(self.spec.key)}) VALUES ({marks})"
                for lines in key_batches:
                    cur.executemany(insert, [decode_row(line, columns) for line in lines])
                cur.execute(
                    f"DELETE FROM {self.table()} AS t WHERE NOT EXISTS "
                    f"(SELECT 1 FROM temp.{keys} AS k WHERE {self.key_match('k', 't')})"
                )
                deleted = cur.rowcount
                cur.execute(f"DROP TABLE temp.{keys}")
                cur.execute("COMMIT")
            except BaseException:
                if self.connection.in_transaction:
                    cur.execute("ROLLBACK")
                raise
        return deleted

    def close(self) -> None:
        if self.conn is not None:
            if self.conn.in_transaction:
                self.conn.rollback()
            self.conn.close()
            self.conn = None
