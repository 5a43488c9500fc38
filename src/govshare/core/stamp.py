"""The cache stamp (缓存版本戳): one row whose value changes in the same transaction as every
change to the facts the hot paths keep in memory (grants, API tokens, resources and their
versions, table bindings, objections), so each process can keep those facts between
requests and still see a change on the next request after it commits.

A hot path reads the stamp once per request (one read of a one-row table by its primary
key) and uses what it cached under the same stamp; a different stamp empties the cache.

The stamp is a random 63-bit value, not a counter: a rolled-back transaction or a database
restored from a backup brings back an older value, and a counter would then meet a value
this process already cached other facts under; a random value is never met twice.

Writers do nothing: a session event bumps the stamp when a flush inserts, deletes or
changes a watched mapped class (bookkeeping columns such as a token's last-used time
excepted), and when an ORM-enabled bulk UPDATE or DELETE targets one. A change made with
plain SQL on the connection is not seen, so none of the watched tables is written that way.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import BigInteger, Engine, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from govshare.core.db import Base

STAMP_ID = 1
_T = TypeVar("_T")


class CacheStamp(Base):
    """The one row whose value every change to a cached fact replaces."""

    __tablename__ = "cache_stamp"
    __audit_exempt__ = True  # bookkeeping: the change it marks is audited itself

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


_TABLE = CacheStamp.__table__
_READ = sa.select(_TABLE.c.version).where(_TABLE.c.id == STAMP_ID)
_BUMP = sa.update(_TABLE).where(_TABLE.c.id == STAMP_ID).values(version=sa.bindparam("v"))

# Watched mapped classes → the column attributes whose change does not count.
_WATCHED: dict[type, frozenset[str]] = {}


def watch(cls: type, *, ignore: frozenset[str] = frozenset()) -> None:
    """Changes to `cls` (except to the `ignore` attributes alone) bump the stamp."""
    _WATCHED[cls] = ignore


def new_value() -> int:
    return secrets.randbits(63)


CURRENT = "cache_stamp"  # session.info: the stamp this transaction read


def bump(db_session: Session) -> None:
    """A new stamp, in the session's transaction: other processes drop their caches once it
    commits."""
    db_session.connection().execute(_BUMP, {"v": new_value()})
    db_session.info.pop(CURRENT, None)


def current(db_session: Session) -> int | None:
    """The stamp, read once per transaction: a request's token, grant and binding are all
    taken from the caches under the one value read when the request began."""
    try:
        return db_session.info[CURRENT]
    except KeyError:
        value = db_session.info[CURRENT] = read(db_session)
        return value


def read(db_session: Session) -> int | None:
    """The stamp now; on the session's connection (Session.execute's hooks cost more). None
    when the row is missing (a schema not made by the migrations): then nothing is cached."""
    return db_session.connection().execute(_READ).scalar()


def _counts(obj: Any, session: Session) -> bool:
    ignore = _WATCHED.get(type(obj))
    if ignore is None:
        return False
    if obj in session.new or obj in session.deleted:
        return True
    state = sa.inspect(obj)
    return any(
        attr.key not in ignore and state.attrs[attr.key].history.has_changes()
        for attr in state.mapper.column_attrs
    )


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(CURRENT, None)


@event.listens_for(Session, "after_flush")
def _bump_on_flush(session: Session, _flush_context: Any) -> None:
    if not _WATCHED:
        return
    if any(_counts(obj, session) for obj in (*session.new, *session.dirty, *session.deleted)):
        bump(session)


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return
    cls = state.bind_mapper.class_
    if cls not in _WATCHED:
        return
    if state.is_update:
        values = getattr(state.statement, "_values", None) or {}
        keys = {getattr(k, "key", k) for k in values}
        if keys and keys <= _WATCHED[cls]:
            return
    bump(state.session)


class StampedCache:
    """Values computed from the database, kept while the stamp stays the same: `get` gives
    the value cached under this stamp or loads it (after the stamp was read, so the value is
    at least as new as the stamp) and keeps it. Safe for the threads of one process."""

    def __init__(self, maxsize: int = 10_000) -> None:
        self.maxsize = maxsize
        self._state: tuple[int, dict[Hashable, Any]] = (-1, {})
        self._lock = threading.Lock()

    def get(self, stamp: int | None, key: Hashable, load: Callable[[], _T]) -> _T:
        if stamp is None:
            return load()
        version, values = self._state
        if version != stamp:
            with self._lock:
                if self._state[0] != stamp:
                    self._state = (stamp, {})
                version, values = self._state
        try:
            return values[key]
        except KeyError:
            pass
        value = load()
        if len(values) >= self.maxsize:
            values.clear()
        values[key] = value
        return value


_caches: weakref.WeakKeyDictionary[Engine, dict[str, StampedCache]] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(db_session: Session, name: str) -> StampedCache:
    """The process's cache `name` for the database this session works on (tests run several
    databases in one process; each has its own stamp)."""
    bind = db_session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    per_engine = _caches.get(engine)
    if per_engine is None:
        with _caches_lock:
            per_engine = _caches.setdefault(engine, {})
    found = per_engine.get(name)
    if found is None:
        with _caches_lock:
            found = per_engine.setdefault(name, StampedCache())
    return found
