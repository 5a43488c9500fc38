"""Audit scenarios for connections, bindings, runs and pushes (see tests/test_audit_coverage.py)."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from govshare.core import clock
from govshare.core.db import make_engine
from govshare.core.permissions import Actor, Role
from govshare.exchange.center import Center
from govshare.exchange.models import BindingState, ConnectionRole, DatabaseKind, PushState, RunKind
from govshare.exchange.schemas import ConnectionIn, PushIn
from govshare.exchange.service import (
    bindings,
    connections,
    pushes,
    run_execution,
    run_views,
    runs,
    source_directories,
)
from tests.exchange.builders import Exchange, exchange_world, people_sqlite, source_directory
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.sharing.builders import approved

CONN = "govshare.exchange.service.connections."
BIND = "govshare.exchange.service.bindings."
RUNS = "govshare.exchange.service.runs."
EXECUTION = "govshare.exchange.service.run_execution."
VIEWS = "govshare.exchange.service.run_views."
PUSH = "govshare.exchange.service.pushes."
SRC = "govshare.exchange.service.source_directories."
JOB = Actor(label="job:test", roles=frozenset({Role.SYSTEM}))


def world(w: World) -> Exchange:
    with clock.frozen("2026-09-01T09:00:00+08:00"):
        return exchange_world(w.db, Path(tempfile.mkdtemp()), rows=5, op=w.op)


def _center() -> Center:
    return Center(make_engine(f"sqlite:///{Path(tempfile.mkdtemp()) / 'center.db'}"), None)


def _sessions(w: World) -> sessionmaker:
    return sessionmaker(
        bind=w.db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def _register(w: World):
    x = world(w)
    people_sqlite(x.settings.data_dir / "sources" / "other.db")
    data = ConnectionIn(
        name="另一个库",
        role=ConnectionRole.SOURCE,
        kind=DatabaseKind.SQLITE,
        database="sources/other.db",
    )
    return connections.register_connection(
        w.db, actor=x.s.provider_officer, settings=x.settings, data=data
    )


def _update(w: World):
    x = world(w)
    data = ConnectionIn(
        name="改名后的库",
        role=ConnectionRole.SOURCE,
        kind=DatabaseKind.SQLITE,
        database=x.source.database,
    )
    return connections.update_connection(
        w.db, actor=x.s.provider_officer, settings=x.settings, connection_id=x.source.id, data=data
    )


def _execute(w: World):
    x = world(w)
    run = runs.request_run(
        w.db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
    )
    w.db.commit()
    return run_execution.execute_run(
        _sessions(w), settings=x.settings, center=_center(), run_id=run.id
    )


def _stalled(w: World):
    x = world(w)
    run = runs.request_run(
        w.db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
    )
    run.state = runs.RunState.RUNNING  # claimed by no living process: its lock is free
    w.db.flush()
    return runs.recover_stalled(w.db, actor=JOB)


def _front(x: Exchange):
    source_directory(x.s.db, x.settings, x.s.consumer.id, "front")
    people_sqlite(x.settings.data_dir / "front" / "front.db", 0)
    data = ConnectionIn(
        name="民政前置库",
        role=ConnectionRole.FRONTEND,
        kind=DatabaseKind.SQLITE,
        database="front/front.db",
    )
    return connections.register_connection(
        x.s.db, actor=x.s.consumer_officer, settings=x.settings, data=data
    )


def _push(w: World):
    x = world(w)
    with clock.frozen("2026-10-08T09:00:00+08:00"):
        grant_id = approved(x.s, fields=["姓名", "公民身份号码"]).grant_id
    front = _front(x)
    push = pushes.create_push(
        w.db,
        actor=x.s.consumer_officer,
        data=PushIn(grant_id=grant_id, connection_id=front.id, target_table="people_share"),
    )
    return x, push


def _push_state(w: World):
    x, push = _push(w)
    return pushes.set_push_state(
        w.db, actor=x.s.consumer_officer, push_id=push.id, state=PushState.PAUSED, reason="系统维护"
    )


def _binding(w: World) -> Exchange:
    return world(w)


RUN_SCENARIOS: dict[str, Writes | Reads] = {
    CONN + "register_connection": Writes("exchange.connection.register", _register),
    CONN + "update_connection": Writes("exchange.connection.update", _update),
    CONN + "test_connection": Writes(
        "exchange.connection.test",
        lambda w: connections.test_connection(
            w.db,
            actor=(x := world(w)).s.provider_officer,
            settings=x.settings,
            connection_id=x.source.id,
        ),
    ),
    CONN + "list_connections": Reads(
        prepare=world,
        call=lambda w: connections.list_connections(w.db, actor=w.prepared.s.provider_officer),
    ),
    CONN + "get_connection": Reads(
        prepare=world,
        call=lambda w: connections.get_connection(
            w.db, actor=w.prepared.s.provider_officer, connection_id=w.prepared.source.id
        ),
    ),
    CONN + "connection_out": READ_ONLY,
    CONN + "password_of": READ_ONLY,
    CONN + "url_of": READ_ONLY,
    CONN + "qualified": READ_ONLY,
    SRC + "assign_source_directory": Writes(
        "exchange.source_directory.assign",
        lambda w: source_directory(
            w.db, (x := world(w)).settings, x.s.consumer.id, "consumer-sources"
        ),
    ),
    SRC + "list_source_directories": Reads(
        prepare=world,
        call=lambda w: source_directories.list_source_directories(
            w.db, actor=w.prepared.s.provider_officer
        ),
    ),
    BIND + "save_binding": Writes("exchange.binding.save", world),
    BIND + "set_binding_state": Writes(
        "exchange.binding.pause",
        lambda w: bindings.set_binding_state(
            w.db,
            actor=(x := world(w)).s.provider_officer,
            binding_id=x.binding.id,
            state=BindingState.PAUSED,
        ),
    ),
    BIND + "list_bindings": Reads(
        prepare=world,
        call=lambda w: bindings.list_bindings(w.db, actor=w.prepared.s.provider_officer),
    ),
    BIND + "get_binding": Reads(
        prepare=world,
        call=lambda w: bindings.get_binding(
            w.db, actor=w.prepared.s.op, binding_id=w.prepared.binding.id
        ),
    ),
    BIND + "binding_of_resource": Reads(
        prepare=world, call=lambda w: bindings.binding_of_resource(w.db, w.prepared.people.id)
    ),
    BIND + "next_run_after": READ_ONLY,
    BIND + "center_table_name": READ_ONLY,
    BIND + "is_table_version": READ_ONLY,
    RUNS + "request_run": Writes(
        "exchange.run.queue",
        lambda w: runs.request_run(
            w.db,
            actor=(x := world(w)).s.provider_officer,
            binding_id=x.binding.id,
            kind=RunKind.FULL,
        ),
    ),
    RUNS + "schedule_due": Writes(
        "exchange.run.queue", lambda w: (world(w), runs.schedule_due(w.db, actor=JOB))
    ),
    RUNS + "recover_stalled": Writes("exchange.run.stalled", _stalled),
    EXECUTION + "execute_run": Writes("exchange.run", _execute),
    VIEWS + "list_runs": Reads(
        prepare=world,
        call=lambda w: run_views.list_runs(
            w.db, actor=w.prepared.s.provider_officer, binding_id=w.prepared.binding.id
        ),
    ),
    VIEWS + "summary": Reads(
        prepare=lambda w: (
            x := world(w),
            runs.request_run(
                w.db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
            ),
        ),
        call=lambda w: run_views.summary(
            w.db, actor=w.prepared[0].s.provider_officer, since=clock.now() - timedelta(days=1)
        ),
    ),
    VIEWS + "get_run": Reads(
        prepare=lambda w: (
            x := world(w),
            runs.request_run(
                w.db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
            ),
        ),
        call=lambda w: run_views.get_run(w.db, actor=w.prepared[0].s.op, run_id=w.prepared[1].id),
    ),
    VIEWS + "rejected_rows": Reads(
        prepare=lambda w: (
            x := world(w),
            runs.request_run(
                w.db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
            ),
        ),
        call=lambda w: run_views.rejected_rows(
            w.db, actor=w.prepared[0].s.op, run_id=w.prepared[1].id
        ),
    ),
    PUSH + "create_push": Writes("exchange.push.create", _push),
    PUSH + "set_push_state": Writes("exchange.push.pause", _push_state),
    PUSH + "list_pushes": Reads(
        prepare=_push, call=lambda w: pushes.list_pushes(w.db, actor=w.prepared[0].s.op)
    ),
    PUSH + "get_push": Reads(
        prepare=_push,
        call=lambda w: pushes.get_push(w.db, actor=w.prepared[0].s.op, push_id=w.prepared[1].id),
    ),
    PUSH + "push_spec": Writes(
        "sharing.grant.access",
        lambda w: pushes.push_spec(
            w.db, push=(p := _push(w))[1], settings=p[0].settings, center=_center()
        ),
    ),
}
