"""Service interfaces (服务接口, EXC-4): a provider's HTTP API published behind the platform's
gateway, and the gateway's usage log (SR§25).

A provider's data officer registers the API of one of its published resources — the base URL,
a timeout, and the endpoints (method and path template) read from rows or from an OpenAPI 3
document. Consumers never see the base URL: they call `/gateway/<resource code>/<path>` with
their own token, and every call is decided here (`admit_call`: token, interface, grant, the
grant's endpoints, the per-minute rate limit) and logged (`log_call`), refused calls included.
Rate-limit counts live in the database, so any number of app processes share them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from govshare.catalog.models import (
    Resource,
    ResourceFormat,
    ResourceStatus,
    ResourceVersion,
    ShareMethod,
)
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.exchange.models import GatewayCall, RateWindow, ServiceEndpoint, ServiceInterface
from govshare.identity.models import Organization
from govshare.sharing.models import Grant
from govshare.sharing.service import grants
from govshare.sharing.service.common import ANSWERERS, READERS, oversees

MANAGERS = (*ANSWERERS, Role.PLATFORM_OPERATOR)  # the provider's data officer or head
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
OPENAPI_MAX_BYTES = 1_000_000
STAT_PERIODS = (7, 30)  # days the provider's statistics cover
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
_SEGMENT = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%-]*$")


class RateLimited(DomainError):
    """The grant's calls per minute are used up; `retry_after` says when the next minute starts."""

    status = 429
    kind = "rate-limited"
    title = "调用过于频繁"


# --- inputs --------------------------------------------------------------------------------


class EndpointIn(BaseModel):
    """One endpoint: a method and a path template such as /enterprises/{uscc}."""

    model_config = ConfigDict(str_strip_whitespace=True)

    method: str
    path: str = Field(min_length=1, max_length=300)
    summary: str = Field(default="", max_length=300)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        method = value.upper()
        if method not in METHODS:
            raise ValueError(f"请求方法只能是 {'、'.join(METHODS)}")
        return method

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("路径须以 / 开头，如 /enterprises/{uscc}")
        if "?" in value or "#" in value:
            raise ValueError("路径不能包含查询参数（? 之后的部分）")
        for segment in value.split("/")[1:]:
            if segment in (".", ".."):
                raise ValueError("路径不能包含 . 或 .. 段")
            if not _SEGMENT.match(_PARAM.sub("p", segment)):
                raise ValueError(f"路径段“{segment}”含有不允许的字符")
        return value

    @property
    def signature(self) -> str:
        return f"{self.method} {self.path}"


class InterfaceIn(BaseModel):
    """What a provider states about its API. With `openapi`, the endpoints are read from the
    document (and the base URL from its first server when left empty)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    base_url: str = Field(default="", max_length=500)
    timeout_seconds: float | None = Field(default=None, gt=0, le=120)
    endpoints: list[EndpointIn] = Field(default_factory=list, max_length=500)
    openapi: dict[str, Any] | None = None


# --- what the gateway and the pages get back -------------------------------------------------


@dataclass(frozen=True)
class Admission:
    """The gateway's decision on one call: where to forward it, or why it was refused (the
    refusal is already logged). Plain values, safe to use after the transaction."""

    actor: Actor
    method: str
    path: str
    resource_code: str
    resource_id: int | None = None
    provider_id: int | None = None
    consumer_id: int | None = None
    grant_id: int | None = None
    grant_number: str | None = None
    endpoint: str = ""
    base_url: str = ""
    timeout_seconds: float = 10.0
    refusal: DomainError | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


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


# --- registration --------------------------------------------------------------------------


def parse_openapi(document: dict[str, Any]) -> tuple[list[EndpointIn], str]:
    """The endpoints of an OpenAPI 3 document and its first absolute server URL ("" if none)."""
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3."):
        raise Invalid("只支持 OpenAPI 3 文档（须有 openapi: 3.x 字段）", field="openapi")
    if len(json.dumps(document, ensure_ascii=False)) > OPENAPI_MAX_BYTES:
        raise Invalid("OpenAPI 文档不能超过 1 MB", field="openapi")
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise Invalid("OpenAPI 文档中没有 paths，读不出接口", field="openapi")
    endpoints: list[EndpointIn] = []
    for path, operations in paths.items():
        if not isinstance(operations, dict):
            continue
        for method, operation in operations.items():
            if method.upper() not in METHODS or not isinstance(operation, dict):
                continue
            summary = str(operation.get("summary") or operation.get("operationId") or "")
            try:
                endpoints.append(EndpointIn(method=method, path=str(path), summary=summary[:300]))
            except ValueError as exc:
                raise Invalid(
                    f"OpenAPI 文档的路径“{path}”无效：{_reason(exc)}", field="openapi"
                ) from None
    if not endpoints:
        raise Invalid("OpenAPI 文档中没有可用的接口（GET、POST 等）", field="openapi")
    servers = document.get("servers") or []
    first = servers[0].get("url", "") if servers and isinstance(servers[0], dict) else ""
    return endpoints, first if str(first).startswith(("http://", "https://")) else ""


def _reason(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return str(errors()[0]["msg"]).removeprefix("Value error, ")
    return str(exc)


def _check_base_url(value: str) -> str:
    if not value:
        raise Invalid("请填写服务的基础地址，如 http://10.1.2.3:8080/api", field="base_url")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("基础地址须以 http:// 或 https:// 开头并包含主机名", field="base_url")
    if parts.username or parts.password:
        raise Invalid("基础地址不能包含用户名或密码", field="base_url")
    if parts.query or parts.fragment:
        raise Invalid("基础地址不能包含查询参数或锚点", field="base_url")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise Invalid("基础地址的端口号无效", field="base_url") from None
    return value.rstrip("/")


def _endpoints_of(data: InterfaceIn) -> tuple[list[EndpointIn], str]:
    """The endpoints and base URL the input states, from its rows or its OpenAPI document."""
    base_url = data.base_url
    endpoints = data.endpoints
    if data.openapi is not None:
        if endpoints:
            raise Invalid("已提供 OpenAPI 文档，接口从文档读取，无需再逐条填写", field="endpoints")
        endpoints, server = parse_openapi(data.openapi)
        base_url = base_url or server
    if not endpoints:
        raise Invalid("请至少登记一个接口（请求方法和路径）", field="endpoints")
    seen: set[str] = set()
    for number, endpoint in enumerate(endpoints, start=1):
        if endpoint.signature in seen:
            raise Invalid(f"第 {number} 个接口重复：{endpoint.signature}", field="endpoints")
        seen.add(endpoint.signature)
    return endpoints, _check_base_url(base_url)


def _provided_resource(db_session: Session, actor: Actor, resource_id: int) -> Resource:
    resource = db_session.get(Resource, resource_id)
    if resource is None or not (
        actor.has(Role.PLATFORM_OPERATOR) or actor.organization_id == resource.provider_id
    ):
        raise NotFound(f"资源 {resource_id} 不存在", field="resource_id")
    if resource.status is not ResourceStatus.PUBLISHED or resource.current_version is None:
        raise Conflict("只能为已发布的资源登记服务接口", field="resource_id")
    if not offers_service(resource.current_version):
        raise Conflict(
            "资源格式须为“服务接口”，或共享方式包含“共享平台·服务接口”，才能登记服务接口",
            field="resource_id",
        )
    return resource


def offers_service(version: ResourceVersion) -> bool:
    """Whether a version is shared as a service interface (its format or share methods)."""
    return (
        version.format is ResourceFormat.SERVICE_INTERFACE
        or ShareMethod.SERVICE.value in version.share_methods
    )


def register_interface(
    db_session: Session,
    *,
    actor: Actor,
    resource_id: int,
    data: InterfaceIn,
    default_timeout: float,
) -> ServiceInterface:
    """Publishes a provider's API for one of its resources behind the gateway."""
    require(actor, *MANAGERS, action="登记服务接口")
    resource = _provided_resource(db_session, actor, resource_id)
    existing = db_session.execute(
        select(ServiceInterface.id).where(ServiceInterface.resource_id == resource.id)
    ).scalar()
    if existing is not None:
        raise Conflict(
            "该资源已登记服务接口，请修改原登记", field="resource_id", interface_id=existing
        )
    endpoints, base_url = _endpoints_of(data)
    now = clock.now()
    interface = ServiceInterface(
        resource_id=resource.id,
        base_url=base_url,
        openapi=data.openapi,
        timeout_seconds=data.timeout_seconds or default_timeout,
        created_at=now,
        created_by=actor.label,
        updated_at=now,
        endpoints=[ServiceEndpoint(**e.model_dump()) for e in endpoints],
    )
    db_session.add(interface)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="exchange.interface.register",
        object_type="service_interface",
        object_id=interface.id,
        details={
            "resource": resource.code,
            "base_url": base_url,
            "timeout_seconds": interface.timeout_seconds,
            "endpoints": [e.signature for e in endpoints],
            "openapi": data.openapi is not None,
        },
    )
    return interface


def update_interface(
    db_session: Session,
    *,
    actor: Actor,
    interface_id: int,
    data: InterfaceIn,
    default_timeout: float,
) -> ServiceInterface:
    """Changes an interface's base URL, timeout or endpoints; the change applies to the next
    call. Grants naming a removed endpoint simply stop matching it."""
    interface = _managed(db_session, actor, interface_id, "修改服务接口")
    endpoints, base_url = _endpoints_of(data)
    timeout = data.timeout_seconds or default_timeout
    before = {e.signature: e for e in interface.endpoints}
    after = {e.signature: e for e in endpoints}
    changed: dict[str, Any] = {}
    if interface.base_url != base_url:
        changed["base_url"] = [interface.base_url, base_url]
    if interface.timeout_seconds != timeout:
        changed["timeout_seconds"] = [interface.timeout_seconds, timeout]
    if added := sorted(set(after) - set(before)):
        changed["endpoints_added"] = added
    if removed := sorted(set(before) - set(after)):
        changed["endpoints_removed"] = removed
    interface.base_url, interface.timeout_seconds = base_url, timeout
    interface.openapi = data.openapi
    interface.updated_at = clock.now()
    for signature in removed:
        interface.endpoints.remove(before[signature])
    for signature, endpoint in after.items():
        if signature in before:
            before[signature].summary = endpoint.summary
        else:
            interface.endpoints.append(ServiceEndpoint(**endpoint.model_dump()))
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="exchange.interface.update",
        object_type="service_interface",
        object_id=interface.id,
        details={"resource": interface.resource.code, "changed": changed},
    )
    return interface


# --- who sees what -------------------------------------------------------------------------


def can_manage(actor: Actor, interface: ServiceInterface) -> bool:
    """The provider's data officer or head, and the operator, change the registration."""
    return actor.has(Role.PLATFORM_OPERATOR) or (
        actor.has(*ANSWERERS) and actor.organization_id == interface.resource.provider_id
    )


def sees_upstream(actor: Actor, interface: ServiceInterface) -> bool:
    """The base URL and the statistics are for the provider and those who oversee: consumers
    only ever talk to the gateway (SR§13)."""
    return oversees(actor) or actor.organization_id == interface.resource.provider_id


def _granted_resources(actor: Actor) -> Any:
    return select(Grant.resource_id).where(Grant.consumer_id == actor.organization_id)


def list_interfaces(db_session: Session, *, actor: Actor) -> list[ServiceInterface]:
    """The interfaces a department provides or holds grants for; every one for overseers."""
    require(actor, *READERS, Role.SYSTEM, action="查看服务接口")
    stmt = select(ServiceInterface).join(Resource, Resource.id == ServiceInterface.resource_id)
    if not oversees(actor):
        stmt = stmt.where(
            or_(
                Resource.provider_id == actor.organization_id,
                ServiceInterface.resource_id.in_(_granted_resources(actor)),
            )
        )
    return list(db_session.execute(stmt.order_by(Resource.code)).unique().scalars())


def get_interface(db_session: Session, *, actor: Actor, interface_id: int) -> ServiceInterface:
    """One interface, for its provider, the departments holding a grant and overseers."""
    require(actor, *READERS, Role.SYSTEM, action="查看服务接口")
    interface = db_session.get(ServiceInterface, interface_id)
    if interface is None or not (
        sees_upstream(actor, interface)
        or db_session.execute(
            _granted_resources(actor).where(Grant.resource_id == interface.resource_id)
        ).first()
    ):
        raise NotFound(f"服务接口 {interface_id} 不存在", field="interface_id")
    return interface


def _managed(db_session: Session, actor: Actor, interface_id: int, action: str) -> ServiceInterface:
    require(actor, *MANAGERS, action=action)
    interface = get_interface(db_session, actor=actor, interface_id=interface_id)
    if not can_manage(actor, interface):
        raise Forbidden(f"只有资源提供部门或平台管理单位可以{action}")
    return interface


def registrable_resources(db_session: Session, *, actor: Actor) -> list[Resource]:
    """Published resources shared as a service that have no interface yet: the department's
    own, or every department's for the operator."""
    require(actor, *MANAGERS, action="登记服务接口")
    stmt = (
        select(Resource)
        .where(
            Resource.status == ResourceStatus.PUBLISHED,
            ~Resource.id.in_(select(ServiceInterface.resource_id)),
        )
        .order_by(Resource.code)
    )
    if not actor.has(Role.PLATFORM_OPERATOR):
        stmt = stmt.where(Resource.provider_id == actor.organization_id)
    rows = db_session.execute(stmt).unique().scalars()
    return [r for r in rows if r.current_version and offers_service(r.current_version)]


def consumer_grants(db_session: Session, *, actor: Actor, interface_id: int) -> list[Grant]:
    """The grants the actor's department holds on an interface's resource, newest first, for
    the page's example calls."""
    interface = get_interface(db_session, actor=actor, interface_id=interface_id)
    if actor.organization_id is None:
        return []
    return list(
        db_session.execute(
            select(Grant)
            .where(
                Grant.resource_id == interface.resource_id,
                Grant.consumer_id == actor.organization_id,
            )
            .order_by(Grant.id.desc())
        ).scalars()
    )


# --- the gateway's decision and log ---------------------------------------------------------
#
# These run on every call. They read and write with Core statements on the tables' columns,
# built once here: no ORM rows to build, track and flush, and a statement object keeps its
# cache key, so each execution is a look-up of its compiled form. Nothing is kept between
# calls: every call reads the token, the interface and the grant afresh.

_RESOURCE = Resource.__table__.c
_INTERFACE = ServiceInterface.__table__.c
_ENDPOINT = ServiceEndpoint.__table__.c
_TARGET = (
    select(
        _RESOURCE.id,
        _RESOURCE.provider_id,
        _RESOURCE.status,
        _INTERFACE.id,
        _INTERFACE.base_url,
        _INTERFACE.timeout_seconds,
        _ENDPOINT.method,
        _ENDPOINT.path,
        _RESOURCE.retirement_reason,
    )
    .outerjoin(ServiceInterface.__table__, _INTERFACE.resource_id == _RESOURCE.id)
    .outerjoin(ServiceEndpoint.__table__, _ENDPOINT.service_id == _INTERFACE.id)
    .where(_RESOURCE.code == bindparam("code"))
    .order_by(_ENDPOINT.id)
)
_WINDOW = RateWindow.__table__
# Parameters grant_id, window and calls=1 come with each execution.
_COUNT = {
    dialect: insert(_WINDOW)
    .on_conflict_do_update(
        index_elements=[_WINDOW.c.grant_id, _WINDOW.c.window],
        set_={"calls": _WINDOW.c.calls + 1},
    )
    .returning(_WINDOW.c.calls)
    for dialect, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_CLEAR_WINDOWS = delete(_WINDOW).where(
    _WINDOW.c.grant_id == bindparam("grant"), _WINDOW.c.window < bindparam("current")
)
_CALL = GatewayCall.__table__
_LOG = insert(_CALL).returning(_CALL.c.id)


def _connection(db_session: Session) -> Connection:
    """The transaction's connection, for the statements above. Through Session.execute each
    would also run the session's hooks, among them the audit log's, which walks every query
    of a transaction holding unchained entries to see whether it reads the audit tables
    (these never do): together more than the statements themselves cost."""
    return db_session.connection()


@dataclass(frozen=True)
class _Target:
    resource_id: int
    provider_id: int
    published: bool
    retirement_reason: str | None  # of a retired resource
    interface_id: int | None
    base_url: str
    timeout_seconds: float
    endpoints: tuple[tuple[str, str], ...]  # (method, path template)


def _target(db_session: Session, resource_code: str) -> _Target | None:
    """The resource, its interface and the interface's endpoints, in one query."""
    rows = _connection(db_session).execute(_TARGET, {"code": resource_code}).all()
    if not rows:
        return None
    first = rows[0]
    return _Target(
        resource_id=first[0],
        provider_id=first[1],
        published=first[2] == ResourceStatus.PUBLISHED,
        retirement_reason=(first[8] or "") if first[2] == ResourceStatus.RETIRED else None,
        interface_id=first[3],
        base_url=first[4] or "",
        timeout_seconds=first[5] or 0.0,
        endpoints=tuple((r[6], r[7]) for r in rows if r[6] is not None),
    )


_template_cache: dict[str, re.Pattern[str]] = {}


def _template(path: str) -> re.Pattern[str]:
    pattern = _template_cache.get(path)
    if pattern is None:
        parts = _PARAM.split(path)  # literal, name, literal, name, …
        regex = "".join(re.escape(part) if i % 2 == 0 else "[^/]+" for i, part in enumerate(parts))
        pattern = _template_cache.setdefault(path, re.compile(regex + r"\Z"))
    return pattern


def match_endpoint(endpoints: Sequence[tuple[str, str]], method: str, path: str) -> str | None:
    """The signature ("GET /items/{id}") of the endpoint a call hits: the most literal of the
    templates that match, so /items/search wins over /items/{id}."""
    if any(segment in (".", "..") for segment in path.split("/")):
        return None  # would leave the endpoint once the upstream normalises the path
    hits = [
        template
        for verb, template in endpoints
        if verb == method and _template(template).match(path)
    ]
    if not hits:
        return None
    best = min(hits, key=lambda t: (len(_PARAM.findall(t)), -len(t)))
    return f"{method} {best}"


def _count_call(db_session: Session, grant_id: int) -> tuple[int, int]:
    """Counts the call in the grant's current minute with one atomic upsert; the count so far
    and the seconds until the next minute starts."""
    now = int(clock.now().timestamp())
    window = now // 60
    connection = _connection(db_session)
    upsert = _COUNT["postgresql" if connection.dialect.name == "postgresql" else "sqlite"]
    calls = connection.execute(
        upsert, {"grant_id": grant_id, "window": window, "calls": 1}
    ).scalar_one()
    if calls == 1:  # the first call of a minute clears the grant's old windows
        connection.execute(_CLEAR_WINDOWS, {"grant": grant_id, "current": window})
    return calls, 60 - now % 60


def _decide(
    db_session: Session,
    actor: Actor,
    target: _Target | None,
    resource_code: str,
    method: str,
    path: str,
    default_rate_limit: int,
) -> tuple[grants.GrantTerms | None, str, DomainError | None]:
    """The grant and endpoint of an allowed call, or the refusal (in the order the consumer
    should fix them: the interface, the grant, the endpoint, the rate)."""
    if target is None or target.interface_id is None:
        return None, "", NotFound(f"资源 {resource_code} 未发布服务接口", field="resource_code")
    if not target.published:
        why = (
            grants.retired_reason(target.retirement_reason)
            if target.retirement_reason is not None
            else f"资源 {resource_code} 未发布"
        )
        return None, "", Forbidden(f"{why}，接口停止服务", field="resource_code")
    try:
        decision = grants.check_call_access(db_session, actor=actor, resource_id=target.resource_id)
    except DomainError as exc:
        return None, "", exc
    if not decision.allowed:
        return decision.grant, "", Forbidden(decision.reason, field="grant")
    grant = decision.grant
    assert grant is not None
    endpoint = match_endpoint(target.endpoints, method, path)
    if endpoint is None:
        return grant, "", NotFound(f"接口不存在：{method} {path}", field="path")
    if grant.endpoints and endpoint not in grant.endpoints:
        return grant, endpoint, Forbidden(f"授权不包含该接口：{endpoint}", field="endpoint")
    limit = grant.rate_limit or default_rate_limit
    calls, retry_after = _count_call(db_session, grant.id)
    if calls > limit:
        refusal = RateLimited(
            f"调用过于频繁：授权 {grant.number} 每分钟最多调用 {limit} 次，请 {retry_after} 秒后重试",
            field="rate_limit",
            retry_after=retry_after,
        )
        return grant, endpoint, refusal
    return grant, endpoint, None


def admit_call(
    db_session: Session,
    *,
    actor: Actor,
    resource_code: str,
    method: str,
    path: str,
    default_rate_limit: int,
    duration_ms: float = 0.0,
    refusal: DomainError | None = None,
) -> Admission:
    """Decides one gateway call: the interface, the consumer's grant (`check_call_access`,
    `check_access`'s rules and audit entry), the endpoint and the grant's endpoints, the rate
    limit. A refusal — this one's or `refusal`, a reason the gateway already has (bad token,
    oversized body) — is logged at once, in this transaction, attributed to the interface's
    provider when the code is known."""
    target = _target(db_session, resource_code)
    grant: grants.GrantTerms | None = None
    endpoint = ""
    if refusal is None:
        grant, endpoint, refusal = _decide(
            db_session, actor, target, resource_code, method, path, default_rate_limit
        )
    admission = Admission(
        actor=actor,
        method=method,
        path=path,
        resource_code=resource_code,
        resource_id=target.resource_id if target else None,
        provider_id=target.provider_id if target else None,
        consumer_id=actor.organization_id,
        grant_id=grant.id if grant else None,
        grant_number=grant.number if grant else None,
        endpoint=endpoint,
        base_url=target.base_url if target else "",
        timeout_seconds=target.timeout_seconds if target else 0.0,
        refusal=refusal,
    )
    if refusal is not None:
        log_call(
            db_session,
            admission=admission,
            status=refusal.status,
            duration_ms=duration_ms,
            error=refusal.message,
        )
    return admission


def log_call(
    db_session: Session,
    *,
    admission: Admission,
    status: int,
    duration_ms: float,
    bytes_out: int = 0,
    error: str = "",
) -> int:
    """Writes one call to the usage log with its audit entry: forwarded calls once the answer
    has been streamed, refused ones when they are refused. Returns the log row's id."""
    actor = admission.actor
    endpoint = admission.endpoint[:320]
    error = error[:300]
    call_id: int = (
        _connection(db_session)
        .execute(
            _LOG,
            {
                "at": clock.now(),
                "resource_id": admission.resource_id,
                "provider_id": admission.provider_id,
                "consumer_id": admission.consumer_id,
                "grant_id": admission.grant_id,
                "caller": actor.label[:120],
                "method": admission.method[:10],
                "path": admission.path[:500],
                "endpoint": endpoint,
                "status": status,
                "bytes_out": bytes_out,
                "duration_ms": round(duration_ms, 3),
                "error": error,
            },
        )
        .scalar_one()
    )
    record(
        db_session,
        actor=actor,
        action="exchange.gateway.call" if admission.refusal is None else "exchange.gateway.refuse",
        object_type="gateway_call",
        object_id=call_id,
        details={
            "resource": admission.resource_code,
            "grant": admission.grant_number,
            "endpoint": endpoint or f"{admission.method} {admission.path}"[:320],
            "status": status,
            "bytes": bytes_out,
            "error": error,
        },
    )
    return call_id


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


# --- for the sharing decision ----------------------------------------------------------------


def endpoints_of_resource(
    db_session: Session, *, actor: Actor, resource_id: int
) -> list[ServiceEndpoint] | None:
    """The endpoints of a resource's registered interface, in registration order, for those
    who may see the interface; None when it has none (or the actor may not see it). A grant
    on the resource may name only these (the provider's decision on an application)."""
    require(actor, *READERS, Role.SYSTEM, action="查看服务接口")
    interface = db_session.execute(
        select(ServiceInterface).where(ServiceInterface.resource_id == resource_id)
    ).scalar()
    if interface is None or not (
        sees_upstream(actor, interface)
        or db_session.execute(
            _granted_resources(actor).where(Grant.resource_id == interface.resource_id)
        ).first()
    ):
        return None
    return list(interface.endpoints)
