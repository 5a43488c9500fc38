"""What every source and every target offers the run loop, and the parts they share: the
incremental window's SQL, the shape of a value check, the state row, and the removal of
duplicate keys after a full load."""

from __future__ import annotations

import abc
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from govshare.core import clock
from govshare.exchange.engine.copytext import display
from govshare.exchange.engine.model import (
    LOAD_SUFFIX,
    OLD_SUFFIX,
    STATE_TABLE,
    Rejected,
    RejectLog,
    State,
    SyncSpec,
    key_text,
    row_text,
)

T = TypeVar("T")
Lines = list[Any]  # COPY text lines (bytes or memoryview), each ending in a newline
BLOCK_ROWS = 1000


@dataclass(frozen=True)
class Window:
    """The rows an incremental run reads: change value past the watermark (and, on a tie, key
    past the watermark key), up to the source's maximum change value read at the start."""

    after: str | None
    after_key: tuple[str, ...] | None
    upto: str


@dataclass(frozen=True)
class Check:
    """A SQL condition a value must meet to be written; `reason` may use {value}."""

    sql: str
    reason: str


@dataclass(frozen=True)
class ColumnPlan:
    """How a source column becomes its target field: the select expression (a function of
    the column reference, so it can also wrap max()), and the checks it must pass."""

    expr: Callable[[str], str]
    checks: tuple[Check, ...] = ()


class Source(abc.ABC):
    """Reads one consistent snapshot of the source query as COPY text lines."""

    def __init__(self, spec: SyncSpec, log: RejectLog) -> None:
        self.spec = spec
        self.log = log

    @property
    def block_rows(self) -> int:
        """Rows per yielded block: small, so the target writes while the source still reads
        (the two databases and this process work in parallel), whatever the batch size."""
        return min(BLOCK_ROWS, self.spec.batch_rows)

    @abc.abstractmethod
    def connect(self) -> None:
        """Connects (once), without a snapshot yet: the run does it while the target opens."""

    @abc.abstractmethod
    def begin(self) -> None:
        """Opens the snapshot every later read sees (connecting first if need be)."""

    @abc.abstractmethod
    def max_change(self) -> str | None:
        """The largest change value, as the text the rows carry."""

    @abc.abstractmethod
    def rejects(self, window: Window | None) -> int:
        """Logs the rows the SQL checks keep out of `rows()`; returns how many."""

    @abc.abstractmethod
    def rows(self, window: Window | None, *, ordered: bool = True) -> Iterator[Lines]:
        """Blocks of valid rows; in (change, key) order when a window is given and `ordered`
        (unordered, a server need not sort the window before sending its first row)."""

    @abc.abstractmethod
    def keys(self) -> Iterator[Lines]:
        """Blocks of the key fields of every row whose key is usable."""

    @abc.abstractmethod
    def close(self) -> None:
        """Ends the snapshot and the connection."""

    def reject_row(self, values: Sequence[str | None], reason: str) -> None:
        """Logs one rejected row given its column texts."""
        keys = [values[i] for i in self.spec.key_indexes]
        self.log.add(Rejected(key_text(keys), reason, row_text(self.spec.names, values)))


class Target(abc.ABC):
    """Writes into the target database and keeps the sync's state row there."""

    placeholder = "%s"

    def __init__(self, spec: SyncSpec, log: RejectLog) -> None:
        self.spec = spec
        self.log = log

    @abc.abstractmethod
    def open(self) -> None:
        """Connects, takes the sync's lock, creates the schema and state table if missing."""

    @abc.abstractmethod
    def state(self) -> State | None:
        """The sync's state row, if any."""

    @abc.abstractmethod
    def exists(self) -> bool:
        """Whether the target table exists."""

    @abc.abstractmethod
    def replace(
        self, batches: Iterable[Lines], state: State, meanwhile: Callable[[], object]
    ) -> int:
        """Loads every block into a fresh table and swaps it in with `state`; returns the rows
        the new table holds (duplicates removed). `meanwhile` runs while the key is built,
        before anything commits; its failure aborts the load."""

    @abc.abstractmethod
    def upsert(self, batches: Iterable[Lines], state: State) -> int:
        """Upserts every batch (no key twice among them) and writes `state`, all in one
        transaction, applying each batch as it comes; returns the rows written. With no row
        at all it writes nothing, state included. A failure anywhere, in the iterable too,
        rolls the whole transaction back before it is raised."""

    @abc.abstractmethod
    def delete_absent(self, key_batches: Iterable[Lines]) -> int:
        """Deletes the target rows whose key is not among the given keys; returns how many."""

    @abc.abstractmethod
    def close(self) -> None:
        """Rolls back anything unfinished and disconnects."""

    # --- shared pieces -----------------------------------------------------------------

    @abc.abstractmethod
    def quote(self, name: str) -> str:
        """`name` quoted as an identifier of this dialect."""

    def table(self, suffix: str = "") -> str:
        """The qualified, quoted name of the target table (or its load / old sibling)."""
        name = self.quote(self.spec.target_table + suffix)
        schema = self.spec.target_schema
        return f"{self.quote(schema)}.{name}" if schema else name

    @property
    def load_table(self) -> str:
        return self.table(LOAD_SUFFIX)

    @property
    def old_table(self) -> str:
        return self.table(OLD_SUFFIX)

    @property
    def state_table(self) -> str:
        schema = self.spec.target_schema
        name = self.quote(STATE_TABLE)
        return f"{self.quote(schema)}.{name}" if schema else name

    def column_list(self, names: Iterable[str] | None = None) -> str:
        return ", ".join(self.quote(n) for n in (names or self.spec.names))

    def key_match(self, left: str, right: str) -> str:
        return " AND ".join(
            f"{left}.{self.quote(k)} = {right}.{self.quote(k)}" for k in self.spec.key
        )

    def state_values(self, state: State) -> tuple[str | None, ...]:
        """The state row's values, its update time last: the platform's clock in UTC, never
        the database server's, so the state agrees with the run that wrote it."""
        return (
            state.name,
            state.target_table,
            state.mode,
            state.watermark,
            state.watermark_key,
            state.signature,
            clock.now().strftime("%Y-%m-%d %H:%M:%S.%f"),
        )

    def read_state(self, cursor: Any) -> State | None:
        cursor.execute(
            "SELECT name, mode, watermark, watermark_key, signature, target_table "
            f"FROM {self.state_table} WHERE name = {self.placeholder}",
            (self.spec.state_name,),
        )
        row = cursor.fetchone()
        return None if row is None else State(*row)

    def dedupe(self, cursor: Any, table: str) -> int:
        """Removes duplicate keys from a freshly loaded table, keeping one row per key chosen
        by content alone (latest change value, then greatest row text), so the choice does
        not depend on load order; logs the others as 主键重复. Returns how many it removed."""
        keys = self.column_list(self.spec.key)
        where = " AND ".join(f"{self.quote(k)} = {self.placeholder}" for k in self.spec.key)
        marks = ", ".join([self.placeholder] * len(self.spec.columns))
        removed = 0
        while True:
            cursor.execute(
                f"SELECT {keys} FROM {table} GROUP BY {keys} HAVING COUNT(*) > 1 LIMIT 1000"
            )
            duplicated = cursor.fetchall()
            if not duplicated:
                return removed
            for key in duplicated:
                cursor.execute(f"SELECT {self.column_list()} FROM {table} WHERE {where}", key)
                rows = list(cursor.fetchall())
                keeper = max(rows, key=self._preference)
                cursor.execute(f"DELETE FROM {table} WHERE {where}", key)
                cursor.execute(
                    f"INSERT INTO {table} ({self.column_list()}) VALUES ({marks})", keeper
                )
                rows.remove(keeper)
                for row in rows:
                    texts = [display(v) for v in row]
                    keys_text = key_text([texts[i] for i in self.spec.key_indexes])
                    self.log.add(
                        Rejected(keys_text, "主键重复", row_text(self.spec.names, texts)),
                        duplicate=True,
                    )
                removed += len(rows)

    def _preference(self, row: Sequence[Any]) -> tuple[Any, ...]:
        index = self.spec.change_index
        change = None if index is None else row[index]
        number = isinstance(change, int | float) and not isinstance(change, bool)
        rank = (change is not None, 0 if number else 1, change if number else display(change) or "")
        return (*rank, json.dumps([display(v) for v in row], ensure_ascii=False))


def beside(meanwhile: Callable[[], object], work: Callable[[], T]) -> T:
    """Runs `meanwhile` in a thread while `work` runs here, and returns `work`'s result once
    both are done; an exception in either is raised here. The full load uses it to read the
    source's rejected rows while the target builds its key, two waits on two servers."""
    failure: list[BaseException] = []

    def side() -> None:
        try:
            meanwhile()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=side, name="govshare-sync-meanwhile")
    thread.start()
    try:
        result = work()
    finally:
        thread.join()
    if failure:
        raise failure[0]
    return result


def keyset(
    change: str, keys: Sequence[str], window: Window, literal: Callable[[str, int | None], str]
) -> str:
    """The SQL condition of an incremental window over column references `change`, `keys`;
    `literal(text, i)` renders a value of key column i (None: of the change column) and is
    called in the order the values appear in the text (SQLite binds `?` positionally). The
    redundant `change >= after` lets an index on the change column bound the scan."""
    parts = [f"{change} <= {literal(window.upto, None)}"]
    if window.after is not None:
        if window.after_key is None:
            parts.append(f"{change} > {literal(window.after, None)}")
        else:
            parts.append(f"{change} >= {literal(window.after, None)}")
            newer = f"{change} > {literal(window.after, None)}"
            same = f"{change} = {literal(window.after, None)}"
            tail = _key_after(keys, window.after_key, literal, 0)
            parts.append(f"({newer} OR ({same} AND ({tail})))")
    return " AND ".join(parts)


def _key_after(
    keys: Sequence[str], values: Sequence[str], literal: Callable[[str, int | None], str], i: int
) -> str:
    """Row-value `keys > values` spelt out, since MySQL does not use an index for the tuple form."""
    greater = f"{keys[i]} > {literal(values[i], i)}"
    if i + 1 == len(keys):
        return greater
    equal = f"{keys[i]} = {literal(values[i], i)}"
    return f"{greater} OR ({equal} AND ({_key_after(keys, values, literal, i + 1)}))"
