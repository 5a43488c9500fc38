"""What a table sync is asked to do and what it reports back: plain values, no ORM.

The platform builds a `SyncSpec` from a grant (projection, filter and masking compiled into
`source_query`), runs it from a worker job and records the `SyncOutcome`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field

PORTABLE_TYPES = ("text", "integer", "bigint", "numeric", "double", "date", "timestamp", "boolean")
CHANGE_TYPES = ("integer", "bigint", "numeric", "date", "timestamp")
STATE_TABLE = "govshare_sync_state"
LOAD_SUFFIX = "__load"
OLD_SUFFIX = "__old"
MAX_TABLE_NAME = 48  # leaves room for the __load / _pkey suffixes under PostgreSQL's 63
REJECTS_KEPT = 1000
ROW_TEXT_LIMIT = 500

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_identifier(name: str, *, what: str, limit: int = 63) -> str:
    """Returns `name` if it is a plain SQL identifier; every identifier is quoted anyway, this
    keeps names portable across the three dialects and out of injection territory."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name) or len(name) > limit:
        raise ValueError(
            f"{what} {name!r} is not a valid identifier: use letters, digits and _ "
            f"(not starting with a digit), at most {limit} characters"
        )
    return name


def split_table(name: str, *, what: str) -> tuple[str | None, str]:
    """`schema.table` or `table`, each part validated."""
    parts = name.split(".") if isinstance(name, str) else [name]
    if len(parts) == 1:
        return None, check_identifier(parts[0], what=what)
    if len(parts) == 2:
        return check_identifier(parts[0], what=what), check_identifier(parts[1], what=what)
    raise ValueError(f"{what} {name!r} must be table or schema.table")


@dataclass(frozen=True)
class Column:
    """A column as both ends see it; `type` is a portable name each dialect maps to its own."""

    name: str
    type: str

    def __post_init__(self) -> None:
        check_identifier(self.name, what="column")
        if self.type not in PORTABLE_TYPES:
            raise ValueError(
                f"column {self.name!r} has type {self.type!r}; expected one of {PORTABLE_TYPES}"
            )


@dataclass(frozen=True)
class SyncSpec:
    """One table sync. `change_column` must be one of `columns` (the engine filters on the
    source query's output, so masking and projection stay in one place)."""

    source_url: str
    source_query: str | None
    source_table: str
    target_url: str
    target_schema: str | None
    target_table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    change_column: str | None
    state_name: str
    batch_rows: int = 50_000

    def __post_init__(self) -> None:
        split_table(self.source_table, what="source table")
        if self.target_schema is not None:
            check_identifier(self.target_schema, what="target schema")
        check_identifier(self.target_table, what="target table", limit=MAX_TABLE_NAME)
        if self.target_table.startswith(STATE_TABLE):
            raise ValueError(f"target table {self.target_table!r} clashes with the state table")
        if not self.columns:
            raise ValueError("a sync needs at least one column")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate column names in {names}")
        if not self.key:
            raise ValueError("a sync needs a key (one or more columns)")
        for k in self.key:
            if k not in names:
                raise ValueError(f"key column {k!r} is not one of the columns")
        if len(set(self.key)) != len(self.key):
            raise ValueError(f"duplicate key columns in {self.key}")
        if self.change_column is not None:
            if self.change_column not in names:
                raise ValueError(f"change column {self.change_column!r} is not one of the columns")
            if self.column(self.change_column).type not in CHANGE_TYPES:
                raise ValueError(
                    f"change column {self.change_column!r} must be of type {CHANGE_TYPES}"
                )
        if not self.state_name or len(self.state_name) > 190:
            raise ValueError("state_name must be 1 to 190 characters")
        if self.batch_rows < 1:
            raise ValueError("batch_rows must be positive")
        if self.source_query is not None and not self.source_query.strip():
            raise ValueError("source_query is empty")

    def column(self, name: str) -> Column:
        """The column called `name`."""
        return next(c for c in self.columns if c.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def key_indexes(self) -> tuple[int, ...]:
        return tuple(self.names.index(k) for k in self.key)

    @property
    def change_index(self) -> int | None:
        return None if self.change_column is None else self.names.index(self.change_column)

    @property
    def key_columns(self) -> tuple[Column, ...]:
        return tuple(self.column(k) for k in self.key)

    @property
    def signature(self) -> str:
        """What the target table's shape depends on; a change forces the next run to be full."""
        shape = [self.target_table, [[c.name, c.type] for c in self.columns], list(self.key)]
        shape.append(self.change_column)
        return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Rejected:
    """A source row that was not written, with the reason in words a clerk understands."""

    key: str
    reason: str
    row: str


@dataclass
class SyncOutcome:
    """What one run did. `checksum` is the order-independent digest described in
    `copytext.Checksum`: the rows that passed the value checks and were sent to the target."""

    mode: str
    rows_read: int = 0
    rows_written: int = 0
    rows_deleted: int = 0
    rows_rejected: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    checksum: str = ""
    watermark_before: str | None = None
    watermark_after: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class State:
    """The row of the target's state table for one sync; written with the data it covers."""

    name: str
    mode: str
    watermark: str | None
    watermark_key: str | None  # JSON list of the last row's key values, or None after a full run
    signature: str
    target_table: str

    @property
    def key_values(self) -> tuple[str, ...] | None:
        return None if self.watermark_key is None else tuple(json.loads(self.watermark_key))


class RejectLog:
    """Counts every rejected row and keeps the first `REJECTS_KEPT` of them. Duplicates are
    counted apart: they were read and sent like any row and dropped only afterwards."""

    def __init__(self) -> None:
        self.count = 0
        self.duplicates = 0
        self.kept: list[Rejected] = []
        self._lock = threading.Lock()  # the source's rejects are read beside the key build

    def clear(self) -> None:
        """Forgets everything logged so far (a run that starts its window again)."""
        with self._lock:
            self.count = 0
            self.duplicates = 0
            self.kept = []

    def add(self, rejected: Rejected, *, duplicate: bool = False) -> None:
        with self._lock:
            self.count += 1
            self.duplicates += duplicate
            if len(self.kept) < REJECTS_KEPT:
                self.kept.append(rejected)


def row_text(names: tuple[str, ...], values: list[str | None] | tuple[str | None, ...]) -> str:
    """A rejected row as `{"column": "value", …}`, cut to a readable length."""
    text = json.dumps(dict(zip(names, values, strict=False)), ensure_ascii=False)
    return text if len(text) <= ROW_TEXT_LIMIT else text[: ROW_TEXT_LIMIT - 1] + "…"


def key_text(values: list[str | None] | tuple[str | None, ...]) -> str:
    """A key for display: the values joined by commas; a NULL part shows as empty."""
    return ",".join("" if v is None else v for v in values)


class EngineError(Exception):
    """Base of every failure the engine reports; `message` is Chinese and fit for a clerk,
    `detail` is the driver's own text (never with a password) for the operator's log."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ConnectionFailed(EngineError):
    """The database could not be reached or refused the credentials."""


class SourceFailed(EngineError):
    """Reading the source failed (bad query, missing table, lost connection)."""


class TargetFailed(EngineError):
    """Writing the target failed."""


class TypeMismatch(EngineError):
    """A source column cannot be converted to the declared portable type."""


class SyncBusy(EngineError):
    """Another run of the same sync holds its lock."""


class Cancelled(EngineError):
    """The caller's `cancel()` said stop; nothing of the unfinished batch was kept."""
