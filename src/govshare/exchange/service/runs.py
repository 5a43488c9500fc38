"""Sync runs (同步任务): one run copies a binding's source table into the center, or a grant's
share of a center table into the consumer's front-end database (a push).

A run is queued in the platform database and executed by a worker (`govshare worker`) or by
`govshare exchange sync` in its own process. The executing process holds the run lock of the
binding or push (`exchange.runlock`) from before it claims the run (a compare-and-set on its
state, so two workers never run one run) until after its end is committed; the database
server or the kernel releases that lock when the process dies. The engine underneath keeps
the target exactly equal to the source even when the process is killed (keyed upserts and a
watermark in the target that advances only with its data). So a "running" run whose lock is
free belongs to a dead process: a rerun fails it and starts at once, and the workers' tick
(`recover_stalled`) fails it and queues it again.

Incremental runs carry changes, not deletes. So a scheduled run is a key comparison (changes,
then deletes: `RunKind.COMPARE`) when deletes may be owed: a binding's at least once every
`SWEEP_EVERY`; a push's as well, and at once after the center lost rows (a full sync, or a
comparison that deleted) since the push last compared, so rows deleted at the source leave
the consumers' front-end tables at the next scheduled push.

Runs move data, so they are audited at start and at finish; progress counters are updated
with plain statements while the run goes, for the pages' progress bars.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from govshare.catalog.models import Resource, ResourceStatus
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.db import unit_of_work
from govshare.core.errors import Conflict, DomainError, Forbidden, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.core.settings import Settings
from govshare.exchange import engine, runlock
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
    UseKind,
)
from govshare.exchange.service import bindings, pushes, usage

REQUEUE_AFTER = timedelta(minutes=2)  # queued this long without a worker taking it: enqueue again
OWNER_DEAD = "运行进程已终止"
SWEEP_EVERY = timedelta(days=1)  # a scheduled run compares keys (carries deletes) this often
SWEEPING = (RunKind.FULL, RunKind.COMPARE)  # the kinds that leave no deleted row behind
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


def request_push_run(
    db_session: Session,
    *,
    actor: Actor,
    push_id: int,
    kind: RunKind | None = None,
    enqueue: Enqueue | None = None,
) -> SyncRun:
    """Queues a run of the push now (立即推送): by default incremental once a run has
    succeeded, full before; a key comparison removes rows the grant's share no longer has.
    One run of a push at a time, and none of a paused or stopped push. A run asked for
    while a scheduled one is due takes its place."""
    require(actor, *pushes.MANAGERS, Role.PLATFORM_OPERATOR, action="发起前置库推送")
    push = pushes.get_push(db_session, actor=actor, push_id=push_id)
    if push.state is PushState.PAUSED:
        raise Conflict("推送已暂停，请先恢复再推送")
    if push.state is PushState.STOPPED:
        raise Conflict("推送已停止，不能再推送")
    if kind is None:
        succeeded = _has_succeeded(db_session, push_id=push.id)
        kind = RunKind.INCREMENTAL if succeeded else RunKind.FULL
    # _queue is the one place a run is created and its audit entry written
    run = _queue(db_session, actor, kind, RunTrigger.MANUAL, enqueue, push=push)
    now = clock.now()
    if push.next_run_at is not None and clock.as_utc(push.next_run_at) <= now:
        # this run takes the due slot (a new push's first run): the schedule moves on
        binding = bindings.binding_of_resource(db_session, push.grant.resource_id)
        push.next_run_at = bindings.next_run_after(binding, now) if binding else None
        db_session.flush()
    return run


def schedule_due(
    db_session: Session, *, actor: Actor, enqueue: Enqueue | None = None
) -> list[SyncRun]:
    """Queues a run for every active binding and push whose time has come. Claiming the
    slot is a compare-and-set on `next_run_at`, so several workers ticking at once queue
    each run once."""
    require(actor, Role.SYSTEM, Role.PLATFORM_OPERATOR, action="安排同步任务")
    now = clock.now()
    queued: list[SyncRun] = []
    # A retired resource's binding is never due: no one may use its data (CAT-6).
    due = select(TableBinding).where(
        TableBinding.state == BindingState.ACTIVE,
        TableBinding.next_run_at <= now,
        TableBinding.resource_id.in_(
            select(Resource.id).where(Resource.status != ResourceStatus.RETIRED)
        ),
    )
    for binding in db_session.execute(due).scalars().all():
        if _claim_slot(
            db_session,
            TableBinding,
            binding.id,
            binding.next_run_at,
            bindings.next_run_after(binding, now),
        ) and not _busy(db_session, actor, binding_id=binding.id):
            kind = _scheduled_kind(db_session, now, binding_id=binding.id)
            queued.append(
                _queue(db_session, actor, kind, RunTrigger.SCHEDULE, enqueue, binding=binding)
            )
    due_pushes = select(Push).where(Push.state == PushState.ACTIVE, Push.next_run_at <= now)
    for push in db_session.execute(due_pushes).scalars().all():
        binding = bindings.binding_of_resource(db_session, push.grant.resource_id)
        following = bindings.next_run_after(binding, now) if binding else None
        if _claim_slot(db_session, Push, push.id, push.next_run_at, following) and not _busy(
            db_session, actor, push_id=push.id
        ):
            kind = _scheduled_kind(
                db_session, now, push_id=push.id, center_id=binding.id if binding else None
            )
            queued.append(_queue(db_session, actor, kind, RunTrigger.SCHEDULE, enqueue, push=push))
    return queued


def recover_stalled(
    db_session: Session, *, actor: Actor, enqueue: Enqueue | None = None
) -> list[SyncRun]:
    """Fails runs whose process died (their run lock is free) and queues each again; hands
    queued runs no worker took back to the queue. Returns the runs queued again."""
    require(actor, Role.SYSTEM, Role.PLATFORM_OPERATOR, action="恢复中断的同步任务")
    now = clock.now()
    again: list[SyncRun] = []
    running = select(SyncRun).where(SyncRun.state == RunState.RUNNING).order_by(SyncRun.id)
    for run in db_session.execute(running).scalars().all():
        if runlock.is_held(db_session, _target(run)):
            continue
        if _abandon(db_session, actor, run, f"{OWNER_DEAD}，已重新排队"):
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
        queued = db_session.get(SyncRun, run_id)
        if queued is None or queued.state is not RunState.QUEUED:
            return None
        target = _target(queued)
    lock = runlock.acquire(sessions.kw["bind"], target)
    if lock is None:  # a live process is running this binding or push
        return None
    try:
        return _execute_locked(sessions, lock, settings, center, run_id, worker)
    finally:
        lock.release()


def _execute_locked(
    sessions: sessionmaker[Session],
    lock: runlock.HeldLock,
    settings: Settings,
    center: Center,
    run_id: int,
    worker: str,
) -> SyncRun | None:
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
    progress = _Progress(sessions, run_id, lock)
    try:
        if plan.kind is RunKind.FULL:
            outcome = engine.run_full(plan.spec, progress=progress)
        elif plan.kind is RunKind.INCREMENTAL:
            outcome = engine.run_incremental(plan.spec, progress=progress)
        else:
            outcome = _compare(plan.spec, progress)
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
        db_session,
        actor,
        binding_id=binding.id if binding else None,
        push_id=push.id if push else None,
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
    db_session: Session,
    actor: Actor,
    *,
    binding_id: int | None = None,
    push_id: int | None = None,
) -> bool:
    """Whether a run of the binding or push is queued, or running in a live process. A run
    left "running" by a dead process (its lock is free) is failed on the way."""
    target = runlock.target_of(binding_id=binding_id, push_id=push_id)
    query = select(SyncRun).where(
        SyncRun.state.in_((RunState.QUEUED, RunState.RUNNING)), _of_target(target)
    )
    busy = False
    for run in db_session.execute(query).scalars().all():
        if run.state is RunState.QUEUED or runlock.is_held(db_session, target):
            busy = True
        elif not _abandon(db_session, actor, run, OWNER_DEAD):
            db_session.refresh(run)  # changed meanwhile: it counts as it now stands
            busy = busy or run.state in (RunState.QUEUED, RunState.RUNNING)
    return busy


def _target(run: SyncRun) -> runlock.Target:
    return runlock.target_of(binding_id=run.binding_id, push_id=run.push_id)


def _of_target(target: runlock.Target) -> Any:
    column = SyncRun.binding_id if target.kind == "binding" else SyncRun.push_id
    return column == target.id


def _abandon(db_session: Session, actor: Actor, run: SyncRun, error: str) -> bool:
    """Fails a "running" run whose process is gone, with its audit entry. False when the run
    had left "running" meanwhile (it finished after all)."""
    failed = db_session.execute(
        update(SyncRun)
        .where(SyncRun.id == run.id, SyncRun.state == RunState.RUNNING)
        .values(state=RunState.FAILED, finished_at=clock.now(), error=error)
    ).rowcount
    if not failed:
        return False
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
            "error": error,
        },
    )
    return True


def _compare(spec: engine.SyncSpec, progress: _Progress) -> engine.SyncOutcome:
    """A key comparison: the changes (incremental), then the rows whose key the source no
    longer has deleted. A full run in the first step (no usable watermark) needs no second."""
    changes = engine.run_incremental(spec, progress=progress)
    if changes.mode == "full":
        return changes
    deletes = engine.run_compare_keys(spec, progress=progress)
    return dataclasses.replace(
        changes,
        mode=deletes.mode,
        rows_deleted=deletes.rows_deleted,
        seconds=changes.seconds + deletes.seconds,
    )


def _scheduled_kind(
    db_session: Session,
    now: datetime,
    *,
    binding_id: int | None = None,
    push_id: int | None = None,
    center_id: int | None = None,
) -> RunKind:
    """The kind of a scheduled run: full first, a key comparison when deletes may be owed
    (see the module's docstring), else incremental. `center_id`: a push's binding."""
    if not _has_succeeded(db_session, binding_id=binding_id, push_id=push_id):
        return RunKind.FULL
    target = _of_target(runlock.target_of(binding_id=binding_id, push_id=push_id))
    swept = db_session.execute(
        select(func.max(SyncRun.started_at)).where(
            target, SyncRun.state == RunState.SUCCEEDED, SyncRun.kind.in_(SWEEPING)
        )
    ).scalar_one()
    if swept is None or clock.as_utc(swept) < now - SWEEP_EVERY:
        return RunKind.COMPARE
    if center_id is not None:
        center_lost = db_session.execute(
            select(func.max(SyncRun.finished_at)).where(
                SyncRun.binding_id == center_id,
                SyncRun.state == RunState.SUCCEEDED,
                (SyncRun.kind == RunKind.FULL) | (SyncRun.rows_deleted > 0),
            )
        ).scalar_one()
        if center_lost is not None and clock.as_utc(center_lost) > clock.as_utc(swept):
            return RunKind.COMPARE
    return RunKind.INCREMENTAL


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
    # This process holds the run lock: any other "running" run of the target is a dead one.
    others = select(SyncRun).where(
        SyncRun.state == RunState.RUNNING, SyncRun.id != run_id, _of_target(_target(run))
    )
    for dead in db_session.execute(others).scalars().all():
        _abandon(db_session, _worker_actor(worker), dead, OWNER_DEAD)
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
        if binding.resource.status is ResourceStatus.RETIRED:  # no one may use it (CAT-6)
            raise Conflict("资源已下架，不再同步到数据资源中心，请暂停该库表同步")
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
    assert run.push is not None
    spec = pushes.push_spec(db_session, push=run.push, settings=settings, center=center)
    grant = run.push.grant
    return Plan(spec, run.kind, grant.resource_id, grant.provider_id)


class _Progress:
    """Writes the rows read so far and a heartbeat at most once a second, each in its own
    short transaction, so a page polling the run sees it move; and checks the run lock is
    still held (a run whose lock connection broke stops, since another may start)."""

    def __init__(
        self, sessions: sessionmaker[Session], run_id: int, lock: runlock.HeldLock
    ) -> None:
        self.sessions, self.run_id, self.lock, self.last = sessions, run_id, lock, 0.0

    def __call__(self, rows_read: int) -> None:
        import time

        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        try:
            self.lock.check()
        except Exception as exc:
            raise engine.EngineError(
                f"运行锁丢失（与平台数据库的连接中断），同步已中止：{exc}"
            ) from exc
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
        elif run.push is not None:  # a push delivers the grant's rows: a use of the data
            usage.record_use(
                db_session,
                actor=actor,
                grant=run.push.grant,
                kind=UseKind.PUSH,
                rows=run.rows_written,
            )
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
