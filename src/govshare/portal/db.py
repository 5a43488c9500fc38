"""The portal's connection to its own database, and that database's schema.

The schema is the portal models' metadata plus the full-text parts the models leave out:
on SQLite an FTS5 table over `portal_dataset.terms` (kept in line by triggers), on PostgreSQL
a generated `tsvector` column with a GIN index; both match whole tokens only, the terms made by
`govshare.catalog.search_text`, so both databases find the same datasets. `ensure_schema`
creates what is missing; the publisher calls it before writing and the portal at start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from govshare.portal.models import SCHEMA_VERSION, PortalBase, PortalMeta

_SQLITE_FTS = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS portal_dataset_fts USING fts5(
        terms, title_terms, content='portal_dataset', content_rowid='id',
        tokenize='unicode61 remove_diacritics 0')""",
    """CREATE TRIGGER IF NOT EXISTS portal_dataset_fts_ai AFTER INSERT ON portal_dataset BEGIN
        INSERT INTO portal_dataset_fts(rowid, terms, title_terms)
        VALUES (new.id, new.terms, new.title_terms); END""",
    """CREATE TRIGGER IF NOT EXISTS portal_dataset_fts_ad AFTER DELETE ON portal_dataset BEGIN
        INSERT INTO portal_dataset_fts(portal_dataset_fts, rowid, terms, title_terms)
        VALUES ('delete', old.id, old.terms, old.title_terms); END""",
    """CREATE TRIGGER IF NOT EXISTS portal_dataset_fts_au AFTER UPDATE ON portal_dataset BEGIN
        INSERT INTO portal_dataset_fts(portal_dataset_fts, rowid, terms, title_terms)
        VALUES ('delete', old.id, old.terms, old.title_terms);
        INSERT INTO portal_dataset_fts(rowid, terms, title_terms)
        VALUES (new.id, new.terms, new.title_terms); END""",
]
_POSTGRES_FTS = [
    """ALTER TABLE portal_dataset ADD COLUMN IF NOT EXISTS terms_vector tsvector
        GENERATED ALWAYS AS (array_to_tsvector(string_to_array(terms, ' '))) STORED""",
    """CREATE INDEX IF NOT EXISTS ix_portal_dataset_terms_vector
        ON portal_dataset USING gin (terms_vector)""",
]


def _engine(url: str) -> Engine:
    """PostgreSQL as is; SQLite in WAL mode with pysqlite's default transactions, so that
    readers (the public) never wait for one another, only the publisher writes."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


class PortalDatabase:
    """The portal database at `url`: sqlite:///path or postgresql+psycopg://…"""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine: Engine = _engine(url)
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def ensure_schema(self) -> None:
        """Create the tables and full-text parts that are missing (idempotent)."""
        PortalBase.metadata.create_all(self.engine)
        with self.engine.begin() as connection:
            for statement in _SQLITE_FTS if self.dialect == "sqlite" else _POSTGRES_FTS:
                connection.exec_driver_sql(statement)

    def has_schema(self) -> bool:
        return sa.inspect(self.engine).has_table(PortalMeta.__tablename__)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success, rolled back on error."""
        with self._sessions() as db_session, db_session.begin():
            yield db_session

    def dispose(self) -> None:
        self.engine.dispose()


def current_version(db_session: Session) -> int | None:
    meta = db_session.get(PortalMeta, 1)
    return None if meta is None else meta.schema_version


__all__ = ["SCHEMA_VERSION", "PortalDatabase", "current_version"]
