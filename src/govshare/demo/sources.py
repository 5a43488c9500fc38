"""Departments' business databases (业务库) in the demo city, shared by the demo exchange
(`demo.exchange`) and the open-data portal (`demo.opendata`): each is a SQLite file in the
department's own source directory, registered as a connection, its tables bound to published
table resources and copied into the data resource center by a first full sync, run through
the run service as a worker would.

Every step is skipped when already done, so building again changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core.errors import Conflict
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.exchange import demo_data
from govshare.exchange.models import (
    ConnectionRole,
    DatabaseKind,
    RunKind,
    RunState,
    SourceDirectory,
    SyncRun,
)
from govshare.exchange.schemas import BindingIn, ColumnMapIn, ConnectionIn
from govshare.exchange.service import (
    bindings,
    connections,
    run_execution,
    runs,
    source_directories,
)
from govshare.identity.models import User
from govshare.identity.service import actor_for_user

CHANGE_COLUMN = (
    "updated_at"  # every demo source table has one: syncs after the first are incremental
)


@dataclass(frozen=True)
class Table:
    """One generated source table and the catalog resource bound to it."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (name, portable type of demo_data.load_table)
    key: tuple[str, ...]
    rows: Callable[[], Iterable[Sequence[Any]]]
    resource: str  # the demo's key of the resource bound to it
    items: dict[str, str]  # catalog data item → column


@dataclass(frozen=True)
class Database:
    """A department's business database (业务库) in the data directory."""

    department: str  # the demo's department key
    connection: str  # the connection's name on the platform
    path: str  # relative to the data directory, in the department's own source directory
    tables: tuple[Table, ...]


def write_database(data_dir: Path, database: Database) -> Path:
    """Creates (or replaces) a department's business database file with its tables."""
    path = data_dir / database.path
    path.parent.mkdir(parents=True, exist_ok=True)
    for table in database.tables:
        write_table(path, table)
    return path


def write_table(path: Path, table: Table) -> int:
    """Creates (or replaces) one table in a business database file; the rows written."""
    return demo_data.load_table(
        f"sqlite:///{path}", table.name, table.columns, table.rows(), key=table.key
    )


def officer(db_session: Session, department: str) -> Actor:
    """The department's data officer (`<key>_officer`)."""
    user = db_session.execute(
        select(User).where(User.username == f"{department}_officer")
    ).scalar_one()
    return actor_for_user(user)


def is_demo_city(db_session: Session) -> bool:
    return (
        db_session.execute(select(User.id).where(User.username == "gaj_officer")).first()
        is not None
    )


def connect(runtime: Runtime, db_session: Session, database: Database) -> tuple[int, bool]:
    """The department's connection to its business database, registered (and the file
    written) when missing: its id, and whether it was added."""
    actor = officer(db_session, database.department)
    existing = next(
        (
            c
            for c in connections.list_connections(db_session, actor=actor)
            if c.name == database.connection
        ),
        None,
    )
    if existing is not None:
        return existing.id, False
    # The platform operator gives the department a source directory of its own first.
    directory = str(Path(database.path).parent)
    assigned = db_session.get(SourceDirectory, actor.organization_id)
    if assigned is None or assigned.path != directory:
        source_directories.assign_source_directory(
            db_session,
            actor=Actor.command_line("demo"),
            settings=runtime.settings,
            organization_id=actor.organization_id,  # type: ignore[arg-type]
            path=directory,
        )
    write_database(runtime.settings.data_dir, database)
    conn = connections.register_connection(
        db_session,
        actor=actor,
        settings=runtime.settings,
        data=ConnectionIn(
            name=database.connection,
            role=ConnectionRole.SOURCE,
            kind=DatabaseKind.SQLITE,
            database=database.path,
        ),
    )
    return conn.id, True


def bind(
    runtime: Runtime,
    db_session: Session,
    database: Database,
    connection_id: int,
    table: Table,
    resource: Resource,
) -> tuple[int, bool]:
    """The table's resource bound to it by the department's data officer, unless bound
    already: the binding's id, and whether it was added."""
    binding = bindings.binding_of_resource(db_session, resource.id)
    if binding is not None:
        return binding.id, False
    binding = bindings.save_binding(
        db_session,
        actor=officer(db_session, database.department),
        settings=runtime.settings,
        data=BindingIn(
            resource_id=resource.id,
            connection_id=connection_id,
            source_table=table.name,
            columns=[ColumnMapIn(item=i, column=c) for i, c in table.items.items()],
            key_columns=list(table.key),
            change_column=CHANGE_COLUMN,
        ),
    )
    return binding.id, True


def sync(runtime: Runtime, binding_id: int, department: str, kind: RunKind) -> None:
    """A run of the binding queued by the provider's data officer (or the one a build stopped
    before running) and executed here as a worker would; a failure is a clear error."""
    with runtime.transaction() as db_session:
        queued = db_session.scalar(
            select(func.max(SyncRun.id)).where(
                SyncRun.binding_id == binding_id, SyncRun.state == RunState.QUEUED
            )
        )
        run_id = queued or (
            runs.request_run(
                db_session,
                actor=officer(db_session, department),
                binding_id=binding_id,
                kind=kind,
            ).id
        )
    run = run_execution.execute_run(
        runtime.sessions, settings=runtime.settings, center=runtime.center, run_id=run_id
    )
    if run is None or run.state is not RunState.SUCCEEDED:
        error = run.error if run is not None else "同步任务已被其他工作进程领取"
        what = "首次同步" if kind is RunKind.FULL else "同步"
        raise Conflict(f"示范数据{what}失败（同步任务 #{run_id}）：{error}")


def synced_runs(db_session: Session, binding_id: int) -> int:
    """How many runs of the binding succeeded."""
    return db_session.scalar(
        select(func.count(SyncRun.id)).where(
            SyncRun.binding_id == binding_id, SyncRun.state == RunState.SUCCEEDED
        )
    )


def first_sync(runtime: Runtime, binding_id: int, department: str) -> bool:
    """A full run of the binding unless one has succeeded already; returns whether it ran."""
    with runtime.transaction() as db_session:
        if synced_runs(db_session, binding_id):
            return False
    sync(runtime, binding_id, department, RunKind.FULL)
    return True
