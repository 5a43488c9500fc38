"""The gateway's (服务网关) nginx data plane as the platform sees it: what its configuration
is generated from (`data_plane`), its reloads on record (`record_reload`), and the calls read
from its access log written to the usage log and the audit log (`record_ingested`).

The decision nginx asks for on each call is `gateway_admission.authorize_call`; reading the
access log from its stored position is `exchange.gateway_ingest`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceStatus
from govshare.core.audit.service import record
from govshare.core.permissions import Actor, Role, require
from govshare.exchange.models import GatewayCall, ServiceEndpoint, ServiceInterface
from govshare.sharing.models import Grant, GrantState


@dataclass(frozen=True)
class PlaneInterface:
    """One published service interface, as the nginx configuration routes it."""

    resource_code: str
    base_url: str
    timeout_seconds: float
    endpoints: tuple[tuple[str, str], ...] = ()  # (method, path template)


@dataclass(frozen=True)
class DataPlane:
    """What the nginx configuration is generated from."""

    interfaces: list[PlaneInterface]
    rate_limits: list[int]  # every distinct calls-per-minute of an active grant, and the default


def data_plane(db_session: Session, *, actor: Actor, default_rate_limit: int) -> DataPlane:
    """The published service interfaces and the grants' rate limits, for `govshare gateway
    config`: nginx routes one location per interface, one limit_req zone per rate."""
    require(actor, Role.PLATFORM_OPERATOR, action="生成服务网关配置")
    rows = db_session.execute(
        select(
            Resource.code,
            ServiceInterface.base_url,
            ServiceInterface.timeout_seconds,
            ServiceInterface.id,
        )
        .join(Resource, Resource.id == ServiceInterface.resource_id)
        .where(Resource.status == ResourceStatus.PUBLISHED)
        .order_by(Resource.code)
    ).all()
    rates = db_session.execute(
        select(Grant.rate_limit)
        .where(Grant.state == GrantState.ACTIVE, Grant.rate_limit.is_not(None))
        .distinct()
    ).scalars()
    endpoints: dict[int, list[tuple[str, str]]] = {}
    for service_id, method, path in db_session.execute(
        select(ServiceEndpoint.service_id, ServiceEndpoint.method, ServiceEndpoint.path)
    ):
        endpoints.setdefault(service_id, []).append((method, path))
    return DataPlane(
        interfaces=[
            PlaneInterface(code, url, float(timeout), tuple(endpoints.get(interface_id, [])))
            for code, url, timeout, interface_id in rows
        ],
        rate_limits=sorted({default_rate_limit, *rates}),
    )


def record_reload(
    db_session: Session, *, actor: Actor, config_path: str, digest: str, interfaces: int
) -> None:
    """Puts a reload of the nginx data plane on record: which configuration (its SHA-256)
    with how many interfaces."""
    require(actor, Role.PLATFORM_OPERATOR, action="重新加载服务网关")
    record(
        db_session,
        actor=actor,
        action="exchange.gateway.reload",
        object_type="gateway_config",
        object_id=config_path[:200],
        details={"sha256": digest, "interfaces": interfaces},
    )


@dataclass(frozen=True)
class IngestedCall:
    """One call read from the data plane's access log, with what the platform's decision on
    it said (the auth response's headers nginx logged)."""

    request_id: str
    at: datetime
    actor: Actor
    resource_code: str
    resource_id: int | None
    provider_id: int | None
    consumer_id: int | None
    grant_id: int | None
    grant_number: str | None
    method: str
    path: str
    endpoint: str
    status: int
    bytes_out: int
    duration_ms: float
    error: str
    refused: bool  # answered by the data plane itself (auth refusal, rate limit, body size)


_CALL = GatewayCall.__table__
_INSERT = {
    name: insert(_CALL).on_conflict_do_nothing(index_elements=[_CALL.c.request_id])
    for name, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}


def record_ingested(db_session: Session, *, calls: list[IngestedCall]) -> int:
    """Writes calls of the data plane to the usage log, each with its audit entry (the
    caller as actor), in the caller's transaction. A request id already in the log is
    skipped: no call counts twice. Returns how many were new."""
    if not calls:
        return 0
    connection = db_session.connection()
    insert = _INSERT["postgresql" if connection.dialect.name == "postgresql" else "sqlite"]
    rows = [
        {
            "at": call.at,
            "resource_id": call.resource_id,
            "provider_id": call.provider_id,
            "consumer_id": call.consumer_id,
            "grant_id": call.grant_id,
            "caller": call.actor.label[:120],
            "method": call.method[:10],
            "path": call.path[:500],
            "endpoint": call.endpoint[:320],
            "status": call.status,
            "bytes_out": call.bytes_out,
            "duration_ms": round(call.duration_ms, 3),
            "error": call.error[:300],
            "request_id": call.request_id[:64],
        }
        for call in calls
    ]
    # One statement for the batch (a multi-row INSERT … RETURNING); rows whose request id
    # is already logged, or repeated within the batch, come back once or not at all.
    inserted = {
        request_id: call_id
        for call_id, request_id in connection.execute(
            insert.returning(_CALL.c.id, _CALL.c.request_id), rows
        )
    }
    added = 0
    for call in calls:
        call_id = inserted.pop(call.request_id[:64], None)
        if call_id is None:
            continue
        endpoint = call.endpoint[:320]
        error = call.error[:300]
        added += 1
        record(
            db_session,
            actor=call.actor,
            action="exchange.gateway.refuse" if call.refused else "exchange.gateway.call",
            object_type="gateway_call",
            object_id=call_id,
            details={
                "resource": call.resource_code,
                "grant": call.grant_number,
                "endpoint": endpoint or f"{call.method} {call.path}"[:320],
                "status": call.status,
                "bytes": call.bytes_out,
                "error": error,
                "request_id": call.request_id,
                "at": call.at.isoformat(),
            },
        )
    return added
