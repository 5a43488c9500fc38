"""PostgreSQL as a source (COPY … TO STDOUT of the checked, converted select) and as a target
(COPY … FROM STDIN into a load table or a staging table, then swap or upsert)."""

from __future__ import annotations

import contextlib
import select
from collections.abc import Callable, Iterable, Iterator
from queue import Queue
from typing import Any

import psycopg
from psycopg import IsolationLevel, pq
from psycopg.copy import QueuedLibpqWriter

from govshare.exchange.engine import connect
from govshare.exchange.engine.base import Check, ColumnPlan, Lines, Target, beside
from govshare.exchange.engine.model import (
    LOAD_SUFFIX,
    RejectLog,
    State,
    SyncBusy,
    SyncSpec,
)
from govshare.exchange.engine.sqlsource import SqlSource

KINDS = {
    16: "bool",
    18: "text",
    19: "text",
    20: "int8",
    21: "int2",
    23: "int4",
    25: "text",
    26: "int8",
    700: "float",
    701: "float",
    1042: "text",
    1043: "text",
    1082: "date",
    1114: "timestamp",
    1184: "timestamptz",
    1700: "numeric",
}
TYPES = {
    "text": "text",
    "integer": "integer",
    "bigint": "bigint",
    "numeric": "numeric",
    "double": "double precision",
    "date": "date",
    "timestamp": "timestamp",
    "boolean": "boolean",
}
_RANGE = {
    "integer": Check("{ref} BETWEEN -2147483648 AND 2147483647", "整数超出范围：{value}"),
    "bigint": Check(
        "{ref} BETWEEN -9223372036854775808 AND 9223372036854775807", "整数超出范围：{value}"
    ),
}
_INTEGRAL = Check("{ref} = trunc({ref})", "不是整数：{value}")
_FINITE = Check("{ref} NOT IN ('NaN', 'Infinity', '-Infinity')", "数值无效：{value}")
_DATE_RANGE = Check("{ref} BETWEEN '0001-01-01' AND '9999-12-31'", "日期值超出范围：{value}")
_TIME_RANGE = Check("{ref} >= '0001-01-01' AND {ref} < '10000-01-01'", "时间值超出范围：{value}")
_INTS = ("int2", "int4", "int8")
# A commit need not wait for its WAL to reach disk: if the server crashes before it does, the
# rows and the watermark that covers them are lost together, and the next run reads them
# again. Exactly once holds; the wait (large after a batch that touched thousands of pages)
# goes.
_NO_FLUSH_WAIT = "SET LOCAL synchronous_commit = off"


def _same(ref: str) -> str:
    return ref


def _cast(type_: str) -> Any:
    return lambda ref: f"CAST({ref} AS {type_})"


def plan_column(target: str, kind: str) -> ColumnPlan | None:
    """The conversion of a PostgreSQL value of `kind` into portable type `target`."""
    if target == "text":
        return ColumnPlan(_same if kind == "text" else _cast("text"))
    if target in _RANGE:
        if kind in ("int2", "int4") or (kind == "int8" and target == "bigint"):
            return ColumnPlan(_same)
        if kind == "int8":
            return ColumnPlan(_same, (_RANGE[target],))
        if kind in ("numeric", "float"):
            return ColumnPlan(_cast(target), (_INTEGRAL, _RANGE[target]))
        return ColumnPlan(_cast(target)) if kind == "bool" else None
    if target in ("numeric", "double"):
        if kind in _INTS:
            return ColumnPlan(_same)
        return ColumnPlan(_same, (_FINITE,)) if kind in ("numeric", "float") else None
    if target == "date":
        if kind == "date":
            return ColumnPlan(_same, (_DATE_RANGE,))
        if kind in ("timestamp", "timestamptz"):
            return ColumnPlan(_cast("date"), (_TIME_RANGE,))
        return None
    if target == "timestamp":
        if kind == "timestamp":
            return ColumnPlan(_same, (_TIME_RANGE,))
        if kind == "timestamptz":
            return ColumnPlan(_cast("timestamp"), (_TIME_RANGE,))
        return ColumnPlan(_cast("timestamp"), (_DATE_RANGE,)) if kind == "date" else None
    if kind == "bool":
        return ColumnPlan(_same)
    return ColumnPlan(lambda ref: f"({ref} <> 0)") if kind in _INTS else None


def _copy_rows(pgconn: Any, size: int) -> Iterator[Lines]:
    """The rows of a running COPY … TO STDOUT in blocks of `size`, then its final result.
    psycopg's `Copy.read()` runs a generator and a wait per row, which is most of this
    process's CPU at a million rows; a plain loop over libpq's non-blocking getter costs a
    third of that. Each COPY data message is exactly one row."""
    get_row = pgconn.get_copy_data
    readable = select.poll()  # not select(): a busy worker may hold descriptors past 1024
    readable.register(pgconn.socket, select.POLLIN)
    block: Lines = []
    while True:
        size_read, row = get_row(1)
        if size_read > 0:
            block.append(row)
            if len(block) >= size:
                yield block
                block = []
        elif size_read == 0:  # no whole row buffered yet: wait for the socket
            readable.poll()
            pgconn.consume_input()
        else:
            break
    if block:
        yield block
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            message = (result.error_message or pgconn.error_message).decode("utf-8", "replace")
            raise psycopg.DatabaseError(message)


class _ShortQueueWriter(QueuedLibpqWriter):
    """psycopg's queued COPY writer (a thread sends while the caller reads the source) with a
    short queue: psycopg's default holds up to 1024 chunks of 128 KB, which a slow target
    would let grow to 128 MB; 32 chunks keep the process's memory flat."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        super().__init__(cursor)
        self._queue: Queue[Any] = Queue(maxsize=32)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string literal (the session keeps standard_conforming_strings on)."""
    return "'" + text.replace("'", "''") + "'"


class PgSource(SqlSource):
    """Reads with COPY (SELECT …) TO STDOUT inside one REPEATABLE READ snapshot; each COPY
    data message is exactly one row, so rows pass through untouched."""

    def __init__(self, spec: SyncSpec, log: RejectLog) -> None:
        super().__init__(spec, log)
        self.dsn = connect.parse(spec.source_url)
        self.conn: psycopg.Connection[Any] | None = None

    def quote(self, name: str) -> str:
        return quote(name)

    def literal(self, text: str) -> str:
        return literal(text)

    def raw_text(self, ref: str) -> str:
        return f"CAST({ref} AS text)"

    def plan(self, column: Any, kind: str) -> ColumnPlan | None:
        return plan_column(column.type, kind)

    @property
    def connection(self) -> psycopg.Connection[Any]:
        assert self.conn is not None, "begin() first"
        return self.conn

    def connect(self) -> None:
        if self.conn is None:
            self.conn = connect.pg(self.dsn)

    def begin(self) -> None:
        self.connect()
        assert self.conn is not None
        with connect.translating("source", self.dsn):
            self.conn.isolation_level = IsolationLevel.REPEATABLE_READ
            self.conn.read_only = True
            self.make_plans()

    def probe(self) -> list[tuple[str, str]]:
        cur = self.connection.execute(f"SELECT * {self.from_clause} LIMIT 0")
        return [(d.name, KINDS.get(d.type_code, "other")) for d in cur.description or ()]

    def max_change(self) -> str | None:
        index = self.spec.change_index
        assert index is not None
        expr = self.plans[index].expr(f"max({self.ref(self.spec.names[index])})")
        with connect.translating("source", self.dsn):
            row = self.connection.execute(
                f"SELECT CAST({expr} AS text) {self.from_clause}"
            ).fetchone()
        return None if row is None else row[0]

    def stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        with (
            connect.translating("source", self.dsn),
            self.connection.cursor(name="govshare_rejects") as cur,
        ):
            cur.itersize = 2000
            cur.execute(sql)
            yield from cur

    def _copy_out(self, select: str) -> Iterator[Lines]:
        copy_out = f"COPY ({select}) TO STDOUT"
        with (
            connect.translating("source", self.dsn),
            self.connection.cursor().copy(copy_out),
        ):
            # psycopg started the COPY and, if this generator is left early, cancels it;
            # the rows themselves are read straight from libpq.
            yield from _copy_rows(self.connection.pgconn, self.block_rows)

    def rows(self, window: Any, *, ordered: bool = True) -> Iterator[Lines]:
        return self._copy_out(self.main_select(window, ordered=ordered))

    def keys(self) -> Iterator[Lines]:
        return self._copy_out(self.key_select())

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class PgTarget(Target):
    """Loads with COPY. A full run is one transaction from the load table's creation to the
    swap and the state row, so a run killed anywhere leaves the old table and state as they
    were; an incremental window (or batch) is one transaction of staging COPYs, upserts and
    the state row."""

    # A run just killed may hold the lock until its server process notices; wait that long.
    lock_wait = 10.0

    def __init__(self, spec: SyncSpec, log: RejectLog) -> None:
        super().__init__(spec, log)
        self.dsn = connect.parse(spec.target_url)
        self.conn: psycopg.Connection[Any] | None = None
        self.lock_name = f"govshare_sync:{spec.target_schema or ''}:{spec.state_name}"

    def quote(self, name: str) -> str:
        return quote(name)

    @property
    def connection(self) -> psycopg.Connection[Any]:
        assert self.conn is not None, "open() first"
        return self.conn

    def _ddl(self, table: str) -> str:
        cols = ", ".join(f"{quote(c.name)} {TYPES[c.type]}" for c in self.spec.columns)
        # A table kept up to date by upserts leaves room in each page, so an update can stay
        # in its page (a HOT update: no index entry, a fifth less WAL).
        room = " WITH (fillfactor = 90)" if self.spec.change_column else ""
        return f"CREATE TABLE {table} ({cols}){room}"

    def open(self) -> None:
        self.conn = connect.pg(self.dsn)
        with connect.translating("target", self.dsn):
            conn = self.conn
            conn.execute(f"SET lock_timeout = '{int(self.lock_wait * 1000)}ms'")
            try:
                conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (self.lock_name,))
            except psycopg.errors.LockNotAvailable:
                conn.rollback()
                raise SyncBusy(
                    f"同步任务“{self.spec.state_name}”正在运行，请等待其结束后再试"
                ) from None
            conn.execute("RESET lock_timeout")
            # Two first runs on a new target would race on IF NOT EXISTS (a unique violation
            # in the catalog): the schema and state table are made under one lock per database.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('govshare:ddl', 0))")
            if self.spec.target_schema:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.spec.target_schema)}")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.state_table} (name text PRIMARY KEY, "
                "target_table text NOT NULL, mode text NOT NULL, watermark text, "
                "watermark_key text, signature text NOT NULL, updated_at timestamp NOT NULL)"
            )
            conn.commit()

    def state(self) -> State | None:
        with connect.translating("target", self.dsn):
            state = self.read_state(self.connection.cursor())
            self.connection.commit()
        return state

    def exists(self) -> bool:
        with connect.translating("target", self.dsn):
            row = self.connection.execute("SELECT to_regclass(%s)", (self.table(),)).fetchone()
            self.connection.commit()
        return bool(row and row[0])

    def _write_state(self, cur: psycopg.Cursor[Any], state: State) -> None:
        cur.execute(
            f"INSERT INTO {self.state_table} (name, target_table, mode, watermark, "
            "watermark_key, signature, updated_at) VALUES (%s, %s, %s, %s, %s, %s, "
            "%s) ON CONFLICT (name) DO UPDATE SET "
            "target_table = EXCLUDED.target_table, mode = EXCLUDED.mode, "
            "watermark = EXCLUDED.watermark, watermark_key = EXCLUDED.watermark_key, "
            "signature = EXCLUDED.signature, updated_at = EXCLUDED.updated_at",
            self.state_values(state),
        )

    def replace(
        self, batches: Iterable[Lines], state: State, meanwhile: Callable[[], object]
    ) -> int:
        name = self.spec.target_table
        load_pkey = quote(f"{name}{LOAD_SUFFIX}_pkey")
        keys = self.column_list(self.spec.key)
        with connect.translating("target", self.dsn):
            cur = self.connection.cursor()
            cur.execute(_NO_FLUSH_WAIT)
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cur.execute(f"DROP TABLE IF EXISTS {self.load_table}")
            cur.execute(self._ddl(self.load_table))
            sent = 0
            # FREEZE (the table is new in this transaction): rows land frozen and hinted, so the
            # first incremental run after the swap does not rewrite every page it touches.
            load = f"COPY {self.load_table} ({self.column_list()}) FROM STDIN (FREEZE)"
            # A writer thread sends while this one reads the source.
            with cur.copy(load, writer=_ShortQueueWriter(cur)) as copy:
                for lines in batches:
                    copy.write(b"".join(lines))
                    sent += len(lines)
            add_key = (
                f"ALTER TABLE {self.load_table} ADD CONSTRAINT {load_pkey} PRIMARY KEY ({keys})"
            )
            sent -= beside(meanwhile, lambda: self._add_key(cur, add_key))
            cur.execute(f"DROP TABLE IF EXISTS {self.table()}")
            cur.execute(f"ALTER TABLE {self.load_table} RENAME TO {quote(name)}")
            cur.execute(
                f"ALTER TABLE {self.table()} RENAME CONSTRAINT {load_pkey} TO {quote(name + '_pkey')}"
            )
            self._write_state(cur, state)
            self.connection.commit()
        return sent

    def _add_key(self, cur: psycopg.Cursor[Any], add_key: str) -> int:
        """Adds the key, removing duplicates first if it fails; returns how many it removed."""
        cur.execute("SAVEPOINT govshare_key")
        try:
            cur.execute(add_key)
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT govshare_key")
            removed = self.dedupe(cur, self.load_table)
            cur.execute(add_key)
            return removed
        return 0

    def upsert(self, batches: Iterable[Lines], state: State) -> int:
        stage = quote("govshare_stage")
        others = [n for n in self.spec.names if n not in self.spec.key]
        action = (
            "DO UPDATE SET " + ", ".join(f"{quote(n)} = EXCLUDED.{quote(n)}" for n in others)
            if others
            else "DO NOTHING"
        )
        upsert = (
            f"INSERT INTO {self.table()} ({self.column_list()}) "
            f"SELECT {self.column_list()} FROM {stage} "
            f"ON CONFLICT ({self.column_list(self.spec.key)}) {action}"
        )
        written = 0
        with connect.translating("target", self.dsn):
            cur = self.connection.cursor()
            try:
                cur.execute(_NO_FLUSH_WAIT)
                cur.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {self.table()}) "
                    "ON COMMIT DELETE ROWS"
                )
                for lines in batches:
                    if written:
                        cur.execute(f"TRUNCATE {stage}")
                    with cur.copy(f"COPY {stage} ({self.column_list()}) FROM STDIN") as copy:
                        copy.write(b"".join(lines))
                    cur.execute(upsert)
                    written += len(lines)
                if written:
                    self._write_state(cur, state)
                self.connection.commit()
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    self.connection.rollback()
                raise
        return written

    def delete_absent(self, key_batches: Iterable[Lines]) -> int:
        keys = quote("govshare_keys")
        cols = ", ".join(f"{quote(c.name)} {TYPES[c.type]}" for c in self.spec.key_columns)
        with connect.translating("target", self.dsn):
            cur = self.connection.cursor()
            cur.execute(f"CREATE TEMPORARY TABLE {keys} ({cols}) ON COMMIT DROP")
            with cur.copy(f"COPY {keys} ({self.column_list(self.spec.key)}) FROM STDIN") as copy:
                for lines in key_batches:
                    copy.write(b"".join(lines))
            cur.execute(f"ANALYZE {keys}")
            cur.execute(
                f"DELETE FROM {self.table()} AS t WHERE NOT EXISTS "
                f"(SELECT 1 FROM {keys} AS k WHERE {self.key_match('k', 't')})"
            )
            deleted = cur.rowcount
            self.connection.commit()
        return deleted

    def close(self) -> None:
        """Rolls back, releases the lock at once (a closed connection's lock outlives the
        close until its server process exits) and disconnects."""
        if self.conn is not None:
            try:
                self.conn.rollback()
                self.conn.execute("SELECT pg_advisory_unlock_all()")
                self.conn.commit()
            except psycopg.Error:
                pass
            self.conn.close()
            self.conn = None
