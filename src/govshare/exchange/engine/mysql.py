"""MariaDB / MySQL as a source and as a target.

As a source the server does the per-value work: each row comes as one bytes value, the whole
COPY text line (see `copy_line`: fields joined and escaped in SQL, NULL as \\N, text in other
character sets converted to UTF-8), read through an unbuffered cursor. PyMySQL then decodes
one short packet per row instead of fifteen typed values, which is what makes MariaDB →
PostgreSQL faster than a row-by-row loader.

As a target (a consumer's front-end database) rows are decoded here and inserted in
multi-row statements; see `MySqlTarget` for why a full run stays safe without transactional
DDL.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pymysql
import pymysql.charset

from govshare.exchange.engine import connect
from govshare.exchange.engine.base import Check, ColumnPlan, Lines, Target, beside
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


def binary_literal(data: bytes) -> str:
    return f"_binary X'{data.hex()}'"


# The line is built in bytes: fields joined by 0xFF, NULL written 0xFE (neither byte occurs in
# UTF-8), escaped once over the whole line, then the markers turned into tab and \N: six
# REPLACEs per row instead of four per text column, which halves the server's share of work.
_FIELD, _NULL = b"\xff", b"\xfe"
_ESCAPES = ((b"\\", b"\\\\"), (b"\t", b"\\t"), (b"\n", b"\\n"), (b"\r", b"\\r"))
_MARKERS = ((_FIELD, b"\t"), (_NULL, b"\\N"))
_REJECTED = b"\xfd"  # first byte of a rejected row's line (see MySqlSource.rows)
UTF8_CHARSETS = {"utf8mb4", "utf8mb3", "utf8", "ascii"}


def copy_line(fields: list[str]) -> str:
    """SQL building one COPY text line (bytes, newline included) from field expressions that
    give UTF-8 text or NULL."""
    null = binary_literal(_NULL)
    line = (
        f"CONCAT_WS({binary_literal(_FIELD)}, "
        + ", ".join(f"IFNULL(CAST({f} AS BINARY), {null})" for f in fields)
        + ")"
    )
    for raw, replacement in (*_ESCAPES, *_MARKERS):
        line = f"REPLACE({line}, {binary_literal(raw)}, {binary_literal(replacement)})"
    newline = binary_literal(b"\n")
    return f"CONCAT({line}, {newline})"


def _same(ref: str) -> str:
    return ref


def plan_column(target: str, kind: str) -> ColumnPlan | None:
    """How a MySQL value of `kind` becomes COPY text of portable type `target` (None: it can't)."""
    if target == "text":
        return ColumnPlan(_same if kind == "text" else lambda ref: f"CAST({ref} AS CHAR)")
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


def _charset(field: Any) -> str | None:
    """The character set name of a PyMySQL result field, None if unknown."""
    try:
        return str(pymysql.charset.charset_by_id(field.charsetnr).name)
    except (AttributeError, KeyError):
        return None


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
        self.convert: list[bool] = []  # per column: text not in UTF-8, to be converted

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

    def connect(self) -> None:
        if self.conn is None:
            self.conn = connect.mysql(self.dsn, streaming=True)

    def begin(self) -> None:
        self.connect()
        assert self.conn is not None
        with connect.translating("source", self.dsn):
            with self.conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            self.make_plans()

    def probe(self) -> list[tuple[str, str]]:
        # With character_set_results NULL the metadata tells each column's own character set:
        # the line is built in bytes, which the server does not convert on the way out.
        with self.connection.cursor() as cur:
            cur.execute("SET SESSION character_set_results = NULL")
            try:
                cur.execute(f"SELECT * {self.from_clause} LIMIT 0")
                description = cur.description or ()
                fields = list(getattr(cur._result, "fields", None) or [])  # PyMySQL's metadata
                cur.fetchall()
            finally:
                cur.execute("SET SESSION character_set_results = utf8mb4")
        kinds = [kind_of(d[1], d[3]) for d in description]
        self.convert = [
            kind in ("text", "other") and _charset(field) not in UTF8_CHARSETS
            for kind, field in zip(kinds, fields or [None] * len(kinds), strict=True)
        ]
        return [(d[0], kind) for d, kind in zip(description, kinds, strict=True)]

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

    def rejects(self, window: Any) -> int:
        return 0  # read in the same scan as the rows (see rows())

    def _fields(self, indexes: Sequence[int]) -> list[str]:
        return [
            f"CONVERT({expr} USING utf8mb4)" if self.convert[i] else expr
            for i, expr in zip(indexes, self.exprs(tuple(indexes)), strict=True)
        ]

    def _rejected_line(self, checks: list[tuple[int, Check, str]]) -> str:
        """SQL of a rejected row's line: the marker, its values as text, then one 1/0 per
        check; CAST(… AS CHAR) converts to the connection's utf8mb4."""
        null, one, zero = binary_literal(_NULL), binary_literal(b"1"), binary_literal(b"0")
        values = [
            f"IFNULL(CAST(CAST({self.ref(n)} AS CHAR) AS BINARY), {null})" for n in self.spec.names
        ]
        flags = [f"IF({sql}, {one}, {zero})" for _, _, sql in checks]
        fields = ", ".join(values + flags)
        return f"CONCAT({binary_literal(_REJECTED)}, CONCAT_WS({binary_literal(_FIELD)}, {fields}))"

    def rows(self, window: Any, *, ordered: bool = True) -> Iterator[Lines]:
        """Every row of the window in one scan: a row passing its checks as a COPY line, a
        row failing one as a marked line of its raw values and check results, sorted out
        here. (A second scan for the rejected rows alone cost MariaDB as much as the first.)"""
        checks = self.checks()
        line = copy_line(self._fields(range(len(self.spec.columns))))
        if checks:
            ok = " AND ".join(sql for _, _, sql in checks)
            line = f"IF({ok}, {line}, {self._rejected_line(checks)})"
        where = self.condition([], window) + (self.order(window) if ordered else "")
        return self._lines(f"SELECT {line} {self.from_clause} WHERE {where}", checks)

    def keys(self) -> Iterator[Lines]:
        indexes = self.spec.key_indexes
        line = copy_line(self._fields(indexes))
        where = self.condition(self.checks(indexes), None)
        return self._lines(f"SELECT {line} {self.from_clause} WHERE {where}", [])

    def _lines(self, sql: str, checks: list[tuple[int, Check, str]]) -> Iterator[Lines]:
        size = self.block_rows
        with connect.translating("source", self.dsn), self.connection.cursor() as cur:
            cur.execute(sql)
            while rows := cur.fetchmany(size):
                lines = [row[0] for row in rows]
                block = b"".join(lines)
                if b"\x00" in block or _REJECTED in block:
                    lines = self._sort_out(lines, checks)
                yield lines

    def _sort_out(self, lines: Lines, checks: list[tuple[int, Check, str]]) -> Lines:
        """Logs and drops the rejected rows and the rows with a NUL character, which
        PostgreSQL text cannot hold; returns the others."""
        kept = []
        width = len(self.spec.columns)
        for line in lines:
            if line[:1] == _REJECTED:
                fields = line[1:].split(_FIELD)
                values = [
                    None if f == _NULL else f.decode("utf-8", "replace") for f in fields[:width]
                ]
                self.reject_row(
                    values, self.reasons(checks, values, [f == b"1" for f in fields[width:]])
                )
            elif b"\x00" in line:
                values = [v if v is None else v.replace("\x00", "\\0") for v in split_line(line)]
                if len(values) == width:
                    self.reject_row(values, "文本含空字符（\\0）")
                else:  # a line of keys(): the key is all there is
                    self.log.add(
                        Rejected(key_text(values), "文本含空字符（\\0）", key_text(values))
                    )
            else:
                kept.append(line)
        return kept

    def close(self) -> None:
        if self.conn is not None:
            # A stream left unfinished: PyMySQL would read every remaining row before it let
            # go (and again when the result is collected). Marked finished, the result is
            # dropped with the socket and the server ends the query.
            result = getattr(self.conn, "_result", None)
            if result is not None and getattr(result, "unbuffered_active", False):
                result.unbuffered_active = False
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
            "%s) ON DUPLICATE KEY UPDATE target_table = VALUES(target_table), "
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

    def replace(
        self, batches: Iterable[Lines], state: State, meanwhile: Callable[[], object]
    ) -> int:
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
            sent -= beside(meanwhile, lambda: self._add_key(cur, add_key))
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

    def _add_key(self, cur: Any, add_key: str) -> int:
        """Adds the key, removing duplicates first if it fails; returns how many it removed."""
        try:
            cur.execute(add_key)
        except pymysql.IntegrityError:
            removed = self.dedupe(cur, self.load_table)
            self.connection.commit()
            cur.execute(add_key)
            return removed
        return 0

    def upsert(self, batches: Iterable[Lines], state: State) -> int:
        columns = self.spec.columns
        insert = self._insert(self.table(), upsert=True)
        written = 0
        with connect.translating("target", self.dsn), self.connection.cursor() as cur:
            try:
                for lines in batches:
                    cur.executemany(insert, [decode_row(line, columns) for line in lines])
                    written += len(lines)
                if written:
                    self._write_state(cur, state)
                self.connection.commit()
            except BaseException:
                with contextlib.suppress(pymysql.Error):
                    self.connection.rollback()
                raise
        return written

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
