"""The embedded SQLite database (内置数据库) in the data directory, seen without SQLAlchemy: where
it is, whether it has been migrated, and read-only questions to it. Commands that start often
and only read (`govshare workdays add`) use this instead of the runtime's engine."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govshare.core.settings import Settings


def database_file(settings: Settings) -> Path | None:
    """The SQLite file in the data directory, when the platform runs on its embedded database
    (no GOVSHARE_DATABASE_URL); None for any database the operator configured."""
    path = settings.data_dir / "govshare.db"
    return path if settings.database_url == f"sqlite:///{path}" else None


def has_schema(path: Path) -> bool:
    """Whether the SQLite file has been migrated."""
    if not path.exists():
        return False
    with reading(path) as conn:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
    return found is not None


@contextlib.contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the file, waiting like the platform's own for a writer."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        yield conn
    finally:
        conn.close()
