"""One database as a part of a backup: where it is, a snapshot held while it is copied, its
row counts, whether a restore target is empty, and the way back.

A live database is never copied as files. SQLite is read through its online backup API
inside a read transaction opened before the copy starts, so the copy is one moment of the
database (a WAL reader's snapshot) while the platform goes on writing. PostgreSQL is dumped
by the server's own `pg_dump` (custom format) on a snapshot exported by a transaction of
ours (`pg_export_snapshot`): its row counts are read in that transaction, so they are the
dump's, and the platform and a center in the same database share one snapshot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from govshare.core.errors import Conflict, DomainError, Invalid

SQLITE_PAGES_PER_STEP = 4096  # pages copied between progress reports (16 MB at 4 KB pages)
# Schemas of the server itself (pg_catalog, pg_toast, temporary schemas, information_schema).
USER_SCHEMAS = "n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_'"
Advance = Callable[[int, int | None], None]  # (done, total)


class BackupFailed(DomainError):
    """A backup or restore could not be completed (a tool failed, a check did not pass)."""

    status = 500
    kind = "backup-failed"
    title = "备份或恢复未完成"


@dataclass(frozen=True)
class Place:
    """Where a database part lives: a SQLite file, or a PostgreSQL database — all of it, only
    `schema` (the center), or all but `exclude` (the platform beside a center in its database)."""

    url: str  # a SQLAlchemy URL
    schema: str | None = None
    exclude: str | None = None

    @property
    def kind(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    @property
    def path(self) -> Path:
        return Path(make_url(self.url).database or "")

    @property
    def shown(self) -> str:
        """The place as messages name it (never with a password)."""
        if self.kind == "sqlite":
            return str(self.path)
        where = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=True)
        return f"{where}（模式 {self.schema}）" if self.schema else where

    def database(self) -> tuple[Any, ...]:
        """What tells two places in the same database apart from two databases."""
        if self.kind == "sqlite":
            return ("sqlite", os.path.realpath(self.path))
        url = make_url(self.url)
        return ("postgresql", url.host or "", url.port or 5432, url.database)


def postgres_url(url: str) -> str:
    """A postgresql:// URL as the platform's engines take it (psycopg 3)."""
    return (
        "postgresql+psycopg://" + url.removeprefix("postgresql://")
        if url.startswith("postgresql://")
        else url
    )


def _engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        path = make_url(url).database
        # Read only, through a URI, so that reading a copy leaves no journal beside it.
        return sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", poolclass=NullPool)
    return sa.create_engine(url, poolclass=NullPool)


@contextlib.contextmanager
def connected(url: str) -> Iterator[Connection]:
    """A short-lived connection (no pool left behind)."""
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


# --- row counts ---------------------------------------------------------------------------


def tables(connection: Connection, place: Place) -> list[str]:
    """The place's tables: plain names on SQLite (virtual tables left out, their shadow tables
    holding their rows), `schema.table` on PostgreSQL."""
    if place.kind == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
        )
        return [name for (name,) in rows]
    query = (
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        f" WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS}"
    )
    params: dict[str, str] = {}
    if place.schema:
        query += " AND n.nspname = :schema"
        params["schema"] = place.schema
    if place.exclude:
        query += " AND n.nspname <> :exclude"
        params["exclude"] = place.exclude
    rows = connection.execute(sa.text(query + " ORDER BY 1, 2"), params)
    return [f"{schema}.{name}" for schema, name in rows]


def quoted(connection: Connection, table: str) -> str:
    preparer = connection.dialect.identifier_preparer
    return ".".join(preparer.quote_identifier(piece) for piece in table.split(".", 1))


def row_counts(
    connection: Connection, place: Place, advance: Advance | None = None
) -> dict[str, int]:
    """Rows per table, read in the connection's transaction."""
    names = tables(connection, place)
    counts = {}
    for done, name in enumerate(names, 1):
        counts[name] = connection.exec_driver_sql(
            f"SELECT count(*) FROM {quoted(connection, name)}"
        ).scalar_one()
        if advance:
            advance(done, len(names))
    return counts


def counts_at(place: Place) -> dict[str, int]:
    with connected(place.url) as connection:
        return row_counts(connection, place)


# --- snapshots ----------------------------------------------------------------------------


class SqliteSnapshot:
    """A SQLite database held at one moment: a read transaction opened now and kept until
    `close`, through which `copy_to` reads (SQLite's backup API uses the open transaction, so
    the copy is this moment however long it takes and however much the platform writes)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(path)
        self._connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._connection.execute("BEGIN")
        self._connection.execute("SELECT count(*) FROM sqlite_master").fetchone()

    def copy_to(self, target: Path, advance: Advance) -> None:
        """Writes the snapshot to `target`, a database file on its own (rollback journal, so
        that reading it later leaves nothing beside it)."""
        copy = sqlite3.connect(target, isolation_level=None)
        try:
            self._connection.backup(
                copy,
                pages=SQLITE_PAGES_PER_STEP,
                progress=lambda _status, remaining, total: advance(total - remaining, total),
            )
            copy.execute("PRAGMA journal_mode=DELETE").fetchone()
        finally:
            copy.close()
        os.chmod(target, 0o600)

    def close(self) -> None:
        self._connection.execute("ROLLBACK")
        self._connection.close()


class PostgresSnapshot:
    """A PostgreSQL database held at one moment: a repeatable-read, read-only transaction
    that exported its snapshot for `pg_dump`, kept open until `close`. `connection` reads in
    it (row counts, the platform's facts)."""

    def __init__(self, url: str) -> None:
        self._engine = sa.create_engine(url, poolclass=NullPool)
        self.url = url
        self.connection = self._engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        self.connection.begin()
        self.snapshot_id: str = self.connection.exec_driver_sql(
            "SELECT pg_export_snapshot()"
        ).scalar_one()

    def dump(self, place: Place, target: Path, advance: Advance, tables: int) -> None:
        """`pg_dump --format=custom` of the place, on this snapshot."""
        selection = []
        if place.schema:
            selection.append(f"--schema={_pattern(place.schema)}")
        if place.exclude:
            selection.append(f"--exclude-schema={_pattern(place.exclude)}")
        run_pg_tool(
            "pg_dump",
            [
                "--format=custom",
                f"--snapshot={self.snapshot_id}",
                f"--file={target}",
                *selection,
            ],
            url=place.url,
            marker="dumping contents of table",
            advance=advance,
            total=tables,
        )
        os.chmod(target, 0o600)

    def close(self) -> None:
        try:
            self.connection.rollback()
            self.connection.close()
        finally:
            self._engine.dispose()


def _pattern(schema: str) -> str:
    """A schema name as a pg_dump pattern matching it alone (quoted: case and wildcards kept)."""
    return '"' + schema.replace('"', '""') + '"'


def run_pg_tool(
    tool: str, args: list[str], *, url: str, marker: str, advance: Advance, total: int
) -> None:
    """Runs pg_dump or pg_restore against `url` (password through the environment, never on
    the command line), counting its verbose lines that contain `marker` as progress."""
    program = shutil.which(tool)
    if program is None:
        raise Invalid(
            f"找不到 {tool}：PostgreSQL 数据库的备份和恢复需要其客户端工具 {tool}"
            "（Debian：apt-get install postgresql-client），版本不低于数据库服务器",
            field=tool,
        )
    parsed = make_url(url)
    env = {**os.environ, "LC_ALL": "C", "PGCONNECT_TIMEOUT": "30"}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    dbname = parsed.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False
    )
    process = subprocess.Popen(
        [program, "--no-password", "--verbose", *args, f"--dbname={dbname}"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    assert process.stderr is not None
    said: deque[str] = deque(maxlen=50)
    done = 0
    for line in process.stderr:
        said.append(line.rstrip())
        if marker in line:
            done += 1
            advance(done, total)
    if process.wait() != 0:
        errors = [line for line in said if "error:" in line.lower()] or list(said)[-1:]
        reason = (
            errors[0].split("error:", 1)[-1].strip() if errors else f"退出码 {process.returncode}"
        )
        shown = Place(url).shown
        raise BackupFailed(f"{tool} 未能完成（{shown}）：{reason}")


# --- restore ------------------------------------------------------------------------------


def ensure_empty(place: Place, what: str) -> None:
    """Refuses a restore target that holds anything, naming it."""
    if place.kind == "sqlite":
        if place.path.exists() and place.path.stat().st_size > 0:
            raise Conflict(f"{what}的目标 {place.path} 已存在且不是空文件，恢复只能写入空目标")
        return
    try:
        with connected(place.url) as connection:
            found = _relations(connection, place)
            schema_taken = (
                place.schema is not None
                and connection.execute(
                    sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"),
                    {"schema": place.schema},
                ).first()
            )
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else ""
        raise Invalid(
            f"无法连接{what}的目标 {place.shown}：{reason}（请先建立空数据库）",
            field="database_url",
        ) from None
    if found:
        named = "、".join(found[:3]) + (" 等" if len(found) > 3 else "")
        raise Conflict(
            f"{what}的目标 {place.shown} 不是空的：已有 {len(found)} 个表或其他对象（{named}），"
            "恢复只能写入空数据库"
        )
    if schema_taken:
        raise Conflict(
            f"{what}的目标 {place.shown} 不是空的：模式 {place.schema} 已存在，恢复会重新建立它，"
            "请先删除该模式"
        )


def _relations(connection: Connection, place: Place) -> list[str]:
    query = (
        "SELECT n.nspname || '.' || c.relname FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        f" WHERE {USER_SCHEMAS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
    )
    params = {}
    if place.schema:
        query += " AND n.nspname = :schema"
        params["schema"] = place.schema
    return [name for (name,) in connection.execute(sa.text(query + " ORDER BY 1"), params)]


def restore_sqlite(source: Path, target: Path) -> None:
    """Puts a database file of the archive in place (the archive's copy is not live: copying
    its file is safe), flushed to disk, owner only."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    shutil.copyfile(source, partial)
    os.chmod(partial, 0o600)
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, target)


def restore_postgres(dump: Path, place: Place, advance: Advance, tables: int) -> None:
    """`pg_restore` of a dump into an empty database, in one transaction, objects owned by the
    connecting role (the source's owners and grants need not exist here)."""
    run_pg_tool(
        "pg_restore",
        ["--no-owner", "--no-acl", "--exit-on-error", "--single-transaction", str(dump)],
        url=place.url,
        marker="processing data for table",
        advance=advance,
        total=tables,
    )
