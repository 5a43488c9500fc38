"""Sync runs (同步任务): one run copies a binding's source table into the center, or a grant's
share of a center table into the consumer's front-end database (a push). This module queues
runs — asked for now, or by the schedule — and recovers those whose process died; executing a
run is `run_execution`, the lists and a run's detail are `run_views`.

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
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceStatus
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden
from govshare.core.permissions import Actor, Role, require
from govshare.exchange import runlock
from govshare.exchange.models import (
    BindingState,
    Push,
    PushState,
    RunKind,
    RunState,
    RunTrigger,
    SyncRun,
    TableBinding,
)
from govshare.exchange.service import bindings, pushes

REQUEUE_AFTER = timedelta(minutes=2)  # queued this long without a worker taking it: enqueue again
OWNER_DEAD = "运行进程已终止"
SWEEP_EVERY = timedelta(days=1)  # a scheduled run compares keys (carries deletes) this often
SWEEPING = (RunKind.FULL, RunKind.COMPARE)  # the kinds that leave no deleted row behind

Enqueue = Callable[[int], None]  # hands a run id to the job queue, after the commit


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
