"""The gateway's usage log as its parties see it (SR§25): the calls a consumer made or a
provider answered, and an interface's statistics over the last days."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.errors import Forbidden, Invalid
from govshare.core.permissions import Actor, Role, require
from govshare.exchange.models import GatewayCall
from govshare.exchange.service.interfaces import STAT_PERIODS, get_interface, sees_upstream
from govshare.identity.models import Organization
from govshare.sharing.service.common import READERS, oversees


@dataclass(frozen=True)
class CallStat:
    """Calls of one consumer on one endpoint (or a total) over the period."""

    consumer_id: int | None
    consumer: str
    endpoint: str
    calls: int
    refused: int  # stopped by the gateway: no grant, outside the grant, over the rate limit
    errors: int  # 5xx: the upstream failed, timed out or could not be reached
    bytes_out: int
    p50_ms: float | None  # of the calls that were forwarded
    p95_ms: float | None


@dataclass(frozen=True)
class CallStats:
    days: int
    since: datetime
    rows: list[CallStat]
    total: CallStat


@dataclass(frozen=True)
class CallLog:
    """Logged calls, newest first, with the names of the departments they mention."""

    calls: list[GatewayCall]
    organizations: dict[int, str] = field(default_factory=dict)

    def name(self, organization_id: int | None) -> str:
        return self.organizations.get(organization_id, "") if organization_id else ""


# --- the usage log, as providers, consumers and overseers see it -----------------------------


def _visible_calls(actor: Actor) -> ColumnElement[bool]:
    """Row scope: overseers every call; a department the calls on its resources and its own."""
    if oversees(actor):
        return true()
    org = actor.organization_id
    return or_(GatewayCall.provider_id == org, GatewayCall.consumer_id == org)


def _names(db_session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db_session.execute(
        select(Organization.id, Organization.short_name, Organization.name).where(
            Organization.id.in_(ids)
        )
    ).all()
    return {r[0]: r[1] or r[2] for r in rows}


def call_log(
    db_session: Session,
    *,
    actor: Actor,
    interface_id: int | None = None,
    consumer_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> CallLog:
    """Logged gateway calls, newest first (SR§25): a provider sees every call on its
    interfaces, a consumer its own calls, overseers all. `before_id` pages back."""
    require(actor, *READERS, Role.SYSTEM, action="查看服务调用日志")
    if not 1 <= limit <= 500:
        raise Invalid("每页条数必须在 1 到 500 之间", field="limit")
    stmt = select(GatewayCall).where(_visible_calls(actor))
    if interface_id is not None:
        interface = get_interface(db_session, actor=actor, interface_id=interface_id)
        stmt = stmt.where(GatewayCall.resource_id == interface.resource_id)
    if consumer_id is not None:
        stmt = stmt.where(GatewayCall.consumer_id == consumer_id)
    if before_id is not None:
        stmt = stmt.where(GatewayCall.id < before_id)
    calls = list(db_session.execute(stmt.order_by(GatewayCall.id.desc()).limit(limit)).scalars())
    ids = {i for c in calls for i in (c.consumer_id, c.provider_id) if i is not None}
    return CallLog(calls, _names(db_session, ids))


_REFUSED = and_(GatewayCall.error != "", GatewayCall.status < 500)
_FAILED = GatewayCall.status >= 500
_SHARES = (0.5, 0.95)


def _measures(postgresql: bool) -> list[Any]:
    """count, refused, errors, bytes, forwarded — and on PostgreSQL p50 and p95 in the same
    pass (percentile_disc: the nearest rank, which SQLite's fallback reproduces exactly)."""
    measures: list[Any] = [
        func.count(GatewayCall.id),
        func.sum(case((_REFUSED, 1), else_=0)),
        func.sum(case((_FAILED, 1), else_=0)),
        func.coalesce(func.sum(GatewayCall.bytes_out), 0),
        func.sum(case((_REFUSED, 0), else_=1)),
    ]
    if postgresql:
        measures += [
            func.percentile_disc(share).within_group(GatewayCall.duration_ms).filter(~_REFUSED)
            for share in _SHARES
        ]
    return measures


def _nearest_ranks(
    db_session: Session, scope: list[ColumnElement[bool]], count: int
) -> list[float | None]:
    """p50 and p95 of the forwarded calls in `scope`, one ordered lookup each (SQLite)."""
    if count == 0:
        return [None, None]
    return [
        db_session.execute(
            select(GatewayCall.duration_ms)
            .where(*scope, ~_REFUSED)
            .order_by(GatewayCall.duration_ms)
            .offset(max(math.ceil(share * count) - 1, 0))
            .limit(1)
        ).scalar()
        for share in _SHARES
    ]


def call_stats(db_session: Session, *, actor: Actor, interface_id: int, days: int = 7) -> CallStats:
    """The provider's statistics of an interface over the last `days`: calls, refusals,
    errors, bytes and p50/p95 duration per consumer and endpoint, and in total."""
    interface = get_interface(db_session, actor=actor, interface_id=interface_id)
    if not sees_upstream(actor, interface):
        raise Forbidden("调用统计只向资源提供部门和监管单位提供")
    if days not in STAT_PERIODS:
        raise Invalid(f"统计周期只能是 {' 或 '.join(map(str, STAT_PERIODS))} 天", field="days")
    since = clock.now() - timedelta(days=days)
    scope = [GatewayCall.resource_id == interface.resource_id, GatewayCall.at >= since]
    postgresql = db_session.get_bind().dialect.name == "postgresql"
    measures = _measures(postgresql)
    grouped = db_session.execute(
        select(GatewayCall.consumer_id, GatewayCall.endpoint, *measures)
        .where(*scope)
        .group_by(GatewayCall.consumer_id, GatewayCall.endpoint)
    ).all()
    names = _names(db_session, {r[0] for r in grouped if r[0] is not None})

    def stat(consumer: str, key: tuple[Any, str], values: Any, where: list[Any]) -> CallStat:
        calls, refused, errors, bytes_out, forwarded = (int(v or 0) for v in values[:5])
        p50, p95 = values[5:] if postgresql else _nearest_ranks(db_session, where, forwarded)
        return CallStat(key[0], consumer, key[1], calls, refused, errors, bytes_out, p50, p95)

    rows = []
    for consumer_id, endpoint, *values in grouped:
        who = (
            GatewayCall.consumer_id.is_(None)
            if consumer_id is None
            else GatewayCall.consumer_id == consumer_id
        )
        consumer = names.get(consumer_id, "") if consumer_id else "（未识别的调用方）"
        where = [*scope, who, GatewayCall.endpoint == endpoint]
        rows.append(stat(consumer, (consumer_id, endpoint), values, where))
    rows.sort(key=lambda s: (-s.calls, s.consumer, s.endpoint))
    totals = db_session.execute(select(*measures).where(*scope)).one()
    return CallStats(days, since, rows, stat("合计", (None, ""), totals, scope))
