"""Sync runs (同步任务): one run copies a binding's source table into the center, or a grant's
share of a center table into the consumer's front-end database (a push).

A run is queued in the platform database and executed by a worker (`govshare worker`). The
worker claims it with a compare-and-set on its state, so two workers never run one run; the
engine underneath keeps the target exactly equal to the source even when a worker is killed
(keyed upserts and a watermark in the target that advances only with its data). A worker that
dies leaves a run whose heartbeat stops: `recover_stalled` marks it failed and queues it again.

Runs move data, so they are audited at start and at finish; progress counters are updated
with plain statements while the run goes, for the pages' progress bars.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from govshare.catalog.models import Resource
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.db import unit_of_work
from govshare.core.errors import Conflict, DomainError, Forbidden, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.core.settings import Settings
from govshare.exchange import engine
from govshare.exchange.center import Center
from govshare.exchange.models import (
    BindingState,
    Push,
    PushState,
    RejectedRow,
    RunKind,
    RunState,
    RunTrigger,
    SyncRun,
    TableBinding,
)
from govshare.exchange.service import bindings

STALL_AFTER = timedelta(minutes=10)  # no heartbeat for this long: the worker is gone
REQUEUE_AFTER = timedelta(minutes=2)  # queued this long without a worker taking it: enqueue again
PROGRESS_EVERY_SECONDS = 1.0
KEPT_REJECTS = 1000
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)  # see every department's runs

Enqueue = Callable[[int], None]  # hands a run id to the job queue, after the commit


@dataclass(frozen=True)
class Plan:
    """What one run needs from the platform database, read before the data moves."""

    spec: engine.SyncSpec
    kind: RunKind
    resource_id: int
    provider_id: int


def request_run(
    db_session: Session,
    *,
    actor: Actor,
    binding_id: int,
    kind: RunKind,
    enqueue: Enqueue | None = None,
) -> SyncRun:
    """Queues a run of the binding now (a data officer's 立即同步, or a full key comparison
    to pick up deletes). One run of a binding at a time."""
    require(actor, *bindings.MANAGERS, Role.PLATFORM_OPERATOR, action="发起库表同步")
    binding = bindings.get_binding(db_session, actor=actor, binding_id=binding_id)
    if (
        not actor.has(Role.PLATFORM_OPERATOR)
        and binding.resource.provider_id != actor.organization_id
    ):
        raise Forbidden("只能同步本单位资源的库表")
    return _queue(db_session, actor, kind, RunTrigger.MANUAL, enqueue, binding=binding)


def schedule_due(
    db_session: Session, *, actor: Actor, enqueue: Enqueue | None = None
) -> list[SyncRun]:
    """Queues a run for every active binding and push whose time has come. Claiming the
    slot is a compare-and-set on `next_run_at`, so several workers ticking at once queue
    each run once."""
    require(actor, Role.SYSTEM, Role.PLATFORM_OPERATOR, action="安排同步任务")
    now = clock.now()
    queued: list[SyncRun] = []
    due = select(TableBinding).where(
        TableBinding.state == BindingState.ACTIVE, TableBinding.next_run_at <= now
    )
    for binding in db_session.execute(due).scalars().all():
        if _claim_slot(
            db_session,
            TableBinding,
            binding.id,
            binding.next_run_at,
            bindings.next_run_after(binding, now),
        ) and not _busy(db_session, binding_id=binding.id):
            kind = (
                RunKind.INCREMENTAL
                if _has_succeeded(db_session, binding_id=binding.id)
                else RunKind.FULL
            )
            queued.append(
                _queue(db_session, actor, kind, RunTrigger.SCHEDULE, enqueue, binding=binding)
            )
    due_pushes = select(Push).where(Push.state == PushState.ACTIVE, Push.next_run_at <= now)
    for push in db_session.execute(due_pushes).scalars().all():
        binding = bindings.binding_of_resource(db_session, push.grant.resource_id)
        following = bindings.next_run_after(binding, now) if binding else None
        if _claim_slot(db_session, Push, push.id, push.next_run_at, following) and not _busy(
            db_session, push_id=push.id
        ):
            kind = (
                RunKind.INCREMENTAL if _has_succeeded(db_session, push_id=push.id) else RunKind.FULL
            )
            queued.append(_queue(db_session, actor, kind, RunTrigger.SCHEDULE, enqueue, push=push))
    return queued


def recover_stalled(
    db_session: Session, *, actor: Actor, enqueue: Enqueue | None = None
) -> list[SyncRun]:
    """Fails runs whose worker stopped beating and queues each again; hands queued runs no
    worker took back to the queue. Returns the runs queued again."""
    require(actor, Role.SYSTEM, Role.PLATFORM_OPERATOR, action="恢复中断的同步任务")
    now = clock.now()
    again: list[SyncRun] = []
    stalled = select(SyncRun).where(
        SyncRun.state == RunState.RUNNING, SyncRun.heartbeat_at < now - STALL_AFTER
    )
    for run in db_session.execute(stalled).scalars().all():
        claimed = db_session.execute(
            update(SyncRun)
            .where(
                SyncRun.id == run.id,
                SyncRun.state == RunState.RUNNING,
                SyncRun.heartbeat_at == run.heartbeat_at,
            )
            .values(
                state=RunState.FAILED, finished_at=now, error="工作进程中断（心跳超时），已重新排队"
            )
        ).rowcount
        if claimed:
            db_session.refresh(run)
            record(
                db_session,
                actor=actor,
                action="exchange.run.stalled",
                object_type="run",
                object_id=run.id,
                details={
                    "worker": run.worker,
                    "heartbeat_at": run.heartbeat_at.isoformat() if run.heartbeat_at else None,
                },
            )
            again.append(
                _queue(
                    db_session,
                    actor,
                    run.kind,
                    run.trigger,
                    enqueue,
                    binding=run.binding,
                    push=run.push,
                )
            )
    waiting = select(SyncRun.id).where(
        SyncRun.state == RunState.QUEUED, SyncRun.queued_at < now - REQUEUE_AFTER
    )
    if enqueue is not None:
        for run_id in db_session.execute(waiting).scalars().all():
            _after_commit(db_session, enqueue, run_id)
    return again


def execute_run(
    sessions: sessionmaker[Session],
    *,
    settings: Settings,
    center: Center,
    run_id: int,
    worker: str | None = None,
) -> SyncRun | None:
    """Runs a queued run to its end in the calling process (the worker's job). Returns
    None when another worker has it already. Never raises for a failed sync: the run
    records the failure."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    with unit_of_work(sessions) as db_session:
        run = _claim(db_session, run_id, worker)
        if run is None:
            return None
        try:
            plan = _plan(db_session, run, settings=settings, center=center)
        except (DomainError, engine.EngineError) as exc:  # e.g. a source no longer its own
            plan = None
            failure = str(exc)
        except ValueError as exc:  # a spec the engine refuses: fail the run, never loop on it
            plan = None
            failure = f"同步配置无效，请检查库表绑定或推送的表名、字段名：{exc}"
    if plan is None:
        return _finish_failed(sessions, run_id, failure)
    progress = _Progress(sessions, run_id)
    try:
        if plan.kind is RunKind.FULL:
            outcome = engine.run_full(plan.spec, progress=progress)
        elif plan.kind is RunKind.INCREMENTAL:
            outcome = engine.run_incremental(plan.spec, progress=progress)
        else:
            outcome = engine.run_compare_keys(plan.spec, progress=progress)
    except engine.EngineError as exc:
        return _finish_failed(sessions, run_id, str(exc))
    return _finish_ok(sessions, run_id, outcome, plan)


def list_runs(
    db_session: Session,
    *,
    actor: Actor,
    binding_id: int | None = None,
    push_id: int | None = None,
    limit: int = 50,
) -> list[SyncRun]:
    """Recent runs of one binding or push (after checking the actor may see it)."""
    if binding_id is not None:
        bindings.get_binding(db_session, actor=actor, binding_id=binding_id)
        where = SyncRun.binding_id == binding_id
    elif push_id is not None:
        from govshare.exchange.service import pushes

        pushes.get_push(db_session, actor=actor, push_id=push_id)
        where = SyncRun.push_id == push_id
    else:
        require(actor, *OVERSEERS, action="查看全部同步任务")
        where = SyncRun.id.is_not(None)
    query = select(SyncRun).where(where).order_by(SyncRun.id.desc()).limit(limit)
    return list(db_session.execute(query).scalars())


@dataclass(frozen=True)
class RunSummary:
    """The binding runs an actor may see: counts by state since a moment, and the latest."""

    by_state: dict[RunState, int]
    latest: list[SyncRun]
    everyone: bool  # every department's runs (the operator, authority and auditors)

    def count(self, *states: RunState) -> int:
        return sum(self.by_state.get(state, 0) for state in states)


def summary(db_session: Session, *, actor: Actor, since: datetime, latest: int = 10) -> RunSummary:
    """Binding runs queued since `since` by state, and the `latest` runs: the department's own,
    or every department's for those who oversee the exchange."""
    require(actor, *bindings.VIEWERS, action="查看库表同步")
    everyone = actor.has(*OVERSEERS)
    scope = SyncRun.binding_id.is_not(None)
    if not everyone:
        own = (
            select(TableBinding.id)
            .join(Resource)
            .where(Resource.provider_id == actor.organization_id)
        )
        scope = SyncRun.binding_id.in_(own)
    counted = (
        select(SyncRun.state, func.count())
        .where(scope, SyncRun.queued_at >= since)
        .group_by(SyncRun.state)
    )
    newest = select(SyncRun).where(scope).order_by(SyncRun.id.desc()).limit(latest)
    return RunSummary(
        by_state={RunState(s): n for s, n in db_session.execute(counted).all()},
        latest=list(db_session.execute(newest).scalars()),
        everyone=everyone,
    )


def get_run(db_session: Session, *, actor: Actor, run_id: int) -> SyncRun:
    run = db_session.get(SyncRun, run_id)
    if run is None:
        raise NotFound("同步任务不存在")
    if run.binding_id is not None:
        bindings.get_binding(db_session, actor=actor, binding_id=run.binding_id)
    else:
        from govshare.exchange.service import pushes

        pushes.get_push(db_session, actor=actor, push_id=run.push_id or 0)
    return run


def rejected_rows(db_session: Session, *, actor: Actor, run_id: int) -> list[RejectedRow]:
    """The rows a run did not write, with the reason (the first thousand are kept)."""
    get_run(db_session, actor=actor, run_id=run_id)
    query = select(RejectedRow).where(RejectedRow.run_id == run_id).order_by(RejectedRow.id)
    return list(db_session.execute(query).scalars())


# --- inside --------------------------------------------------------------------------------


def _queue(
    db_session: Session,
    actor: Actor,
    kind: RunKind,
    trigger: RunTrigger,
    enqueue: Enqueue | None,
    *,
    binding: TableBinding | None = None,
    push: Push | None = None,
) -> SyncRun:
    if _busy(
        db_session, binding_id=binding.id if binding else None, push_id=push.id if push else None
    ):
        raise Conflict("该同步任务正在排队或运行中，请等它结束后再发起")
    run = SyncRun(
        binding_id=binding.id if binding else None,
        push_id=push.id if push else None,
        kind=kind,
        trigger=trigger,
        state=RunState.QUEUED,
        queued_at=clock.now(),
        queued_by=actor.label,
    )
    db_session.add(run)
    db_session.flush()
    target = binding.resource.code if binding else f"push:{push.id}"  # type: ignore[union-attr]
    record(
        db_session,
        actor=actor,
        action="exchange.run.queue",
        object_type="run",
        object_id=run.id,
        details={"target": target, "kind": kind.value, "trigger": trigger.value},
    )
    if enqueue is not None:
        _after_commit(db_session, enqueue, run.id)
    return run


def _after_commit(db_session: Session, enqueue: Enqueue, run_id: int) -> None:
    """The job is handed over only once the run row is committed and a worker can see it."""
    from sqlalchemy import event

    def _send(_session: Session) -> None:
        enqueue(run_id)

    event.listen(db_session, "after_commit", _send, once=True)


def _busy(
    db_session: Session, *, binding_id: int | None = None, push_id: int | None = None
) -> bool:
    query = (
        select(func.count())
        .select_from(SyncRun)
        .where(SyncRun.state.in_((RunState.QUEUED, RunState.RUNNING)))
    )
    query = (
        query.where(SyncRun.binding_id == binding_id)
        if binding_id
        else query.where(SyncRun.push_id == push_id)
    )
    return bool(db_session.execute(query).scalar_one())


def _has_succeeded(
    db_session: Session, *, binding_id: int | None = None, push_id: int | None = None
) -> bool:
    query = select(SyncRun.id).where(SyncRun.state == RunState.SUCCEEDED).limit(1)
    query = (
        query.where(SyncRun.binding_id == binding_id)
        if binding_id
        else query.where(SyncRun.push_id == push_id)
    )
    return db_session.execute(query).first() is not None


def _claim_slot(
    db_session: Session, model: type, row_id: int, seen: object, following: object
) -> bool:
    claimed = db_session.execute(
        update(model)
        .where(model.id == row_id, model.next_run_at == seen)
        .values(next_run_at=following)
    ).rowcount
    return claimed == 1


def _claim(db_session: Session, run_id: int, worker: str) -> SyncRun | None:
    now = clock.now()
    claimed = db_session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id, SyncRun.state == RunState.QUEUED)
        .values(state=RunState.RUNNING, started_at=now, heartbeat_at=now, worker=worker)
    ).rowcount
    if claimed != 1:
        return None
    run = db_session.get(SyncRun, run_id)
    assert run is not None
    db_session.refresh(run)
    record(
        db_session,
        actor=_worker_actor(worker),
        action="exchange.run.start",
        object_type="run",
        object_id=run.id,
        details={"kind": run.kind.value, "worker": worker},
    )
    return run


def _plan(db_session: Session, run: SyncRun, *, settings: Settings, center: Center) -> Plan:
    if run.binding is not None:
        from govshare.exchange.service import connections

        binding = run.binding
        spec = engine.SyncSpec(
            source_url=connections.url_of(binding.connection, settings),
            source_query=None,
            source_table=connections.qualified(binding.connection, binding.source_table),
            target_url=center.url,
            target_schema=center.schema,
            target_table=binding.center_table,
            columns=tuple(engine.Column(c["column"], c["type"]) for c in binding.columns),
            key=tuple(binding.key_columns),
            change_column=binding.change_column,
            state_name=f"binding:{binding.id}",
        )
        resource = binding.resource
        return Plan(spec, run.kind, resource.id, resource.provider_id)
    from govshare.exchange.service import pushes

    assert run.push is not None
    spec = pushes.push_spec(db_session, push=run.push, settings=settings, center=center)
    grant = run.push.grant
    return Plan(spec, run.kind, grant.resource_id, grant.provider_id)


class _Progress:
    """Writes the rows read so far and a heartbeat at most once a second, each in its own
    short transaction, so a page polling the run sees it move."""

    def __init__(self, sessions: sessionmaker[Session], run_id: int) -> None:
        self.sessions, self.run_id, self.last = sessions, run_id, 0.0

    def __call__(self, rows_read: int) -> None:
        import time

        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        with unit_of_work(self.sessions) as db_session:
            db_session.execute(
                update(SyncRun)
                .where(SyncRun.id == self.run_id)
                .values(rows_read=rows_read, heartbeat_at=clock.now())
            )


def _finish_ok(
    sessions: sessionmaker[Session], run_id: int, outcome: engine.SyncOutcome, plan: Plan
) -> SyncRun:
    with unit_of_work(sessions) as db_session:
        run = db_session.get(SyncRun, run_id)
        assert run is not None
        run.state = RunState.SUCCEEDED
        run.finished_at = clock.now()
        run.kind = RunKind(outcome.mode) if outcome.mode in RunKind._value2member_map_ else run.kind
        run.rows_read = outcome.rows_read
        run.rows_written = outcome.rows_written
        run.rows_deleted = outcome.rows_deleted
        run.rows_rejected = outcome.rows_rejected
        run.checksum = outcome.checksum
        run.watermark_before = outcome.watermark_before
        run.watermark_after = outcome.watermark_after
        run.seconds = round(outcome.seconds, 3)
        for rejected in outcome.rejected[:KEPT_REJECTS]:
            db_session.add(
                RejectedRow(
                    run_id=run.id,
                    row_key=rejected.key[:200],
                    reason=rejected.reason[:300],
                    row_text=rejected.row,
                )
            )
        actor = _worker_actor(run.worker, plan.provider_id)
        record(
            db_session,
            actor=actor,
            action="exchange.run.finish",
            object_type="run",
            object_id=run.id,
            details={
                "kind": run.kind.value,
                "rows_read": run.rows_read,
                "rows_written": run.rows_written,
                "rows_deleted": run.rows_deleted,
                "rows_rejected": run.rows_rejected,
                "checksum": run.checksum,
                "watermark": run.watermark_after,
                "seconds": run.seconds,
            },
        )
        if run.binding_id is not None:
            _record_freshness(db_session, actor, plan.resource_id, run)
        db_session.flush()
        return run


def _record_freshness(db_session: Session, actor: Actor, resource_id: int, run: SyncRun) -> None:
    """A successful sync into the center is the provider's data update (SHR-6)."""
    from govshare.sharing.schemas import DataUpdateIn
    from govshare.sharing.service import freshness

    note = f"库表同步 #{run.id}（{run.kind.label}），写入 {run.rows_written} 行"
    freshness.record_data_update(
        db_session, actor=actor, resource_id=resource_id, data=DataUpdateIn(note=note)
    )


def _finish_failed(sessions: sessionmaker[Session], run_id: int, error: str) -> SyncRun:
    with unit_of_work(sessions) as db_session:
        run = db_session.get(SyncRun, run_id)
        assert run is not None
        run.state = RunState.FAILED
        run.finished_at = clock.now()
        run.error = error[:2000]
        record(
            db_session,
            actor=_worker_actor(run.worker),
            action="exchange.run.fail",
            object_type="run",
            object_id=run.id,
            details={"kind": run.kind.value, "error": run.error},
        )
        db_session.flush()
        return run


def _worker_actor(worker: str, organization_id: int | None = None) -> Actor:
    return Actor(
        label=f"worker:{worker}", roles=frozenset({Role.SYSTEM}), organization_id=organization_id
    )
