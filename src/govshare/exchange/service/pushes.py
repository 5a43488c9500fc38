"""Pushes to a consumer's front-end database (前置库推送, EXC-2/EXC-5): the consumer names its
front-end connection and a target table; the platform creates the table with mapped types and
keeps it in sync from the center, full then incremental, on the same exactly-once terms as
the sync into the center.

What is pushed is the grant's share only: its fields, its rows and its masking are compiled
into the query that reads the center, so nothing outside the grant leaves the platform. Every
run asks `check_access` first: a suspended or ended grant stops the push at once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.core.settings import Settings
from govshare.exchange import engine, scope
from govshare.exchange.center import Center
from govshare.exchange.models import ConnectionRole, Push, PushState
from govshare.exchange.schemas import PushIn
from govshare.exchange.service import bindings, connections, delivery
from govshare.sharing.models import Grant
from govshare.sharing.service import grants

MANAGERS = (Role.DATA_OFFICER,)
VIEWERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF, Role.PLATFORM_OPERATOR)


def create_push(db_session: Session, *, actor: Actor, data: PushIn) -> Push:
    """Sets up the push; its first (full) run is due at once."""
    require(actor, *MANAGERS, action="创建前置库推送")
    grant = db_session.get(Grant, data.grant_id)
    if grant is None or grant.consumer_id != actor.organization_id:
        raise NotFound("本单位没有这项授权")
    decision = grants.check_access(db_session, actor=actor, resource_id=grant.resource_id)
    if not decision.allowed or decision.grant is None or decision.grant.id != grant.id:
        raise Forbidden(
            decision.reason if not decision.allowed else "该授权不是本单位当前有效的授权"
        )
    binding = bindings.binding_of_resource(db_session, grant.resource_id)
    if binding is None:
        raise Invalid("该资源尚未接入库表同步，暂不能推送", field="grant_id")
    conn = connections.get_connection(db_session, actor=actor, connection_id=data.connection_id)
    if conn.organization_id != actor.organization_id or conn.role is not ConnectionRole.FRONTEND:
        raise Invalid("请选择本单位登记的前置交换库连接", field="connection_id")
    granted = delivery.grant_scope(binding, grant)
    if missing := [k for k in binding.key_columns if k not in granted.columns]:
        raise Invalid(
            f"授权的信息项不含主键字段（{', '.join(missing)}），无法保持前置库同步",
            field="grant_id",
        )
    clash = db_session.execute(
        select(Push.id).where(Push.connection_id == conn.id, Push.target_table == data.target_table)
    ).scalar_one_or_none()
    if clash is not None:
        raise Conflict(f"前置库中的表 {data.target_table} 已用于另一项推送", field="target_table")
    push = Push(
        grant_id=grant.id,
        connection_id=conn.id,
        target_table=data.target_table,
        state=PushState.ACTIVE,
        next_run_at=clock.now(),
        created_at=clock.now(),
        created_by=actor.label,
    )
    db_session.add(push)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="exchange.push.create",
        object_type="push",
        object_id=push.id,
        details={
            "grant": grant.number,
            "connection": conn.name,
            "target_table": push.target_table,
            "columns": list(granted.columns),
        },
    )
    return push


def set_push_state(
    db_session: Session, *, actor: Actor, push_id: int, state: PushState, reason: str = ""
) -> Push:
    """Pauses, resumes or stops a push (the consumer's choice)."""
    require(actor, *MANAGERS, action="管理前置库推送")
    push = get_push(db_session, actor=actor, push_id=push_id)
    if push.grant.consumer_id != actor.organization_id:
        raise Forbidden("只能管理本单位的前置库推送")
    if push.state is PushState.STOPPED:
        raise Conflict("推送已停止，不能再变更")
    push.state = state
    push.state_reason = reason
    push.next_run_at = clock.now() if state is PushState.ACTIVE else None
    db_session.flush()
    action = {PushState.ACTIVE: "resume", PushState.PAUSED: "pause", PushState.STOPPED: "stop"}
    record(
        db_session,
        actor=actor,
        action=f"exchange.push.{action[state]}",
        object_type="push",
        object_id=push.id,
        details={"grant": push.grant.number, "reason": reason},
    )
    return push


def list_pushes(db_session: Session, *, actor: Actor) -> list[Push]:
    require(actor, *VIEWERS, action="查看前置库推送")
    query = select(Push).join(Grant).order_by(Push.id.desc())
    if not actor.has(Role.PLATFORM_OPERATOR):
        query = query.where(Grant.consumer_id == actor.organization_id)
    return list(db_session.execute(query).scalars())


def get_push(db_session: Session, *, actor: Actor, push_id: int) -> Push:
    require(actor, *VIEWERS, action="查看前置库推送")
    push = db_session.get(Push, push_id)
    if push is None:
        raise NotFound("前置库推送不存在")
    if not actor.has(Role.PLATFORM_OPERATOR) and push.grant.consumer_id != actor.organization_id:
        raise Forbidden("只能查看本单位的前置库推送")
    return push


def push_spec(
    db_session: Session, *, push: Push, settings: Settings, center: Center
) -> engine.SyncSpec:
    """The engine's instructions for one run of the push. Asks `check_access` as the
    consumer's system first, so a suspended grant stops the run (Forbidden, with the reason)."""
    grant = push.grant
    system = Actor(
        label=f"push:{push.id}",
        roles=frozenset({Role.SYSTEM}),
        organization_id=grant.consumer_id,
    )
    decision = grants.check_access(db_session, actor=system, resource_id=grant.resource_id)
    if not decision.allowed or decision.grant is None or decision.grant.id != grant.id:
        raise Forbidden(decision.reason if not decision.allowed else "授权已被新的授权替代")
    binding = bindings.binding_of_resource(db_session, grant.resource_id)
    if binding is None:
        raise NotFound("资源的库表绑定已不存在")
    granted = delivery.grant_scope(binding, grant)
    select_ = delivery.scoped_query(center, binding, granted, key=delivery.masking_key(settings))
    types = {c["column"]: c["type"] for c in binding.columns}
    masked = set(granted.masks)
    return engine.SyncSpec(
        source_url=center.url,
        source_query=scope.literal_sql(select_, center.dialect),
        source_table=binding.center_table,
        target_url=connections.url_of(push.connection, settings),
        target_schema=push.connection.schema or None,
        target_table=push.target_table,
        columns=tuple(
            engine.Column(c, "text" if c in masked else types[c]) for c in granted.columns
        ),
        key=tuple(binding.key_columns),
        change_column=binding.change_column if binding.change_column in granted.columns else None,
        state_name=f"push:{push.id}",
    )
