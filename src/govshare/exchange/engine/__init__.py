"""Table synchronisation engine of the exchange (数据交换同步引擎): moves population-sized
tables between PostgreSQL, MariaDB/MySQL and SQLite exactly once, streaming COPY text.

A library: it knows nothing of the platform's models. The platform builds a `SyncSpec`, calls
`run_full`, `run_incremental` or `run_compare_keys` from a worker job, and records the
`SyncOutcome`. The watermark of each sync lives in the target's `govshare_sync_state` table,
written in the same transaction as the rows it covers, so a run killed at any point and
started again leaves the target equal to the source.
"""

from govshare.exchange.engine.connect import test_connection
from govshare.exchange.engine.introspect import list_columns
from govshare.exchange.engine.model import (
    PORTABLE_TYPES,
    STATE_TABLE,
    Cancelled,
    Column,
    ConnectionFailed,
    EngineError,
    Rejected,
    SourceFailed,
    SyncBusy,
    SyncOutcome,
    SyncSpec,
    TargetFailed,
    TypeMismatch,
)
from govshare.exchange.engine.sync import run_compare_keys, run_full, run_incremental

__all__ = [
    "PORTABLE_TYPES",
    "STATE_TABLE",
    "Cancelled",
    "Column",
    "ConnectionFailed",
    "EngineError",
    "Rejected",
    "SourceFailed",
    "SyncBusy",
    "SyncOutcome",
    "SyncSpec",
    "TargetFailed",
    "TypeMismatch",
    "list_columns",
    "run_compare_keys",
    "run_full",
    "run_incremental",
    "test_connection",
]
