"""Table bindings (库表绑定, EXC-2): a published table resource is bound to the source table or
view it is copied from, with its key columns and, for incremental sync, a change column.

The platform checks the binding against the real source before saving it (the table is
there, every mapped column is there) and takes each column's type from the source, so the
center table matches what is actually delivered. Runs follow the resource's update
frequency (更新周期); an irregular resource is synchronised on demand only.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import (
    Resource,
    ResourceFormat,
    ResourceStatus,
    ResourceVersion,
    UpdateFrequency,
)
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.core.settings import Settings
from govshare.exchange import engine
from govshare.exchange.engine.model import CHANGE_TYPES
from govshare.exchange.models import BindingState, TableBinding
from govshare.exchange.schemas import BindingIn
from govshare.exchange.service import connections

MANAGERS = (Role.DATA_OFFICER,)
VIEWERS = (
    Role.DATA_OFFICER,
    Role.DEPARTMENT_HEAD,
    Role.DEPARTMENT_STAFF,
    Role.PLATFORM_OPERATOR,
    Role.AUTHORITY,
    Role.AUDITOR,
)
TABLE_FORMATS = (ResourceFormat.DATABASE, ResourceFormat.SPREADSHEET)

# How often a binding runs for each declared update frequency. Realtime resources are
# polled every few minutes: the incremental run costs only the rows changed.
RUN_INTERVALS: dict[UpdateFrequency, timedelta | None] = {
    UpdateFrequency.REALTIME: timedelta(minutes=5),
    UpdateFrequency.DAILY: timedelta(days=1),
    UpdateFrequency.WEEKLY: timedelta(days=7),
    UpdateFrequency.MONTHLY: timedelta(days=30),
    UpdateFrequency.QUARTERLY: timedelta(days=91),
    UpdateFrequency.HALF_YEARLY: timedelta(days=182),
    UpdateFrequency.YEARLY: timedelta(days=365),
    UpdateFrequency.IRREGULAR: None,
}


def save_binding(
    db_session: Session, *, actor: Actor, settings: Settings, data: BindingIn
) -> TableBinding:
    """Binds the resource (or changes its binding) after checking the source table."""
    require(actor, *MANAGERS, action="绑定库表资源")
    resource = _own_table_resource(db_session, actor, data.resource_id)
    conn = connections.get_connection(db_session, actor=actor, connection_id=data.connection_id)
    if conn.organization_id != resource.provider_id:
        raise Invalid("只能使用本单位登记的数据库连接", field="connection_id")
    items = [i.name for i in resource.current_version.items]  # type: ignore[union-attr]
    mapped = {c.item: c.column for c in data.columns}
    if unknown := [i for i in mapped if i not in items]:
        raise Invalid(f"“{unknown[0]}”不是该资源的信息项", field="columns")
    if missing := [i for i in items if i not in mapped]:
        raise Invalid(f"信息项“{'”“'.join(missing)}”还没有对应的源字段", field="columns")
    source_types = _source_columns(conn, settings, data.source_table)
    for column in [*mapped.values(), *([data.change_column] if data.change_column else [])]:
        if column not in source_types:
            raise Invalid(f"源表 {data.source_table} 中没有字段 {column}", field="columns")
    _check_key_and_change(data, set(mapped.values()), source_types)
    binding = db_session.execute(
        select(TableBinding).where(TableBinding.resource_id == resource.id)
    ).scalar_one_or_none()
    now = clock.now()
    if binding is None:
        binding = TableBinding(
            resource_id=resource.id,
            center_table=center_table_name(resource.code),
            state=BindingState.ACTIVE,
            next_run_at=now,
            created_at=now,
            created_by=actor.label,
        )
        db_session.add(binding)
    binding.connection_id = conn.id
    binding.source_table = data.source_table
    binding.columns = [
        {"item": item, "column": column, "type": source_types[column]}
        for item, column in mapped.items()
    ]
    change = data.change_column
    if change and change not in mapped.values():  # kept in the center for incremental pushes
        binding.columns.append({"item": "", "column": change, "type": source_types[change]})
    binding.key_columns = list(data.key_columns)
    binding.change_column = data.change_column
    binding.change_kind = data.change_kind if data.change_column else None
    binding.updated_at = now
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="exchange.binding.save",
        object_type="binding",
        object_id=binding.id,
        details={
            "resource": resource.code,
            "connection": conn.name,
            "source_table": binding.source_table,
            "key": binding.key_columns,
            "change_column": binding.change_column,
            "columns": len(binding.columns),
        },
    )
    return binding


def set_binding_state(
    db_session: Session, *, actor: Actor, binding_id: int, state: BindingState
) -> TableBinding:
    """Pauses or resumes a binding's scheduled runs; a resumed binding runs at once."""
    require(actor, *MANAGERS, action="暂停或恢复库表同步")
    binding = get_binding(db_session, actor=actor, binding_id=binding_id)
    if binding.resource.provider_id != actor.organization_id:
        raise Forbidden("只能管理本单位资源的库表同步")
    binding.state = state
    binding.next_run_at = clock.now() if state is BindingState.ACTIVE else None
    binding.updated_at = clock.now()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=f"exchange.binding.{'resume' if state is BindingState.ACTIVE else 'pause'}",
        object_type="binding",
        object_id=binding.id,
        details={"resource": binding.resource.code},
    )
    return binding


def list_bindings(db_session: Session, *, actor: Actor) -> list[TableBinding]:
    """A department's bindings; the operator, authority and auditors see all."""
    require(actor, *VIEWERS, action="查看库表同步")
    query = select(TableBinding).join(Resource).order_by(Resource.code)
    if not actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR):
        query = query.where(Resource.provider_id == actor.organization_id)
    return list(db_session.execute(query).scalars())


def get_binding(db_session: Session, *, actor: Actor, binding_id: int) -> TableBinding:
    require(actor, *VIEWERS, action="查看库表同步")
    binding = db_session.get(TableBinding, binding_id)
    if binding is None:
        raise NotFound("库表绑定不存在")
    if not actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR) and (
        binding.resource.provider_id != actor.organization_id
    ):
        raise Forbidden("只能查看本单位资源的库表同步")
    return binding


def binding_of_resource(db_session: Session, resource_id: int) -> TableBinding | None:
    """The resource's binding, for delivery paths that have already checked the grant."""
    return db_session.execute(
        select(TableBinding).where(TableBinding.resource_id == resource_id)
    ).scalar_one_or_none()


def next_run_after(binding: TableBinding, moment: datetime) -> datetime | None:
    """When the binding runs next by its resource's update frequency (None: on demand)."""
    interval = RUN_INTERVALS[binding.resource.current_version.update_frequency]  # type: ignore[union-attr]
    return None if interval is None else moment + interval


def is_table_version(version: ResourceVersion) -> bool:
    """Whether a catalog version describes table data, which a binding may carry."""
    return version.format in TABLE_FORMATS or "table" in version.share_methods


def center_table_name(code: str) -> str:
    """The center table of a resource: its catalog code in identifier form."""
    return "r_" + re.sub(r"[^a-z0-9]+", "_", code.lower()).strip("_")


def _own_table_resource(db_session: Session, actor: Actor, resource_id: int) -> Resource:
    resource = db_session.get(Resource, resource_id)
    if resource is None:
        raise NotFound("资源不存在")
    if resource.provider_id != actor.organization_id:
        raise Forbidden("只能绑定本单位提供的资源")
    if resource.status is not ResourceStatus.PUBLISHED or resource.current_version is None:
        raise Invalid("只能绑定已发布的资源", field="resource_id")
    if not is_table_version(resource.current_version):
        raise Invalid(
            "该资源不是库表类资源（格式应为数据库或电子表格，或共享方式含库表）",
            field="resource_id",
        )
    return resource


def _check_key_and_change(data: BindingIn, mapped: set[str], source_types: dict[str, str]) -> None:
    """What the sync engine would refuse at every run, refused now with the field named."""
    if stray := [k for k in data.key_columns if k not in mapped]:
        raise Invalid(f"主键字段 {stray[0]} 须是已对应到信息项的源字段之一", field="key_columns")
    change = data.change_column
    if change and source_types[change] not in CHANGE_TYPES:
        raise Invalid(
            f"更新标识字段 {change} 是{TYPE_WORDS.get(source_types[change], source_types[change])}"
            "，须为日期时间、日期或整数（递增编号）字段，才能按它增量同步",
            field="change_column",
        )


TYPE_WORDS = {"text": "文本", "double": "小数（浮点）", "boolean": "是否"}


def _source_columns(conn: connections.Connection, settings: Settings, table: str) -> dict[str, str]:
    try:
        found = engine.list_columns(
            connections.url_of(conn, settings), connections.qualified(conn, table)
        )
    except engine.EngineError as exc:
        raise Invalid(f"无法读取源表 {table}：{exc}", field="source_table") from None
    return {c.name: c.type for c in found}
