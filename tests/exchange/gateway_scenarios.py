"""Service interfaces and the gateway: the test cast (built through the services) and the audit
scenarios of `govshare.exchange.service.interfaces`, `gateway_admission` and `gateway_log`
(see tests/test_audit_coverage.py), merged into tests/exchange/audit_scenarios.py as GATEWAY_SCENARIOS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.permissions import Actor, Role
from govshare.exchange.models import ServiceInterface
from govshare.exchange.service import gateway_admission, gateway_log, gateway_plane, interfaces
from govshare.exchange.service.gateway_admission import Admission
from govshare.exchange.service.interfaces import InterfaceIn
from govshare.identity import service as identity_service
from govshare.identity.models import Organization
from govshare.identity.schemas import ApiTokenIn
from govshare.sharing.models import Grant
from govshare.sharing.schemas import DirectAccessIn
from govshare.sharing.service import access, grants
from tests.builders import CONSOLE, actor_of, operator, organization, system_of, user
from tests.catalog.builders import published
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.sharing.builders import SHANGRAO

ENTERPRISE_ITEMS = [
    {"name": "统一社会信用代码", "data_type": "C", "length": 18},
    {"name": "企业名称", "data_type": "C", "length": 200},
    {"name": "法定代表人", "data_type": "C", "length": 50, "personal": True},
]
ENDPOINTS = [
    {"method": "GET", "path": "/enterprises/{uscc}", "summary": "按统一社会信用代码查询企业"},
    {"method": "GET", "path": "/enterprises/search", "summary": "按名称检索企业"},
    {"method": "POST", "path": "/echo", "summary": "回显请求"},
    {"method": "GET", "path": "/slow", "summary": "慢接口"},
    {"method": "GET", "path": "/stream", "summary": "分块返回"},
    {"method": "GET", "path": "/fail", "summary": "上游报错"},
]
USCC = "91361100MA35X0001A"


@dataclass
class ServiceWorld:
    """The operator, a provider with a published service resource and its interface, a
    consumer with a token for its system and a direct grant on the resource."""

    db: Session
    op: Actor
    provider: Organization
    provider_officer: Actor
    consumer: Organization
    consumer_officer: Actor
    resource: Resource
    interface: ServiceInterface
    token: str
    grant: Grant

    @property
    def code(self) -> str:
        return self.resource.code


def interface_in(base_url: str, **kw: Any) -> InterfaceIn:
    fields: dict[str, Any] = {"base_url": base_url, "timeout_seconds": 5, "endpoints": ENDPOINTS}
    return InterfaceIn.model_validate(fields | kw)


def service_resource(db: Session, provider_officer: Actor, op: Actor, **kw: Any) -> Resource:
    """A published unconditional resource of the provider, shared as a service interface."""
    fields: dict[str, Any] = {
        "name": "企业登记信息查询服务",
        "format": "service_interface",
        "share_methods": ["service"],
        "items": ENTERPRISE_ITEMS,
    }
    return published(db, provider_officer, op, **(fields | kw))


def direct_grant(db: Session, consumer_officer: Actor, resource: Resource) -> Grant:
    return grants.request_direct_access(
        db,
        actor=consumer_officer,
        rules=SHANGRAO.rules,
        data=DirectAccessIn(
            resource_id=resource.id,
            purpose="核验企业开办申请材料",
            system_id=system_of(db, consumer_officer.organization_id, "一网通办平台"),
            accept_restrictions=True,
        ),
    )


def system_token(db: Session, officer: Actor, name: str = "一网通办平台") -> str:
    """A token for a system of the officer's department."""
    assert officer.organization_id is not None
    _, secret = identity_service.issue_api_token(
        db,
        actor=officer,
        data=ApiTokenIn(name=name, system_id=system_of(db, officer.organization_id, name)),
    )
    return secret


def service_world(
    db: Session, base_url: str = "http://127.0.0.1:9/api", op: Actor | None = None, **kw: Any
) -> ServiceWorld:
    """Built on 1 September 2026, like the sharing tests; usable on any later day. `kw`
    overrides fields of the interface's registration."""
    with clock.frozen("2026-09-01T09:00:00+08:00"):
        if op is None:
            op, _ = operator(db)
        provider = organization(db, "市市场监督管理局")
        provider_officer = actor_of(user(db, provider, [Role.DATA_OFFICER]))
        consumer = organization(db, "市行政审批局")
        consumer_officer = actor_of(user(db, consumer, [Role.DATA_OFFICER]))
        resource = service_resource(db, provider_officer, op)
        interface = interfaces.register_interface(
            db,
            actor=provider_officer,
            resource_id=resource.id,
            data=interface_in(base_url, **kw),
            default_timeout=10.0,
        )
        token = system_token(db, consumer_officer)
        grant = direct_grant(db, consumer_officer, resource)
    return ServiceWorld(
        db,
        op,
        provider,
        provider_officer,
        consumer,
        consumer_officer,
        resource,
        interface,
        token,
        grant,
    )


def limit_grant(
    db: Session, grant: Grant, *, endpoints: list[str] | None = None, rate_limit: int | None = None
) -> None:
    """Sets a grant's endpoints and rate limit as the decision form will (not yet in sharing)."""
    grant.endpoints = endpoints or []
    grant.rate_limit = rate_limit
    record(
        db,
        actor=CONSOLE,
        action="test.grant.scope",
        object_type="grant",
        object_id=grant.id,
        details={"endpoints": grant.endpoints, "rate_limit": rate_limit},
    )
    db.flush()


def consumer_system(sw: ServiceWorld) -> Actor:
    return identity_service.resolve_api_token(sw.db, token=sw.token)


def admitted(sw: ServiceWorld, path: str = f"/enterprises/{USCC}") -> Admission:
    return gateway_admission.admit_call(
        sw.db,
        actor=consumer_system(sw),
        resource_code=sw.code,
        method="GET",
        path=path,
        default_rate_limit=600,
    )


# --- audit scenarios -----------------------------------------------------------------------

SERVICE = "govshare.exchange.service.interfaces."
ADMISSION = "govshare.exchange.service.gateway_admission."
CALL_LOG = "govshare.exchange.service.gateway_log."


def _world(w: World) -> ServiceWorld:
    return service_world(w.db, op=w.op)


def _registered(w: World) -> ServiceInterface:
    sw = _world(w)
    resource = service_resource(w.db, sw.provider_officer, w.op, name="企业年报信息查询服务")
    return interfaces.register_interface(
        w.db,
        actor=sw.provider_officer,
        resource_id=resource.id,
        data=interface_in("http://10.1.2.3:8080/api"),
        default_timeout=10.0,
    )


def _updated(w: World) -> ServiceInterface:
    sw = _world(w)
    return interfaces.update_interface(
        w.db,
        actor=sw.provider_officer,
        interface_id=sw.interface.id,
        data=interface_in("http://10.1.2.4:8080/api", endpoints=ENDPOINTS[:2]),
        default_timeout=10.0,
    )


def _logged(w: World) -> Any:
    sw = _world(w)
    return gateway_admission.log_call(sw.db, admission=admitted(sw), status=200, duration_ms=3.5)


def _with_calls(w: World) -> ServiceWorld:
    sw = _world(w)
    gateway_admission.log_call(
        sw.db, admission=admitted(sw), status=200, duration_ms=3.5, bytes_out=9
    )
    admitted(sw, "/nowhere")  # refused and logged
    return sw


def _call_access(w: World) -> access.CallAccess:
    sw = _world(w)
    return access.check_call_access(sw.db, actor=consumer_system(sw), resource_id=sw.resource.id)


def _authorized(w: World) -> Admission:
    sw = _world(w)
    return gateway_admission.authorize_call(
        sw.db,
        actor=consumer_system(sw),
        resource_code=sw.code,
        method="GET",
        path=f"/enterprises/{USCC}",
    )


def _ingested(w: World) -> int:
    sw = _world(w)
    call = gateway_plane.IngestedCall(
        request_id="0123456789abcdef0123456789abcdef",
        at=clock.now(),
        actor=consumer_system(sw),
        resource_code=sw.code,
        resource_id=sw.resource.id,
        provider_id=sw.provider.id,
        consumer_id=sw.consumer.id,
        grant_id=sw.grant.id,
        grant_number=sw.grant.number,
        method="GET",
        path=f"/enterprises/{USCC}",
        endpoint="GET /enterprises/{uscc}",
        status=200,
        bytes_out=64,
        duration_ms=1.5,
        error="",
        refused=False,
    )
    added = gateway_plane.record_ingested(sw.db, calls=[call, call])
    assert added == 1  # the same request id counts once
    return added


PLANE = "govshare.exchange.service.gateway_plane."

GATEWAY_SCENARIOS: dict[str, Writes | Reads] = {
    ADMISSION + "authorize_call": Writes("sharing.grant.access", _authorized),
    PLANE + "record_ingested": Writes("exchange.gateway.call", _ingested),
    PLANE + "record_reload": Writes(
        "exchange.gateway.reload",
        lambda w: gateway_plane.record_reload(
            w.db,
            actor=w.op,
            config_path="/etc/nginx/conf.d/govshare.conf",
            digest="0" * 64,
            interfaces=1,
        ),
    ),
    PLANE + "data_plane": Reads(
        lambda w: gateway_plane.data_plane(w.db, actor=w.op, default_rate_limit=600),
        prepare=_world,
    ),
    SERVICE + "register_interface": Writes("exchange.interface.register", _registered),
    SERVICE + "update_interface": Writes("exchange.interface.update", _updated),
    ADMISSION + "admit_call": Writes("sharing.grant.access", lambda w: admitted(_world(w))),
    # The gateway's lean grant check lives in sharing, beside check_access.
    "govshare.sharing.service.access.check_call_access": Writes(
        "sharing.grant.access", _call_access
    ),
    ADMISSION + "log_call": Writes("exchange.gateway.call", _logged),
    SERVICE + "list_interfaces": Reads(
        lambda w: interfaces.list_interfaces(w.db, actor=w.prepared.consumer_officer),
        prepare=_world,
    ),
    SERVICE + "get_interface": Reads(
        lambda w: interfaces.get_interface(
            w.db, actor=w.prepared.op, interface_id=w.prepared.interface.id
        ),
        prepare=_world,
    ),
    SERVICE + "registrable_resources": Reads(
        lambda w: interfaces.registrable_resources(w.db, actor=w.prepared.provider_officer),
        prepare=_world,
    ),
    SERVICE + "consumer_grants": Reads(
        lambda w: interfaces.consumer_grants(
            w.db,
            actor=w.prepared.consumer_officer,
            interface_id=w.prepared.interface.id,
        ),
        prepare=_world,
    ),
    CALL_LOG + "call_log": Reads(
        lambda w: gateway_log.call_log(w.db, actor=w.prepared.provider_officer),
        prepare=_with_calls,
    ),
    CALL_LOG + "call_stats": Reads(
        lambda w: gateway_log.call_stats(
            w.db,
            actor=w.prepared.provider_officer,
            interface_id=w.prepared.interface.id,
            days=30,
        ),
        prepare=_with_calls,
    ),
    SERVICE + "endpoints_of_resource": Reads(
        lambda w: interfaces.endpoints_of_resource(
            w.db, actor=w.prepared.provider_officer, resource_id=w.prepared.resource.id
        ),
        prepare=_world,
    ),
    SERVICE + "parse_openapi": READ_ONLY,
    SERVICE + "offers_service": READ_ONLY,
    SERVICE + "can_manage": READ_ONLY,
    SERVICE + "sees_upstream": READ_ONLY,
    ADMISSION + "match_endpoint": READ_ONLY,
}
