"""The portal's connection to its own database, and that database's schema.

The schema is the portal models' metadata plus what the models leave out: the search
generation, a counter that triggers raise on every change to datasets, their tags and
organizations, by which each portal process knows whether its in-memory search index
(`portal.search_index`) is current. `ensure_schema` creates what is missing; the publisher
calls it before writing and the portal at start.
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

# The full-text parts earlier versions kept in the database (search now runs on the
# in-memory index), dropped so that writes no longer pay for them.
_SQLITE_EARLIER = [
    *(f"DROP TRIGGER IF EXISTS portal_dataset_fts_{t}" for t in ("ai", "ad", "au")),
    "DROP TABLE IF EXISTS portal_dataset_fts",
]
_POSTGRES_EARLIER = [
    "DROP INDEX IF EXISTS ix_portal_dataset_terms_vector",
    "ALTER TABLE portal_dataset DROP COLUMN IF EXISTS terms_vector",
]

# A counter raised by every change to what search reads (datasets, their tags, organizations),
# by which each portal process knows its search index (`portal.search_index`) is current.
_INDEXED_TABLES = ("portal_dataset", "portal_dataset_tag", "portal_organization")
_SQLITE_GENERATION = [
    """CREATE TABLE IF NOT EXISTS portal_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)""",
    "INSERT OR IGNORE INTO portal_generation (id, value) VALUES (1, 0)",
    *(
        f"""CREATE TRIGGER IF NOT EXISTS portal_generation_{table}_{event.lower()}
        AFTER {event} ON {table} BEGIN
        UPDATE portal_generation SET value = value + 1 WHERE id = 1; END"""
        for table in _INDEXED_TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
]
_POSTGRES_GENERATION = [
    """CREATE TABLE IF NOT EXISTS portal_generation (
        id integer PRIMARY KEY CHECK (id = 1), value bigint NOT NULL)""",
    "INSERT INTO portal_generation (id, value) VALUES (1, 0) ON CONFLICT DO NOTHING",
    """CREATE OR REPLACE FUNCTION portal_generation_raise() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN
        UPDATE portal_generation SET value = value + 1 WHERE id = 1; RETURN NULL; END $$""",
    *(
        f"""CREATE OR REPLACE TRIGGER portal_generation_{table}
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION portal_generation_raise()"""
        for table in _INDEXED_TABLES
    ),
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
        """Create the tables, the generation counter and its triggers where missing
        (idempotent)."""
        PortalBase.metadata.create_all(self.engine)
        with self.engine.begin() as connection:
            sqlite = self.dialect == "sqlite"
            for statement in [
                *(_SQLITE_EARLIER if sqlite else _POSTGRES_EARLIER),
                *(_SQLITE_GENERATION if sqlite else _POSTGRES_GENERATION),
            ]:
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
