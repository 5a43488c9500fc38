"""Run locks (运行锁): the proof that a running sync's process is alive.

A run's row says "running" only as long as someone says otherwise; a process killed with
SIGKILL never does. So the process executing a run holds a lock on its binding (or push)
for the whole run, of a kind the operating system or the database server releases the
moment the process dies:

- on PostgreSQL a session-level advisory lock (`pg_try_advisory_lock`) taken on a
  connection of its own, released by the server when that connection's process goes;
- on SQLite an exclusive `flock` on one file per binding or push, in a folder beside the
  platform database (the data directory), released by the kernel when the file closes.

Whoever finds a "running" run asks `is_held`: a free lock means its owner is dead, and the
run can be failed and started again at once; a held lock means a live process has it.
The lock is taken before the run is claimed and released after its end is committed, so a
run seen "running" with a free lock is never a live one.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

# The first key of the two-key advisory lock names what the second one counts ("gs" + kind),
# so the platform's locks never collide with another program's on the same database.
_PG_NAMESPACE = {"binding": 0x6773_0001, "push": 0x6773_0002}
_ACQUIRE_SECONDS = 2.0  # a probe holds a SQLite lock for a moment: try again that long
_local_lock = threading.Lock()
_local_held: set[tuple[str, str]] = set()  # in-memory SQLite: the lock is the process's own


@dataclass(frozen=True)
class Target:
    """What a run moves data for: one binding (into the center) or one push."""

    kind: str  # "binding" or "push"
    id: int

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.id}"


def target_of(*, binding_id: int | None, push_id: int | None) -> Target:
    if binding_id is not None:
        return Target("binding", binding_id)
    assert push_id is not None
    return Target("push", push_id)


@dataclass(frozen=True)
class HeldLock:
    """A lock this process holds: `release` gives it back, `check` raises if it was lost
    (the connection holding it broke)."""

    release: Callable[[], None]
    check: Callable[[], None]


def acquire(bind: Engine | Connection, target: Target) -> HeldLock | None:
    """Takes the target's lock for this process, or returns None when a live process holds
    it. `bind` names the platform database (its engine, or a connection of it)."""
    engine = bind.engine
    deadline = time.monotonic() + _ACQUIRE_SECONDS
    while True:
        held = _try_acquire(engine, target)
        if held is not None or time.monotonic() >= deadline:
            return held
        time.sleep(0.05)


def is_held(db_session: Session, target: Target) -> bool:
    """Whether a live process holds the target's lock (asked without taking it on PostgreSQL;
    on SQLite by taking and dropping it at once)."""
    bind = db_session.get_bind()
    engine = bind.engine
    if engine.dialect.name == "postgresql":
        query = text(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = :space AND objid = :id AND objsubid = 2"
        )
        found = db_session.execute(query, {"space": _PG_NAMESPACE[target.kind], "id": target.id})
        return found.first() is not None
    folder = _lock_folder(engine)
    if folder is None:
        with _local_lock:
            return (str(engine.url), target.name) in _local_held
    path = folder / f"{target.name}.lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken here
    return False


@contextlib.contextmanager
def holding(bind: Engine | Connection, target: Target) -> Iterator[HeldLock | None]:
    """The target's lock for the block, or None when a live process holds it."""
    held = acquire(bind, target)
    try:
        yield held
    finally:
        if held is not None:
            held.release()


# --- inside --------------------------------------------------------------------------------


def _try_acquire(engine: Engine, target: Target) -> HeldLock | None:
    if engine.dialect.name == "postgresql":
        return _pg_acquire(engine, target)
    folder = _lock_folder(engine)
    if folder is None:
        return _local_acquire(engine, target)
    return _file_acquire(folder, target)


@functools.cache
def _unpooled(url: str) -> Engine:
    """Lock connections are opened apart from the platform's pool: a worker running many
    runs at once would otherwise hold a pooled connection per run and starve its requests."""
    return create_engine(url, poolclass=NullPool)


def _pg_acquire(engine: Engine, target: Target) -> HeldLock | None:
    # A connection of its own in autocommit: the lock outlives transactions, and the
    # connection never sits idle in one for the length of a run.
    locks = _unpooled(engine.url.render_as_string(hide_password=False))
    conn = locks.connect().execution_options(isolation_level="AUTOCOMMIT")
    keys = {"space": _PG_NAMESPACE[target.kind], "id": target.id}
    try:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:space, :id)"), keys).scalar_one()
    except Exception:
        conn.close()
        raise
    if not got:
        conn.close()
        return None

    def check() -> None:
        conn.execute(text("SELECT 1")).scalar_one()

    def release() -> None:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:space, :id)"), keys)
        except Exception:
            conn.invalidate()  # the server ends the session, and its locks with it
        finally:
            conn.close()

    return HeldLock(release, check)


def _lock_folder(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).resolve()
    return path.with_name(f"{path.name}-locks")


def _file_acquire(folder: Path, target: Target) -> HeldLock | None:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{target.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None

    def release() -> None:
        os.close(fd)

    return HeldLock(release, lambda: None)


def _local_acquire(engine: Engine, target: Target) -> HeldLock | None:
    key = (str(engine.url), target.name)
    with _local_lock:
        if key in _local_held:
            return None
        _local_held.add(key)

    def release() -> None:
        with _local_lock:
            _local_held.discard(key)

    return HeldLock(release, lambda: None)
