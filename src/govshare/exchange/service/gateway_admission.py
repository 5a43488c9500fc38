"""Decide and log every call through the gateway (EXC-4, SR§25).

Every call is decided here (`admit_call`: token, interface, grant, the grant's endpoints, the
per-minute rate limit) and logged (`log_call`), refused calls included. Rate-limit counts live
in the database, so any number of app processes share them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    bindparam,
    delete,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from govshare.catalog.models import (
    Resource,
    ResourceStatus,
)
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import DomainError, Forbidden, NotFound
from govshare.core.permissions import Actor
from govshare.exchange.models import GatewayCall, RateWindow, ServiceEndpoint, ServiceInterface
from govshare.exchange.service.interfaces import PATH_PARAM
from govshare.sharing.service import access
from govshare.sharing.service.common import retired_reason


class RateLimited(DomainError):
    """The grant's calls per minute are used up; `retry_after` says when the next minute starts."""

    status = 429
    kind = "rate-limited"
    title = "调用过于频繁"


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
    rate_limit: int | None = None  # the grant's own calls per minute, if it sets one

    @property
    def allowed(self) -> bool:
        return self.refusal is None


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
        parts = PATH_PARAM.split(path)  # literal, name, literal, name, …
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
    best = min(hits, key=lambda t: (len(PATH_PARAM.findall(t)), -len(t)))
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
    default_rate_limit: int | None,
) -> tuple[access.GrantTerms | None, str, DomainError | None]:
    """The grant and endpoint of an allowed call, or the refusal (in the order the consumer
    should fix them: the interface, the grant, the endpoint, the rate). No rate is counted
    when `default_rate_limit` is None (nginx's limit_req counts instead)."""
    if target is None or target.interface_id is None:
        return None, "", NotFound(f"资源 {resource_code} 未发布服务接口", field="resource_code")
    if not target.published:
        why = (
            retired_reason(target.retirement_reason)
            if target.retirement_reason is not None
            else f"资源 {resource_code} 未发布"
        )
        return None, "", Forbidden(f"{why}，接口停止服务", field="resource_code")
    try:
        decision = access.check_call_access(db_session, actor=actor, resource_id=target.resource_id)
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
    if default_rate_limit is None:
        return grant, endpoint, None
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
    grant: access.GrantTerms | None = None
    endpoint = ""
    if refusal is None:
        grant, endpoint, refusal = _decide(
            db_session, actor, target, resource_code, method, path, default_rate_limit
        )
    admission = _admission(actor, method, path, resource_code, target, grant, endpoint, refusal)
    if refusal is not None:
        log_call(
            db_session,
            admission=admission,
            status=refusal.status,
            duration_ms=duration_ms,
            error=refusal.message,
        )
    return admission


def authorize_call(
    db_session: Session,
    *,
    actor: Actor,
    resource_code: str,
    method: str,
    path: str,
    refusal: DomainError | None = None,
) -> Admission:
    """`admit_call`'s decision for the nginx data plane's `auth_request`: the same interface,
    grant (`check_call_access` and its audit entry) and endpoint checks, but no rate count
    (nginx's `limit_req` keeps it, keyed by the grant) and no call log (the access log is
    ingested into it afterwards, `gateway_ingest`)."""
    target = _target(db_session, resource_code)
    grant: access.GrantTerms | None = None
    endpoint = ""
    if refusal is None:
        grant, endpoint, refusal = _decide(
            db_session, actor, target, resource_code, method, path, None
        )
    return _admission(actor, method, path, resource_code, target, grant, endpoint, refusal)


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


def _admission(
    actor: Actor,
    method: str,
    path: str,
    resource_code: str,
    target: _Target | None,
    grant: access.GrantTerms | None,
    endpoint: str,
    refusal: DomainError | None,
) -> Admission:
    """The decision as the call log and the forwarding read it."""
    return Admission(
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
        rate_limit=grant.rate_limit if grant else None,
    )
