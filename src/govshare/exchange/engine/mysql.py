"""MariaDB / MySQL as a source and as a target.

As a source the server does the per-value work: one column per row, the whole COPY text line
built with CONCAT_WS, REPLACE escapes and '\\N' for NULL, read as raw bytes through an
unbuffered cursor. PyMySQL then decodes one short packet per row instead of fifteen typed
values, which is what makes MariaDB → PostgreSQL faster than a row-by-row loader.

As a target (a consumer's front-end database) rows are decoded here and inserted in
multi-row statements; see `MySqlTarget` for why a full run stays safe without transactional
DDL.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import pymysql

from govshare.exchange.engine import connect
from govshare.exchange.engine.base import Check, ColumnPlan, Lines, Target
from govshare.exchange.engine.copytext import decode_row, split_line
from govshare.exchange.engine.model import (
    Column,
    Rejected,
    RejectLog,
    State,
    SyncBusy,
    SyncSpec,
    key_text,
)
from govshare.exchange.engine.sqlsource import SqlSource

KINDS = {
    0: "decimal",
    1: "int_small",
    2: "int_small",
    3: "int",
    4: "float",
    5: "float",
    7: "datetime",
    8: "int8",
    9: "int_small",
    10: "date",
    12: "datetime",
    13: "int_small",
    14: "date",
    246: "decimal",
}
TEXT_CODES = {15, 245, 247, 248, 249, 250, 251, 252, 253, 254}
TYPES = {
    "text": "LONGTEXT",
    "integer": "INT",
    "bigint": "BIGINT",
    "numeric": "DECIMAL(38,10)",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "DATETIME(6)",
    "boolean": "TINYINT(1)",
}
KEY_TEXT = "VARCHAR(255) COLLATE utf8mb4_bin"
_INTS = ("tiny1", "int_small", "int", "int8")
_RANGE = {
    "integer": Check("{ref} BETWEEN -2147483648 AND 2147483647", "整数超出范围：{value}"),
    "bigint": Check(
        "{ref} BETWEEN -9223372036854775808 AND 9223372036854775807", "整数超出范围：{value}"
    ),
}
_UNSIGNED = Check("{ref} <= 9223372036854775807", "整数超出范围：{value}")
_INTEGRAL = Check("{ref} = FLOOR({ref})", "不是整数：{value}")
# Zero dates ('0000-00-00', '2024-02-00') and, under ALLOW_INVALID_DATES, days past the end of
# the month: PostgreSQL and Python accept neither.
_VALID_DATE = Check(
    "YEAR({ref}) > 0 AND MONTH({ref}) > 0 AND DAYOFMONTH({ref}) > 0 "
    "AND DAYOFMONTH({ref}) <= DAYOFMONTH(LAST_DAY({ref}))",
    "日期值无效：{value}",
)


def text_literal(text: str) -> str:
    """A utf8mb4 string constant that no sql_mode (NO_BACKSLASH_ESCAPES, ANSI_QUOTES) changes."""
    return f"_utf8mb4 X'{text.encode().hex()}'"


def _escaped(ref: str) -> str:
    expr = ref
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        expr = f"REPLACE({expr}, {text_literal(raw)}, {text_literal(escaped)})"
    return expr


def _same(ref: str) -> str:
    return ref


def plan_column(target: str, kind: str) -> ColumnPlan | None:
    """How a MySQL value of `kind` becomes COPY text of portable type `target` (None: it can't)."""
    if target == "text":
        if kind == "text" or kind == "other":
            return ColumnPlan(
                _escaped if kind == "text" else lambda r: _escaped(f"CAST({r} AS CHAR)")
            )
        return ColumnPlan(lambda ref: f"CAST({ref} AS CHAR)")
    if target in _RANGE:
        if kind in ("tiny1", "int_small") or (kind == "int" and target == "bigint"):
            return ColumnPlan(_same)
        if kind in ("int", "int8"):
            return ColumnPlan(_same, (_RANGE[target] if target == "integer" else _UNSIGNED,))
        if kind in ("decimal", "float"):
            return ColumnPlan(lambda ref: f"CAST({ref} AS SIGNED)", (_INTEGRAL, _RANGE[target]))
        return None
    if target in ("numeric", "double"):
        return ColumnPlan(_same) if kind in (*_INTS, "decimal", "float") else None
    if target == "date":
        if kind == "date":
            return ColumnPlan(_same, (_VALID_DATE,))
        if kind == "datetime":
            return ColumnPlan(lambda ref: f"CAST({ref} AS DATE)", (_VALID_DATE,))
        return None
    if target == "timestamp":
        if kind == "datetime":
            return ColumnPlan(_same, (_VALID_DATE,))
        if kind == "date":
            midnight = text_literal(" 00:00:00")
            return ColumnPlan(lambda ref: f"CONCAT({ref}, {midnight})", (_VALID_DATE,))
        return None
    if kind in _INTS:
        true, false = text_literal("t"), text_literal("f")
        return ColumnPlan(
            lambda ref: f"CASE WHEN {ref} <> 0 THEN {true} WHEN {ref} = 0 THEN {false} END"
        )
    return None


def kind_of(type_code: int, size: int | None) -> str:
    """The kind of a result column from PyMySQL's description."""
    if type_code == 1 and size == 1:
        return "tiny1"
    if type_code in TEXT_CODES:
        return "text"
    return KINDS.get(type_code, "other")


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MySqlSource(SqlSource):
    """Reads in one consistent InnoDB snapshot through an unbuffered cursor."""

    false = "0"
    true = "1"

    def __init__(self, spec: SyncSpec, log: RejectLog) -> None:
        super().__init__(spec, log)
        self.dsn = connect.parse(spec.source_url)
        self.conn: pymysql.Connection | None = None

    @property
    def connection(self) -> pymysql.Connection:
        assert self.conn is not None, "begin() first"
        return self.conn

    def quote(self, name: str) -> str:
        return quote(name)

    def literal(self, text: str) -> str:
        return str(self.connection.escape(text))

    def raw_text(self, ref: str) -> str:
        return f"CAST({ref} AS CHAR)"

    def is_null(self, ref: str) -> str:
        # `IS NULL` in a WHERE is also true for '0000-00-00' in a NOT NULL date column (an
        # ODBC compatibility rule), which would let zero dates through; <=> has no such rule.
        return f"{ref} <=> NULL"

    def plan(self, column: Column, kind: str) -> ColumnPlan | None:
        return plan_column(column.type, kind)

    def begin(self) -> None:
        self.conn = connect.mysql(self.dsn, streaming=True)
        with connect.translating("source", self.dsn):
            with self.conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            self.make_plans()

    def probe(self) -> list[tuple[str, str]]:
        with self.connection.cursor() as cur:
            cur.execute(f"SELECT * {self.from_clause} LIMIT 0")
            description = cur.description or ()
            cur.fetchall()
        return [(d[0], kind_of(d[1], d[3])) for d in description]

    def max_change(self) -> str | None:
        index = self.spec.change_index
        assert index is not None
        expr = self.plans[index].expr(f"MAX({self.ref(self.spec.names[index])})")
        rows = list(self.stream(f"SELECT CAST({expr} AS CHAR) {self.from_clause}"))
        return self.text_of(rows[0][0]) if rows else None

    def stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        with connect.translating("source", self.dsn), self.connection.cursor() as cur:
            cur.execute(sql)
            yield from cur.fetchall_unbuffered()

    def _lines(self, exprs: list[str], where: str) -> Iterator[Lines]:
        null, tab, newline = text_literal("\\N"), text_literal("\t"), text_literal("\n")
        fields = ", ".join(f"IFNULL({e}, {null})" for e in exprs)
        sql = (
            f"SELECT CONCAT(CONCAT_WS({tab}, {fields}), {newline}) {self.from_clause} WHERE {where}"
        )
        size = self.block_rows
        with connect.translating("source", self.dsn), self.connection.cursor() as cur:
            cur.execute(sql)
            while rows := cur.fetchmany(size):
                lines = [row[0] for row in rows]
                if b"\x00" in b"".join(lines):
                    lines = self._without_nul(lines)
                yield lines

    def _without_nul(self, lines: Lines) -> Lines:
        """Drops and logs the rows with a NUL character, which PostgreSQL text cannot hold."""
        kept = []
        for line in lines:
            if b"\x00" in line:
                values = [v if v is None else v.replace("\x00", "\\0") for v in split_line(line)]
                if len(values) == len(self.spec.columns):
                    self.reject_row(values, "文本含空字符（\\0）")
                else:  # a line of keys(): the key is all there is
                    self.log.add(
                        Rejected(key_text(values), "文本含空字符（\\0）", key_text(values))
                    )
            else:
                kept.append(line)
        return kept

    def rows(self, window: Any) -> Iterator[Lines]:
        where = self.condition(self.checks(), window) + self.order(window)
        return self._lines(self.exprs(), where)

    def keys(self) -> Iterator[Lines]:
        indexes = self.spec.key_indexes
        return self._lines(self.exprs(indexes), self.condition(self.checks(indexes), None))

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(pymysql.Error):
                self.conn.close()
            self.conn = None


class MySqlTarget(Target):
    """Writes a MySQL/MariaDB target. DDL commits implicitly here, so a full run loads a
    `__load` table in committed batches, builds its key, then RENAMEs it over the target
    (atomic) and only afterwards writes the state row. Killed before the rename: the old table
    and state are untouched and the next run drops the leftover. Killed between the rename and
    the state row: the new table holds everything up to the new watermark while the state
    still holds the previous one (or none), so the next incremental run re-reads rows the
    table already has, and the keyed upsert makes that harmless; no row is lost or doubled."""

    lock_wait = 10.0  # seconds, as for PgTarget

    def __init__(self, spec: SyncSpec, log: RejectLog) -> None:
        super().__init__(spec, log)
        self.dsn = connect.parse(spec.target_url)
        self.conn: pymysql.Connection | None = None

    @property
    def connection(self) -> pymysql.Connection:
        assert self.conn is not None, "open() first"
        return self.conn

    def quote(self, name: str) -> str:
        return quote(name)

    def _type(self, column: Column) -> str:
        if column.type == "text" and column.name in self.spec.key:
            return KEY_TEXT
        return TYPES[column.type]

    def _ddl(self, table: str, columns: tuple[Column, ...], *, temporary: bool = False) -> str:
        cols = []
        for c in columns:
            null = " NOT NULL" if c.name in self.spec.key else ""
            cols.append(f"{quote(c.name)} {self._type(c)}{null}")
        if temporary:  # the key set of delete_absent: keyed from the start
            cols.append(f"PRIMARY KEY ({self.column_list(self.spec.key)})")
        kind = "TEMPORARY TABLE" if temporary else "TABLE"
        return f"CREATE {kind} {table} ({', '.join(cols)}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"

    def open(self) -> None:
        self.conn = connect.mysql(self.dsn)
        with connect.translating("target", self.dsn), self.conn.cursor() as cur:
            scope = f"{self.dsn.where}:{self.spec.target_schema or ''}:{self.spec.state_name}"
            lock = "govshare_sync:" + hashlib.sha1(scope.encode()).hexdigest()[:40]
            cur.execute("SELECT GET_LOCK(%s, %s)", (lock, self.lock_wait))
            row = cur.fetchone()
            if not row or row[0] != 1:
                raise SyncBusy(f"同步任务“{self.spec.state_name}”正在运行，请等待其结束后再试")
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.state_table} (name VARCHAR(190) NOT NULL "
                "PRIMARY KEY, target_table VARCHAR(64) NOT NULL, mode VARCHAR(20) NOT NULL, "
                "watermark TEXT NULL, watermark_key TEXT NULL, signature VARCHAR(64) NOT NULL, "
                "updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
                "COLLATE=utf8mb4_bin"
            )
            self.conn.commit()

    def state(self) -> State | None:
        with connect.translating("target", self.dsn), self.connection.cursor() as cur:
            state = self.read_state(cur)
            self.connection.commit()
        return state

    def _exists(self, cur: Any, table: str) -> bool:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.tables "
            "WHERE table_schema = COALESCE(%s, DATABASE()) AND table_name = %s",
            (self.spec.target_schema, table),
        )
        row = cur.fetchone()
        return bool(row and row[0])

    def exists(self) -> bool:
        with connect.translating("target", self.dsn), self.connection.cursor() as cur:
            found = self._exists(cur, self.spec.target_table)
            self.connection.commit()
        return found

    def _write_state(self, cur: Any, state: State) -> None:
        cur.execute(
            f"INSERT INTO {self.state_table} (name, target_table, mode, watermark, "
            "watermark_key, signature, updated_at) VALUES (%s, %s, %s, %s, %s, %s, "
            "UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE target_table = VALUES(target_table), "
            "mode = VALUES(mode), watermark = VALUES(watermark), "
            "watermark_key = VALUES(watermark_key), signature = VALUES(signature), "
            "updated_at = VALUES(updated_at)",
            self.state_values(state),
        )

    def _insert(self, table: str, *, upsert: bool = False) -> str:
        marks = ", ".join(["%s"] * len(self.spec.columns))
        sql = f"INSERT INTO {table} ({self.column_list()}) VALUES ({marks})"
        if upsert:
            others = [n for n in self.spec.names if n not in self.spec.key] or list(self.spec.key)
            sets = ", ".join(f"{quote(n)} = VALUES({quote(n)})" for n in others)
            sql += f" ON DUPLICATE KEY UPDATE {sets}"
        return sql

    def replace(self, batches: Iterable[Lines], state: State) -> int:
        columns = self.spec.columns
        insert = self._insert(self.load_table)
        with connect.translating("target", self.dsn), self.connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {self.load_table}, {self.old_table}")
            cur.execute(self._ddl(self.load_table, columns))
            sent = committed = 0
            for lines in batches:
                cur.executemany(insert, [decode_row(line, columns) for line in lines])
                sent += len(lines)
                if sent - committed >= self.spec.batch_rows:
                    self.connection.commit()
                    committed = sent
            self.connection.commit()
            add_key = (
                f"ALTER TABLE {self.load_table} ADD PRIMARY KEY ({self.column_list(self.spec.key)})"
            )
            try:
                cur.execute(add_key)
            except pymysql.IntegrityError:
                sent -= self.dedupe(cur, self.load_table)
                self.connection.commit()
                cur.execute(add_key)
            if self._exists(cur, self.spec.target_table):
                cur.execute(
                    f"RENAME TABLE {self.table()} TO {self.old_table}, {self.load_table} TO {self.table()}"
                )
            else:
                cur.execute(f"RENAME TABLE {self.load_table} TO {self.table()}")
            self._write_state(cur, state)
            self.connection.commit()
            cur.execute(f"DROP TABLE IF EXISTS {self.old_table}")
        return sent

    def upsert(self, lines: Lines, state: State) -> int:
        columns = self.spec.columns
        with connect.translating("target", self.dsn), self.connection.cursor() as cur:
            cur.executemany(
                self._insert(self.table(), upsert=True),
                [decode_row(line, columns) for line in lines],
            )
            self._write_state(cur, state)
            self.connection.commit()
        return len(lines)

    def delete_absent(self, key_batches: Iterable[Lines]) -> int:
        keys = quote("govshare_keys")
        columns = self.spec.key_columns
        marks = ", ".join(["%s"] * len(columns))
        with connect.translating("target", self.dsn), self.connection.cursor() as cur:
            cur.execute(f"DROP TEMPORARY TABLE IF EXISTS {keys}")
            cur.execute(self._ddl(keys, columns, temporary=True))
            insert = (
                f"INSERT IGNORE INTO {keys} ({self.column_list(self.spec.key)}) VALUES ({marks})"
            )
            for lines in key_batches:
                cur.executemany(insert, [decode_row(line, columns) for line in lines])
            cur.execute(
                f"DELETE t FROM {self.table()} AS t WHERE NOT EXISTS "
                f"(SELECT 1 FROM {keys} AS k WHERE {self.key_match('k', 't')})"
            )
            deleted = cur.rowcount
            self.connection.commit()
            cur.execute(f"DROP TEMPORARY TABLE IF EXISTS {keys}")
        return deleted

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.rollback()
                with self.conn.cursor() as cur:
                    cur.execute("SELECT RELEASE_ALL_LOCKS()")
                self.conn.close()
            except pymysql.Error:
                pass
            self.conn = None
