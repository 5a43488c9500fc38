"""Service interfaces (服务接口, EXC-4): a provider's HTTP API published behind the platform's
gateway.

A provider's data officer registers the API of one of its published resources — the base URL,
a timeout, and the endpoints (method and path template) read from rows or from an OpenAPI 3
document. Consumers never see the base URL: they call `/gateway/<resource code>/<path>` with
their own token; `gateway_admission` decides and logs every call, `gateway_log` shows the log.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import (
    or_,
    select,
)
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
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.exchange.models import ServiceEndpoint, ServiceInterface
from govshare.sharing.models import Grant
from govshare.sharing.service.common import ANSWERERS, READERS, oversees

MANAGERS = (*ANSWERERS, Role.PLATFORM_OPERATOR)  # the provider's data officer or head
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
OPENAPI_MAX_BYTES = 1_000_000
STAT_PERIODS = (7, 30)  # days the provider's statistics cover
PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
_SEGMENT = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%-]*$")


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
            if not _SEGMENT.match(PATH_PARAM.sub("p", segment)):
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
