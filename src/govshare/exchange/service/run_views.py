"""Reading sync runs (同步任务): a binding's or push's recent runs, one run with the rows it did
not write, and the overview's counts — each after checking the actor may see the binding or
push, or oversees the exchange."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core.errors import NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.exchange.models import RejectedRow, RunState, SyncRun, TableBinding
from govshare.exchange.service import bindings, pushes

OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)  # see every department's runs


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
