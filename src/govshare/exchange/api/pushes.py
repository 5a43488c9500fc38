"""Exchange API: pushes of a grant's data into the consumer's front-end database (前置库推送,
EXC-5). The consumer names its grant, one of its own front-end connections and a target
table; the platform creates the table with mapped types and keeps it in sync."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from govshare.core.inputs import Id
from govshare.core.permissions import Actor
from govshare.exchange.api.connections import RunOut, queue_of, run_out
from govshare.exchange.models import Push, PushState, RunKind
from govshare.exchange.schemas import PushIn
from govshare.exchange.service import pushes, run_views, runs
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/exchange/pushes", tags=["数据交换：前置库推送"])


class PushColumnOut(BaseModel):
    item: str  # the catalog data item (信息项)
    column: str  # the column in the target table
    type: str  # portable type; masked values are text
    target_type: str | None  # the column type in the front-end database
    masking: str | None  # the grant's masking rule, if any
    key: bool


class PushOut(BaseModel):
    id: int
    grant_id: int
    grant_number: str
    resource_code: str
    resource_name: str
    provider: str
    consumer: str
    connection_id: int
    connection: str
    target_table: str
    state: PushState
    state_label: str
    state_reason: str
    next_run_at: datetime | None
    created_at: datetime
    created_by: str
    last_run: RunOut | None


class PushDetailOut(PushOut):
    columns: list[PushColumnOut]
    row_filter: list[str]  # the grant's row conditions, as sentences
    problem: str  # why the push cannot run as it stands ("" when it can)


class PushRunIn(BaseModel):
    """立即推送: without a kind, incremental once a run has succeeded, full before."""

    kind: RunKind | None = None


class PushStateIn(BaseModel):
    reason: str = Field(default="", max_length=500)


def _out(db_session: Session, actor: Actor, push: Push) -> PushOut:
    latest = run_views.list_runs(db_session, actor=actor, push_id=push.id, limit=1)
    version = push.grant.resource.current_version
    return PushOut(
        id=push.id,
        grant_id=push.grant_id,
        grant_number=push.grant.number,
        resource_code=push.grant.resource.code,
        resource_name=version.name if version else push.grant.resource.code,
        provider=push.grant.provider.name,
        consumer=push.grant.consumer.name,
        connection_id=push.connection_id,
        connection=push.connection.name,
        target_table=push.target_table,
        state=push.state,
        state_label=push.state.label,
        state_reason=push.state_reason,
        next_run_at=push.next_run_at,
        created_at=push.created_at,
        created_by=push.created_by,
        last_run=run_out(latest[0]) if latest else None,
    )


def _detail(db_session: Session, actor: Actor, push: Push) -> PushDetailOut:
    scope = pushes.push_scope(db_session, actor=actor, push_id=push.id)
    columns = [
        PushColumnOut(
            item=c.item,
            column=c.column,
            type=c.type,
            target_type=c.target_type,
            masking=c.mask,
            key=c.key,
        )
        for c in scope.columns
    ]
    return PushDetailOut(
        **_out(db_session, actor, push).model_dump(),
        columns=columns,
        row_filter=list(scope.conditions),
        problem=scope.problem,
    )


@router.get("", summary="本单位的前置库推送（平台管理员可见全部）")
def list_pushes(db_session: DB, actor: SignedIn) -> list[PushOut]:
    return [_out(db_session, actor, p) for p in pushes.list_pushes(db_session, actor=actor)]


@router.post(
    "",
    status_code=201,
    summary="创建前置库推送（平台在前置库建表并保持同步，首次全量推送随即排队）",
)
def create(request: Request, db_session: DB, actor: SignedIn, data: PushIn) -> PushDetailOut:
    push = pushes.create_push(
        db_session, actor=actor, data=data, settings=runtime_of(request).settings
    )
    return _detail(db_session, actor, push)


@router.get("/{push_id}", summary="前置库推送详情：推送的字段、类型、脱敏和数据范围")
def get(db_session: DB, actor: SignedIn, push_id: Id) -> PushDetailOut:
    return _detail(db_session, actor, pushes.get_push(db_session, actor=actor, push_id=push_id))


@router.post("/{push_id}/pause", summary="暂停推送（不再自动推送）")
def pause(db_session: DB, actor: SignedIn, push_id: Id, data: PushStateIn | None = None) -> PushOut:
    push = pushes.set_push_state(
        db_session,
        actor=actor,
        push_id=push_id,
        state=PushState.PAUSED,
        reason=data.reason if data else "",
    )
    return _out(db_session, actor, push)


@router.post("/{push_id}/resume", summary="恢复推送（立即推送一次）")
def resume(
    db_session: DB, actor: SignedIn, push_id: Id, data: PushStateIn | None = None
) -> PushOut:
    push = pushes.set_push_state(
        db_session,
        actor=actor,
        push_id=push_id,
        state=PushState.ACTIVE,
        reason=data.reason if data else "",
    )
    return _out(db_session, actor, push)


@router.post("/{push_id}/runs", status_code=202, summary="立即推送（增量、全量或主键比对）")
def request_run(
    request: Request, db_session: DB, actor: SignedIn, push_id: Id, data: PushRunIn | None = None
) -> RunOut:
    run = runs.request_push_run(
        db_session,
        actor=actor,
        push_id=push_id,
        kind=data.kind if data else None,
        enqueue=queue_of(request).enqueue,
    )
    return run_out(run)


@router.get("/{push_id}/runs", summary="推送记录")
def push_runs(db_session: DB, actor: SignedIn, push_id: Id) -> list[RunOut]:
    return [run_out(r) for r in run_views.list_runs(db_session, actor=actor, push_id=push_id)]
