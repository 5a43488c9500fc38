"""Database: declarative base, engines for SQLite and PostgreSQL, and the unit of work.

The request, CLI command or job owns the transaction (`unit_of_work`): services only
`flush()`. A transaction that changed an audited table without writing an audit entry is
refused at commit (`AuditMissing`), so "every change is audited" holds by construction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Engine, Enum, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from govshare.core import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use govshare.core.clock.now()")
        return clock.as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else clock.as_utc(value)


def str_enum(enum: type[StrEnum], length: int) -> Enum:
    """Stored as its value in a VARCHAR (no database enum to migrate), read back as the enum."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    """Base of every table. Set `__audit_exempt__ = True` only on bookkeeping tables whose
    rows are not business facts (e.g. a session's last-seen time)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    __audit_exempt__ = False


class AuditMissing(RuntimeError):
    """A transaction changed audited data but wrote no audit entry: a programming error."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings each database needs for correctness."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take control of BEGIN.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two processes never deadlock on an
        # upgrade from read to write (SQLite's SQLITE_BUSY_SNAPSHOT).
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that never expire loaded objects on commit (pages render after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextlib.contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@event.listens_for(Session, "after_flush")
def _track_writes(session: Session, _flush_context: Any) -> None:
    from govshare.core.audit.models import AuditEntry

    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, AuditEntry):
            session.info["audited"] = True
        elif not getattr(obj, "__audit_exempt__", False) and (
            obj in session.new or obj in session.deleted or session.is_modified(obj)
        ):
            session.info.setdefault("unaudited", set()).add(type(obj).__name__)


@event.listens_for(Session, "before_commit")
def _require_audit(session: Session) -> None:
    session.flush()
    unaudited = session.info.get("unaudited")
    audited = session.info.get("audited") or session.info.get("audit_pending")
    if unaudited and not audited:
        # Tracking stays until rollback, so retrying the commit cannot slip the change in.
        raise AuditMissing(f"change to {sorted(unaudited)} without an audit entry")


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _reset_tracking(session: Session) -> None:
    session.info.pop("unaudited", None)
    session.info.pop("audited", None)
