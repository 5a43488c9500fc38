"""Exchange API: service interfaces (服务接口, EXC-4) — register and change a provider's API,
list and show interfaces with their gateway address, the provider's call statistics and the
gateway's usage log. The gateway itself is `govshare.exchange.gateway` (outside /api/v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from govshare.core.inputs import Id
from govshare.core.permissions import Actor
from govshare.exchange.gateway import gateway_address
from govshare.exchange.models import GatewayCall, ServiceInterface
from govshare.exchange.service import gateway_log, interfaces
from govshare.exchange.service.gateway_log import CallStat
from govshare.exchange.service.interfaces import InterfaceIn
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/exchange", tags=["数据交换"])
StatDays = Annotated[int, Query(ge=1, le=max(interfaces.STAT_PERIODS))]
CallsLimit = Annotated[int, Query(ge=1, le=500)]


class RegisterIn(InterfaceIn):
    resource_id: Id


class EndpointOut(BaseModel):
    method: str
    path: str
    summary: str
    signature: str


class InterfaceOut(BaseModel):
    id: int
    resource_id: int
    resource_code: str
    resource_name: str
    provider: str
    gateway_url: str
    base_url: str | None  # the provider's own address: for the provider and overseers only
    timeout_seconds: float
    endpoints: list[EndpointOut]
    has_openapi: bool
    created_at: datetime
    created_by: str
    updated_at: datetime


def interface_out(request: Request, actor: Actor, interface: ServiceInterface) -> InterfaceOut:
    resource = interface.resource
    version = resource.current_version
    return InterfaceOut(
        id=interface.id,
        resource_id=resource.id,
        resource_code=resource.code,
        resource_name=version.name if version else "",
        provider=resource.provider.name,
        gateway_url=gateway_address(str(request.base_url), resource.code),
        base_url=interface.base_url if interfaces.sees_upstream(actor, interface) else None,
        timeout_seconds=interface.timeout_seconds,
        endpoints=[
            EndpointOut(method=e.method, path=e.path, summary=e.summary, signature=e.signature)
            for e in interface.endpoints
        ],
        has_openapi=interface.openapi is not None,
        created_at=interface.created_at,
        created_by=interface.created_by,
        updated_at=interface.updated_at,
    )


def _default_timeout(request: Request) -> float:
    return runtime_of(request).settings.gateway_timeout_seconds


@router.post("/interfaces", status_code=201, summary="登记服务接口（提供部门数据专员）")
def register(request: Request, db_session: DB, actor: SignedIn, data: RegisterIn) -> InterfaceOut:
    interface = interfaces.register_interface(
        db_session,
        actor=actor,
        resource_id=data.resource_id,
        data=InterfaceIn.model_validate(data.model_dump(exclude={"resource_id"})),
        default_timeout=_default_timeout(request),
    )
    return interface_out(request, actor, interface)


@router.get("/interfaces", summary="服务接口：本单位提供的和持有授权的；监管单位可见全部")
def list_all(request: Request, db_session: DB, actor: SignedIn) -> list[InterfaceOut]:
    return [
        interface_out(request, actor, i)
        for i in interfaces.list_interfaces(db_session, actor=actor)
    ]


@router.get("/interfaces/{interface_id}", summary="服务接口详情：接口列表和网关地址")
def show(request: Request, db_session: DB, actor: SignedIn, interface_id: Id) -> InterfaceOut:
    interface = interfaces.get_interface(db_session, actor=actor, interface_id=interface_id)
    return interface_out(request, actor, interface)


@router.put("/interfaces/{interface_id}", summary="修改服务接口：基础地址、超时、接口列表")
def update(
    request: Request, db_session: DB, actor: SignedIn, interface_id: Id, data: InterfaceIn
) -> InterfaceOut:
    interface = interfaces.update_interface(
        db_session,
        actor=actor,
        interface_id=interface_id,
        data=data,
        default_timeout=_default_timeout(request),
    )
    return interface_out(request, actor, interface)


@router.get(
    "/interfaces/{interface_id}/openapi",
    summary="接口文档（OpenAPI），服务器地址已换成网关地址",
)
def openapi(request: Request, db_session: DB, actor: SignedIn, interface_id: Id) -> dict[str, Any]:
    interface = interfaces.get_interface(db_session, actor=actor, interface_id=interface_id)
    address = gateway_address(str(request.base_url), interface.resource.code)
    if interface.openapi is None:
        paths: dict[str, Any] = {}
        for e in interface.endpoints:
            paths.setdefault(e.path, {})[e.method.lower()] = {"summary": e.summary}
        name = interface.resource.current_version.name if interface.resource.current_version else ""
        return {
            "openapi": "3.0.3",
            "info": {"title": name, "version": interface.updated_at.isoformat()},
            "servers": [{"url": address}],
            "paths": paths,
        }
    return {**interface.openapi, "servers": [{"url": address}]}


class CallStatOut(BaseModel):
    consumer_id: int | None
    consumer: str
    endpoint: str
    calls: int
    refused: int
    errors: int
    bytes_out: int
    p50_ms: float | None
    p95_ms: float | None


class CallStatsOut(BaseModel):
    days: int
    since: datetime
    rows: list[CallStatOut]
    total: CallStatOut


def _stat_out(stat: CallStat) -> CallStatOut:
    return CallStatOut.model_validate(stat, from_attributes=True)


@router.get(
    "/interfaces/{interface_id}/stats",
    summary="调用统计：各使用部门、各接口的调用次数、失败、耗时 p50/p95、流量（近 7 或 30 天）",
)
def stats(db_session: DB, actor: SignedIn, interface_id: Id, days: StatDays = 7) -> CallStatsOut:
    result = gateway_log.call_stats(db_session, actor=actor, interface_id=interface_id, days=days)
    return CallStatsOut(
        days=result.days,
        since=result.since,
        rows=[_stat_out(r) for r in result.rows],
        total=_stat_out(result.total),
    )


class CallOut(BaseModel):
    id: int
    at: datetime
    resource_id: int | None
    provider: str
    consumer_id: int | None
    consumer: str
    grant_id: int | None
    caller: str
    method: str
    path: str
    endpoint: str
    status: int
    bytes_out: int
    duration_ms: float
    error: str


def _calls_out(log: gateway_log.CallLog) -> list[CallOut]:
    def one(call: GatewayCall) -> CallOut:
        return CallOut(
            id=call.id,
            at=call.at,
            resource_id=call.resource_id,
            provider=log.name(call.provider_id),
            consumer_id=call.consumer_id,
            consumer=log.name(call.consumer_id),
            grant_id=call.grant_id,
            caller=call.caller,
            method=call.method,
            path=call.path,
            endpoint=call.endpoint,
            status=call.status,
            bytes_out=call.bytes_out,
            duration_ms=call.duration_ms,
            error=call.error,
        )

    return [one(c) for c in log.calls]


@router.get(
    "/interfaces/{interface_id}/calls",
    summary="接口的调用日志（最新在前），含被拒绝的调用；before_id 向前翻页",
)
def calls(
    db_session: DB,
    actor: SignedIn,
    interface_id: Id,
    limit: CallsLimit = 50,
    before_id: Id | None = None,
    consumer_id: Id | None = None,
) -> list[CallOut]:
    log = gateway_log.call_log(
        db_session,
        actor=actor,
        interface_id=interface_id,
        consumer_id=consumer_id,
        limit=limit,
        before_id=before_id,
    )
    return _calls_out(log)


@router.get(
    "/gateway-calls",
    summary="网关调用日志：提供部门看本单位接口的全部调用，使用部门看本单位的调用",
)
def gateway_calls(
    db_session: DB,
    actor: SignedIn,
    limit: CallsLimit = 50,
    before_id: Id | None = None,
    consumer_id: Id | None = None,
) -> list[CallOut]:
    log = gateway_log.call_log(
        db_session, actor=actor, consumer_id=consumer_id, limit=limit, before_id=before_id
    )
    return _calls_out(log)
