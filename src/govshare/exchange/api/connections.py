"""Exchange API: database connections, table bindings and their sync runs (EXC-2)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from govshare.core.inputs import Id
from govshare.exchange.jobs import JobQueue, job_queue
from govshare.exchange.models import (
    BindingState,
    RunKind,
    SourceDirectory,
    SyncRun,
    TableBinding,
)
from govshare.exchange.schemas import BindingIn, ConnectionIn, ConnectionOut, RunIn
from govshare.exchange.service import bindings, connections, run_views, runs, source_directories
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/exchange", tags=["数据交换"])


class BindingOut(BaseModel):
    id: int
    resource_code: str
    resource_name: str
    connection: str
    source_table: str
    columns: list[dict[str, str]]
    key_columns: list[str]
    change_column: str | None
    center_table: str
    state: BindingState
    next_run_at: datetime | None


class RunOut(BaseModel):
    id: int
    binding_id: int | None
    push_id: int | None
    kind: RunKind
    kind_label: str
    state: str
    state_label: str
    trigger: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows_read: int
    rows_written: int
    rows_deleted: int
    rows_rejected: int
    checksum: str
    watermark_before: str | None
    watermark_after: str | None
    seconds: float | None
    error: str


class SourceDirectoryIn(BaseModel):
    path: str = Field(min_length=1, max_length=300, description="平台数据目录之下的相对路径")


class SourceDirectoryOut(BaseModel):
    organization_id: int
    organization: str
    path: str
    assigned_at: datetime
    assigned_by: str


class RejectedOut(BaseModel):
    row_key: str
    reason: str
    row_text: str


def queue_of(request: Request) -> JobQueue:
    """The app's job queue: the runtime's, unless the app was given another (tests)."""
    queue = getattr(request.app.state, "exchange_jobs", None)
    if queue is None:
        queue = request.app.state.exchange_jobs = job_queue(runtime_of(request))
    return queue


def binding_out(binding: TableBinding) -> BindingOut:
    version = binding.resource.current_version
    return BindingOut(
        id=binding.id,
        resource_code=binding.resource.code,
        resource_name=version.name if version else binding.resource.code,
        connection=binding.connection.name,
        source_table=binding.source_table,
        columns=binding.columns,
        key_columns=binding.key_columns,
        change_column=binding.change_column,
        center_table=binding.center_table,
        state=binding.state,
        next_run_at=binding.next_run_at,
    )


def run_out(run: SyncRun) -> RunOut:
    return RunOut(
        id=run.id,
        binding_id=run.binding_id,
        push_id=run.push_id,
        kind=run.kind,
        kind_label=run.kind.label,
        state=run.state.value,
        state_label=run.state.label,
        trigger=run.trigger.value,
        queued_at=run.queued_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        rows_read=run.rows_read,
        rows_written=run.rows_written,
        rows_deleted=run.rows_deleted,
        rows_rejected=run.rows_rejected,
        checksum=run.checksum,
        watermark_before=run.watermark_before,
        watermark_after=run.watermark_after,
        seconds=run.seconds,
        error=run.error,
    )


@router.get("/connections", summary="本单位登记的数据库连接（平台管理员可见全部）")
def list_connections(db_session: DB, actor: SignedIn) -> list[ConnectionOut]:
    found = connections.list_connections(db_session, actor=actor)
    return [connections.connection_out(c) for c in found]


@router.post("/connections", status_code=201, summary="登记数据库连接（保存前先测试连通）")
def register(
    request: Request, db_session: DB, actor: SignedIn, data: ConnectionIn
) -> ConnectionOut:
    conn = connections.register_connection(
        db_session, actor=actor, settings=runtime_of(request).settings, data=data
    )
    return connections.connection_out(conn)


@router.put("/connections/{connection_id}", summary="修改数据库连接（密码留空则不变）")
def update(
    request: Request, db_session: DB, actor: SignedIn, connection_id: Id, data: ConnectionIn
) -> ConnectionOut:
    conn = connections.update_connection(
        db_session,
        actor=actor,
        settings=runtime_of(request).settings,
        connection_id=connection_id,
        data=data,
    )
    return connections.connection_out(conn)


@router.post("/connections/{connection_id}/test", summary="重新测试数据库连接")
def test(request: Request, db_session: DB, actor: SignedIn, connection_id: Id) -> ConnectionOut:
    conn = connections.test_connection(
        db_session, actor=actor, settings=runtime_of(request).settings, connection_id=connection_id
    )
    return connections.connection_out(conn)


def source_directory_out(assigned: SourceDirectory) -> SourceDirectoryOut:
    return SourceDirectoryOut(
        organization_id=assigned.organization_id,
        organization=assigned.organization.name,
        path=assigned.path,
        assigned_at=assigned.assigned_at,
        assigned_by=assigned.assigned_by,
    )


@router.get("/source-directories", summary="各单位的源库目录（SQLite 源库文件只能放在其中）")
def list_source_directories(db_session: DB, actor: SignedIn) -> list[SourceDirectoryOut]:
    found = source_directories.list_source_directories(db_session, actor=actor)
    return [source_directory_out(d) for d in found]


@router.put(
    "/source-directories/{organization_id}",
    summary="为单位分配源库目录（平台管理员；目录在平台数据目录之下，不存在则创建）",
)
def assign_source_directory(
    request: Request,
    db_session: DB,
    actor: SignedIn,
    organization_id: Id,
    data: SourceDirectoryIn,
) -> SourceDirectoryOut:
    assigned = source_directories.assign_source_directory(
        db_session,
        actor=actor,
        settings=runtime_of(request).settings,
        organization_id=organization_id,
        path=data.path,
    )
    return source_directory_out(assigned)


@router.get("/bindings", summary="库表资源的同步绑定")
def list_bindings(db_session: DB, actor: SignedIn) -> list[BindingOut]:
    return [binding_out(b) for b in bindings.list_bindings(db_session, actor=actor)]


@router.post("/bindings", status_code=201, summary="绑定库表资源到源表（已绑定则修改）")
def save_binding(request: Request, db_session: DB, actor: SignedIn, data: BindingIn) -> BindingOut:
    binding = bindings.save_binding(
        db_session, actor=actor, settings=runtime_of(request).settings, data=data
    )
    return binding_out(binding)


@router.get("/bindings/{binding_id}", summary="库表绑定详情")
def get_binding(db_session: DB, actor: SignedIn, binding_id: Id) -> BindingOut:
    return binding_out(bindings.get_binding(db_session, actor=actor, binding_id=binding_id))


@router.post(
    "/bindings/{binding_id}/runs", status_code=202, summary="立即同步（全量、增量或主键比对）"
)
def request_run(
    request: Request, db_session: DB, actor: SignedIn, binding_id: Id, data: RunIn
) -> RunOut:
    queue = queue_of(request)
    run = runs.request_run(
        db_session, actor=actor, binding_id=binding_id, kind=data.kind, enqueue=queue.enqueue
    )
    return run_out(run)


@router.post("/bindings/{binding_id}/pause", summary="暂停按更新周期的自动同步")
def pause(db_session: DB, actor: SignedIn, binding_id: Id) -> BindingOut:
    binding = bindings.set_binding_state(
        db_session, actor=actor, binding_id=binding_id, state=BindingState.PAUSED
    )
    return binding_out(binding)


@router.post("/bindings/{binding_id}/resume", summary="恢复自动同步（立即运行一次）")
def resume(db_session: DB, actor: SignedIn, binding_id: Id) -> BindingOut:
    binding = bindings.set_binding_state(
        db_session, actor=actor, binding_id=binding_id, state=BindingState.ACTIVE
    )
    return binding_out(binding)


@router.get("/bindings/{binding_id}/runs", summary="同步记录")
def binding_runs(db_session: DB, actor: SignedIn, binding_id: Id) -> list[RunOut]:
    return [run_out(r) for r in run_views.list_runs(db_session, actor=actor, binding_id=binding_id)]


@router.get("/runs/{run_id}", summary="一次同步：进度、行数、校验和、水位")
def get_run(db_session: DB, actor: SignedIn, run_id: Id) -> RunOut:
    return run_out(run_views.get_run(db_session, actor=actor, run_id=run_id))


@router.get("/runs/{run_id}/rejected", summary="未写入的行及原因")
def rejected(db_session: DB, actor: SignedIn, run_id: Id) -> list[RejectedOut]:
    rows = run_views.rejected_rows(db_session, actor=actor, run_id=run_id)
    return [RejectedOut(row_key=r.row_key, reason=r.reason, row_text=r.row_text) for r in rows]
