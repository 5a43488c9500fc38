"""Pushes to a consumer's front-end database (前置库推送, EXC-2/EXC-5): the consumer names its
front-end connection and a target table; the platform creates the table with mapped types and
keeps it in sync from the center, full then incremental, on the same exactly-once terms as
the sync into the center.

What is pushed is the grant's share only: its fields, its rows and its masking are compiled
into the query that reads the center, so nothing outside the grant leaves the platform. Every
run asks `check_access` first: a suspended or ended grant stops the push at once.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.core.settings import Settings
from govshare.exchange import engine, masking, scope
from govshare.exchange.center import Center
from govshare.exchange.engine import mysql as mysql_engine
from govshare.exchange.engine import postgres as pg_engine
from govshare.exchange.engine import sqlite as sqlite_engine
from govshare.exchange.engine.model import LOAD_SUFFIX, MAX_TABLE_NAME, OLD_SUFFIX, STATE_TABLE
from govshare.exchange.models import (
    Connection,
    ConnectionRole,
    DatabaseKind,
    Push,
    PushState,
    TableBinding,
)
from govshare.exchange.schemas import PushIn
from govshare.exchange.service import bindings, connections, delivery
from govshare.sharing.models import Grant
from govshare.sharing.service import access, grants
from govshare.sharing.service.common import load_filter, load_masking

MANAGERS = (Role.DATA_OFFICER,)
ROW_KEY = "govshare_row_key"  # added when the grant masks or leaves out a key column
CHANGED_AT = "govshare_changed_at"  # added when the grant leaves out the change column
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)  # every department's, to read
VIEWERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF, *OVERSEERS)


def create_push(
    db_session: Session, *, actor: Actor, data: PushIn, settings: Settings | None = None
) -> Push:
    """Sets up the push; its first (full) run is due at once. With `settings`, the front-end
    database is asked first whether the target table exists already: a full run replaces
    the target table whole, so a table of the consumer's own is never taken over."""
    require(actor, *MANAGERS, action="创建前置库推送")
    grant = db_session.get(Grant, data.grant_id)
    if grant is None or grant.consumer_id != actor.organization_id:
        raise NotFound("本单位没有这项授权", field="grant_id")
    decision = access.check_access(db_session, actor=actor, resource_id=grant.resource_id)
    if not decision.allowed or decision.grant is None or decision.grant.id != grant.id:
        raise Forbidden(
            decision.reason if not decision.allowed else "该授权不是本单位当前有效的授权",
            field="grant_id",
        )
    binding = bindings.binding_of_resource(db_session, grant.resource_id)
    if binding is None:
        raise Invalid("该资源尚未接入库表同步，暂不能推送", field="grant_id")
    conn = db_session.get(Connection, data.connection_id)
    if conn is None:
        raise NotFound("数据库连接不存在", field="connection_id")
    if conn.organization_id != actor.organization_id:
        raise Forbidden("只能推送到本单位登记的前置交换库连接", field="connection_id")
    if conn.role is not ConnectionRole.FRONTEND:
        raise Invalid("请选择本单位登记的前置交换库连接", field="connection_id")
    _check_table_name(data.target_table)
    granted = delivery.grant_scope(binding, grant)
    clash = db_session.execute(
        select(Push.id).where(Push.connection_id == conn.id, Push.target_table == data.target_table)
    ).scalar_one_or_none()
    if clash is not None:
        raise Conflict(f"前置库中的表 {data.target_table} 已用于另一项推送", field="target_table")
    if settings is not None:
        _check_table_free(conn, data.target_table, settings)
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
            "columns": [*granted.columns, *_layout(binding, granted).added],
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
    if not actor.has(*OVERSEERS):
        query = query.where(Grant.consumer_id == actor.organization_id)
    return list(db_session.execute(query).scalars())


def get_push(db_session: Session, *, actor: Actor, push_id: int) -> Push:
    require(actor, *VIEWERS, action="查看前置库推送")
    push = db_session.get(Push, push_id)
    if push is None:
        raise NotFound("前置库推送不存在")
    if not actor.has(*OVERSEERS) and push.grant.consumer_id != actor.organization_id:
        raise Forbidden("只能查看本单位的前置库推送")
    return push


@dataclass(frozen=True)
class PushColumn:
    """One column of the target table: the catalog data item, its column, the portable type
    the target gets (masked values are text), the database type where the target is known,
    and the grant's masking of it."""

    item: str
    column: str
    type: str
    target_type: str | None
    mask: str | None
    key: bool


@dataclass(frozen=True)
class PushScope:
    """What a push of a grant carries: the target table's columns and the grant's row
    conditions; `problem` says why the grant cannot be pushed ("" when it can)."""

    grant: Grant
    binding: TableBinding | None
    columns: tuple[PushColumn, ...]
    conditions: tuple[str, ...]
    problem: str = ""


def push_options(db_session: Session, *, actor: Actor) -> list[PushScope]:
    """The department's grants a push could carry, for the new-push form: each resource's
    current usable grant on table data, with what it would push or why it cannot."""
    require(actor, *MANAGERS, action="创建前置库推送")
    today = clock.today()
    seen: set[int] = set()
    out: list[PushScope] = []
    for grant in grants.my_grants(db_session, actor=actor):  # newest first, as check_access
        if grant.resource_id in seen or not grant.usable(today):
            continue
        if not bindings.is_table_version(grant.version):
            continue
        seen.add(grant.resource_id)
        out.append(_scope(db_session, grant, None))
    return out


def push_scope(db_session: Session, *, actor: Actor, push_id: int) -> PushScope:
    """What the push carries into its target table, column by column."""
    push = get_push(db_session, actor=actor, push_id=push_id)
    return _scope(db_session, push.grant, push.connection.kind)


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
    decision = access.check_access(db_session, actor=system, resource_id=grant.resource_id)
    if not decision.allowed or decision.grant is None or decision.grant.id != grant.id:
        raise Forbidden(decision.reason if not decision.allowed else "授权已被新的授权替代")
    binding = bindings.binding_of_resource(db_session, grant.resource_id)
    if binding is None:
        raise NotFound("资源的库表绑定已不存在")
    granted = delivery.grant_scope(binding, grant)
    layout = _layout(binding, granted)
    select_ = delivery.scoped_query(center, binding, granted, key=delivery.masking_key(settings))
    table = select_.get_final_froms()[0]
    types = {c["column"]: c["type"] for c in binding.columns}
    masked = set(granted.masks)
    columns = [engine.Column(c, "text" if c in masked else types[c]) for c in granted.columns]
    key, change = tuple(binding.key_columns), binding.change_column
    if layout.row_key:
        secret = row_key_secret(settings, grant)
        expression = masking.row_key_expression(
            center.dialect, [table.c[k] for k in key], key=secret
        )
        select_ = select_.add_columns(expression.label(ROW_KEY))
        columns.append(engine.Column(ROW_KEY, "text"))
        key = (ROW_KEY,)
    if layout.changed_at and change is not None:
        select_ = select_.add_columns(table.c[change].label(CHANGED_AT))
        columns.append(engine.Column(CHANGED_AT, types[change]))
        change = CHANGED_AT
    return engine.SyncSpec(
        source_url=center.url,
        source_query=scope.literal_sql(select_, center.dialect),
        source_table=binding.center_table,
        target_url=connections.url_of(push.connection, settings),
        target_schema=push.connection.schema or None,
        target_table=push.target_table,
        columns=tuple(columns),
        key=key,
        change_column=change,
        state_name=f"push:{push.id}",
    )


def row_key_secret(settings: Settings, grant: Grant) -> bytes:
    """The key of a push's row keys: one per grant, so the same person's rows in two
    departments' front-end databases cannot be matched by their row keys."""
    label = f"push row key:{grant.number}".encode()
    return hmac.new(delivery.masking_key(settings), label, hashlib.sha256).digest()


@dataclass(frozen=True)
class _Layout:
    """The columns the platform adds to a grant's fields in the target table. `row_key`:
    the grant masks or leaves out a key column, so rows are keyed by ROW_KEY, a keyed hash of
    the center's key (masked keys collide: many ID numbers share a masked form). `changed_at`:
    the grant leaves out (or masks) the change column, which incremental runs need."""

    row_key: bool
    changed_at: bool

    @property
    def added(self) -> list[str]:
        return [name for name, on in ((ROW_KEY, self.row_key), (CHANGED_AT, self.changed_at)) if on]


def _layout(binding: TableBinding, granted: delivery.Scope) -> _Layout:
    def hidden(column: str) -> bool:
        return column not in granted.columns or column in granted.masks

    change = binding.change_column
    return _Layout(
        row_key=any(hidden(k) for k in binding.key_columns),
        changed_at=change is not None and hidden(change),
    )


# --- inside --------------------------------------------------------------------------------

TARGET_TYPES = {
    DatabaseKind.POSTGRESQL: pg_engine.TYPES,
    DatabaseKind.MYSQL: mysql_engine.TYPES,
    DatabaseKind.SQLITE: sqlite_engine.TYPES,
}


def _scope(db_session: Session, grant: Grant, kind: DatabaseKind | None) -> PushScope:
    binding = bindings.binding_of_resource(db_session, grant.resource_id)
    conditions = tuple(c.describe() for c in load_filter(grant.row_filter))
    if binding is None:
        return PushScope(
            grant, None, (), conditions, "提供部门尚未把该资源接入库表同步，暂不能推送"
        )
    try:
        granted = delivery.grant_scope(binding, grant)
    except DomainError as exc:
        return PushScope(grant, binding, (), conditions, exc.message)
    masks = {
        m.field: m.rule.label.replace(" n ", f" {m.n} ") if m.n else m.rule.label
        for m in load_masking(grant.masking)
    }
    types = TARGET_TYPES.get(kind) if kind else None
    layout = _layout(binding, granted)
    keyed_by = {ROW_KEY} if layout.row_key else set(binding.key_columns)

    def target_type(portable: str, key: bool) -> str | None:
        if kind is DatabaseKind.MYSQL and portable == "text" and key:
            return mysql_engine.KEY_TEXT  # MySQL keys text as a bounded VARCHAR
        return types[portable] if types else None

    columns = []
    for field in granted.fields:
        portable = "text" if field.mask is not None else field.type
        key = field.column in keyed_by
        columns.append(
            PushColumn(
                item=field.item,
                column=field.column,
                type=portable,
                target_type=target_type(portable, key),
                mask=masks.get(field.item) if field.mask is not None else None,
                key=key,
            )
        )
    if layout.row_key:
        columns.append(
            PushColumn("行标识（平台生成）", ROW_KEY, "text", target_type("text", True), None, True)
        )
    if layout.changed_at and binding.change_column is not None:
        portable = next(c["type"] for c in binding.columns if c["column"] == binding.change_column)
        columns.append(
            PushColumn(
                "更新时间（平台记录）",
                CHANGED_AT,
                portable,
                target_type(portable, False),
                None,
                False,
            )
        )
    problem = ""
    if not grant.usable(clock.today()):
        status = grants.status_label(grant, clock.today())
        reason = f"：{grant.state_reason}" if grant.state_reason else ""
        problem = f"授权 {grant.number} {status}{reason}，推送随之停止"
    return PushScope(grant, binding, tuple(columns), conditions, problem)


def _check_table_name(table: str) -> None:
    """Names the engine would refuse or use for itself are refused here, with the rule."""
    if len(table) > MAX_TABLE_NAME:
        raise Invalid(f"表名不能超过 {MAX_TABLE_NAME} 个字符", field="target_table")
    if table.lower().startswith(STATE_TABLE) or table.lower().endswith((LOAD_SUFFIX, OLD_SUFFIX)):
        raise Invalid(
            f"表名不能以 {STATE_TABLE} 开头，也不能以 {LOAD_SUFFIX} 或 {OLD_SUFFIX} 结尾"
            "（平台同步时自己使用这些表）",
            field="target_table",
        )


def _check_table_free(conn: Connection, table: str, settings: Settings) -> None:
    """Refuses a target table the front-end database already has."""
    try:
        engine.list_columns(connections.url_of(conn, settings), connections.qualified(conn, table))
    except engine.SourceFailed:
        return  # no such table (or none readable as one): the first run creates it
    except engine.EngineError as exc:
        raise Invalid(f"无法连接前置交换库：{exc.message}", field="connection_id") from None
    raise Conflict(
        f"前置库中已有表 {table}。推送会按授权整表建表并替换同名表，"
        "为免覆盖本单位已有的数据，请换一个新表名",
        field="target_table",
    )
