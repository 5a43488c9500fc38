"""Executing a sync run (同步任务): the worker's part once a run is queued (`runs`). The process
takes the run lock of the binding or push (`exchange.runlock`), claims the run by a
compare-and-set on its state, reads what the run needs from the platform database (its plan),
moves the data with the engine outside any platform transaction, and records the result; the
lock is released only after the run's end is committed.

Runs move data, so they are audited at start and at finish; progress counters are updated
with plain statements while the run goes, for the pages' progress bars.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from govshare.catalog.models import ResourceStatus
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.db import unit_of_work
from govshare.core.errors import Conflict, DomainError
from govshare.core.permissions import Actor, Role
from govshare.core.settings import Settings
from govshare.exchange import engine, runlock
from govshare.exchange.center import Center
from govshare.exchange.models import RejectedRow, RunKind, RunState, SyncRun, UseKind
from govshare.exchange.service import pushes, usage
from govshare.exchange.service.runs import OWNER_DEAD, _abandon, _of_target, _target

PROGRESS_EVERY_SECONDS = 1.0
KEPT_REJECTS = 1000


@dataclass(frozen=True)
class Plan:
    """What one run needs from the platform database, read before the data moves."""

    spec: engine.SyncSpec
    kind: RunKind
    resource_id: int
    provider_id: int


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
    done = _finish_ok(sessions, run_id, outcome, plan)
    if done.binding_id is not None:
        _check_corrections(sessions, center, done)
    return done


# --- inside --------------------------------------------------------------------------------


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


def _check_corrections(sessions: sessionmaker[Session], center: Center, run: SyncRun) -> None:
    """Confirmed objections whose corrected values this run brought into the center close,
    naming the run (VER-1)."""
    from govshare.exchange.models import TableBinding
    from govshare.verification.service import objections

    with unit_of_work(sessions) as db_session:
        binding = db_session.get(TableBinding, run.binding_id)
        if binding is None:
            return
        objections.check_after_run(
            db_session,
            actor=_worker_actor(run.worker, binding.resource.provider_id),
            center=center,
            binding=binding,
            run_id=run.id,
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
