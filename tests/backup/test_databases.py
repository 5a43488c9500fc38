"""A database is copied as the moment its snapshot was taken, while the platform goes on
writing: SQLite through the backup API in a held read transaction, PostgreSQL through pg_dump
on an exported snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from govshare.backup.databases import (
    Place,
    PostgresSnapshot,
    SqliteSnapshot,
    connected,
    restore_postgres,
    row_counts,
)
from govshare.core.db import make_engine
from tests.backup.conftest import drop_postgres_database, postgres_database
from tests.conftest import BACKENDS

CREATE = "CREATE TABLE register (id integer PRIMARY KEY, name text)"


def _insert(engine: sa.Engine, start: int, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO register (id, name) VALUES (:id, :name)"),
            [{"id": i, "name": f"登记{i}"} for i in range(start, start + count)],
        )


def test_a_sqlite_copy_is_the_moment_its_snapshot_was_taken(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    engine = make_engine(f"sqlite:///{live}")  # WAL, as the platform opens it
    with engine.begin() as conn:
        conn.execute(sa.text(CREATE))
    _insert(engine, 0, 5000)
    snapshot = SqliteSnapshot(live)
    copied_at: list[tuple[int, int | None]] = []
    try:
        _insert(engine, 5000, 100)  # the platform writes on, unhindered
        snapshot.copy_to(tmp_path / "copy.db", lambda done, total: copied_at.append((done, total)))
    finally:
        snapshot.close()
    _insert(engine, 5100, 100)
    engine.dispose()
    place = Place(f"sqlite:///{tmp_path / 'copy.db'}")
    with connected(place.url) as conn:
        assert row_counts(conn, place) == {"register": 5000}
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
    assert copied_at and copied_at[-1][0] == copied_at[-1][1]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == ["copy.db"]


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL is not under test")
def test_a_postgresql_dump_is_the_moment_its_snapshot_was_taken(tmp_path: Path) -> None:
    source, restored = postgres_database("bk_live"), postgres_database("bk_live_to")
    engine = sa.create_engine(source, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(CREATE))
        _insert(engine, 0, 500)
        snapshot = PostgresSnapshot(source)
        try:
            _insert(engine, 500, 100)  # committed after the snapshot: not in the dump
            place = Place(source)
            counted = row_counts(snapshot.connection, place)
            snapshot.dump(place, tmp_path / "live.dump", lambda done, total: None, len(counted))
        finally:
            snapshot.close()
        assert counted == {"public.register": 500}
        restore_postgres(tmp_path / "live.dump", Place(restored), lambda d, t: None, 1)
        with connected(restored) as conn:
            assert row_counts(conn, Place(restored)) == {"public.register": 500}
    finally:
        engine.dispose()
        drop_postgres_database(source)
        drop_postgres_database(restored)
