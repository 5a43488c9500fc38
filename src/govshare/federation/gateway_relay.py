"""Gateway calls through this platform (服务接口经本级平台转发, SHR-8): a department's system
calls the service interface the upper platform granted it, and this platform relays the call.

Below (`call`): the platform checks that the asking department holds the mirrored grant and
that it is usable, then sends `gateway.call` naming the grant, the department's
统一社会信用代码, the method, path, query string, the content headers and the body. Above
(`receive`): only from a lower platform, for a department it registered, on that department's
grant of a published service interface; the call goes through the upper's own gateway
decisions (`gateway_admission.admit_call`: the grant's endpoints, its rate limit, the
interface's timeout) and is written to its gateway call log (`log_call`) as any call is,
refusals included. Both sides log the message under one id; the upper records
`federation.relay.gateway`, this side the department's use (`federation.upper_grant.call`)."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import ResourceFormat
from govshare.core.audit import record
from govshare.core.errors import DomainError, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor
from govshare.exchange.service import gateway_admission
from govshare.federation import inbound, relay, transport
from govshare.sharing.models import Grant

if TYPE_CHECKING:
    from govshare.core.runtime import Runtime
    from govshare.federation.transport import Incoming

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
SAFE_HEADERS = ("content-type", "accept")  # the only headers that travel either way
# Characters a path or query keeps as they are; anything else is percent-encoded.
_TARGET_SAFE = "/%:@!$&'()*+,;=-._~?"
# The message carries the body in base64 inside JSON: a third larger, within max_body_bytes.
BODY_SHARE = 2 / 3
MESSAGE_MARGIN = 5.0  # seconds the message may take beyond the upstream's own timeout


def body_limit(runtime: Runtime) -> int:
    """The largest body (either way) that fits a message once base64-encoded."""
    return int(runtime.settings.max_body_bytes * BODY_SHARE) - 4096


def _safe(headers: Any) -> dict[str, str]:
    return {
        name.lower(): str(value)[:200]
        for name, value in (headers.items() if hasattr(headers, "items") else headers)
        if isinstance(name, str) and name.lower() in SAFE_HEADERS
    }


# --- below: the department's call ---------------------------------------------------------------


class UpperRefused(DomainError):
    """The upper platform's gateway refused the call, or its upstream failed; the status is
    the upper gateway's (403, 404, 429, 502, 504…)."""

    status = 403
    kind = "upper-refused"
    title = "上级平台拒绝了调用"

    def __init__(self, message: str, *, status: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.status = status if 400 <= status <= 599 else 403


@dataclass(frozen=True)
class RelayedAnswer:
    message_id: str
    status: int
    headers: dict[str, str]
    body: bytes


def _audit(
    runtime: Runtime, actor: Actor, grant_id: int, number: str | None, details: dict[str, Any]
) -> None:
    with runtime.transaction() as db_session:
        record(
            db_session,
            actor=actor,
            action="federation.upper_grant.call",
            object_type="federation_mirrored_grant",
            object_id=grant_id,
            details={"grant": number, **details},
        )


def call(
    runtime: Runtime,
    *,
    actor: Actor,
    grant_id: int,
    method: str,
    path: str,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> RelayedAnswer:
    """The upper service interface's answer to one call under the department's mirrored grant."""
    number: str | None = None
    method = method.upper()
    path = "/" + path.lstrip("/")
    what = {"method": method, "path": path[:500]}
    try:
        with runtime.transaction() as db_session:
            grant = relay.usable_grant(db_session, actor, grant_id, "调用上级服务接口")
            number = grant.number
            if method not in METHODS:
                raise Invalid(f"不支持的请求方法 {method}", field="method")
            if len(body) > body_limit(runtime):
                raise Invalid(
                    f"请求体超过经本级平台转发的上限 {body_limit(runtime) // 1024} KB",
                    field="body",
                )
            peer_id, uscc = grant.peer_id, grant.organization.uscc
    except DomainError as refused:
        _audit(runtime, actor, grant_id, number, what | {"refused": refused.message})
        raise
    message = {
        "grant": number,
        "uscc": uscc,
        "method": method,
        "path": path,
        "query": query,
        "headers": _safe(headers or {}),
        "body": base64.b64encode(body).decode(),
    }
    try:
        reply = transport.send(
            runtime,
            peer_id=peer_id,
            kind="gateway.call",
            body=message,
            actor=actor,
            timeout=transport.TIMEOUT_SECONDS + MESSAGE_MARGIN + 120,
            details={"grant": number, **what},
        )
    except transport.PeerUnavailable as exc:
        _audit(
            runtime,
            actor,
            grant_id,
            number,
            what | {"message_id": exc.extra.get("message_id"), "refused": exc.message},
        )
        raise
    answer = reply.body
    if answer.get("refused"):
        _audit(
            runtime,
            actor,
            grant_id,
            number,
            what | {"message_id": reply.message_id, "refused": answer["refused"]},
        )
        status = answer.get("status")
        raise UpperRefused(
            f"上级平台拒绝了调用：{answer['refused']}",
            status=status if isinstance(status, int) else 403,
            field=answer.get("field"),
        )
    try:
        content = base64.b64decode(str(answer.get("body") or ""), validate=True)
        status = int(answer.get("status") or 0)
    except (ValueError, binascii.Error) as exc:
        raise transport.PeerUnavailable(
            "上级平台的答复格式无效", message_id=reply.message_id
        ) from exc
    _audit(
        runtime,
        actor,
        grant_id,
        number,
        what | {"message_id": reply.message_id, "status": status, "bytes": len(content)},
    )
    return RelayedAnswer(reply.message_id, status, _safe(answer.get("headers") or {}), content)


# --- above: the call made through this platform's gateway ---------------------------------------


def _upstream(
    admission: gateway_admission.Admission,
    query: str,
    headers: dict[str, str],
    content: bytes,
    limit: int,
) -> tuple[int, dict[str, str], bytes, str]:
    """Status, safe headers, body and error of the upstream's answer (the error's status is
    the gateway's: 504 on timeout, 502 when unreachable or too large)."""
    target = quote(admission.path + (f"?{query}" if query else ""), safe=_TARGET_SAFE)
    sent = dict(headers) | {
        "x-govshare-consumer": str(admission.consumer_id or ""),
        "x-govshare-grant": admission.grant_number or "",
        "x-govshare-caller": quote(admission.actor.label, safe=":@._-"),
    }
    timeout = admission.timeout_seconds or 10.0
    try:
        with (
            httpx.Client(trust_env=False, timeout=timeout) as client,
            client.stream(
                admission.method,
                admission.base_url.rstrip("/") + target,
                headers=sent,
                content=content
                if content or admission.method in ("POST", "PUT", "PATCH")
                else None,
            ) as response,
        ):
            chunks, size = [], 0
            for chunk in response.iter_raw():
                size += len(chunk)
                if size > limit:
                    return 502, {}, b"", f"上游响应超过经平台转发的上限 {limit // 1024} KB"
                chunks.append(chunk)
            return response.status_code, _safe(response.headers), b"".join(chunks), ""
    except httpx.TimeoutException:
        return 504, {}, b"", f"上游服务超时（{timeout:g} 秒）"
    except httpx.TransportError as exc:
        return 502, {}, b"", f"上游服务不可达：{type(exc).__name__}"


def receive(
    db_session: Session, runtime: Runtime, incoming: Incoming
) -> dict[str, Any] | transport.Later:
    """A department below calls the service interface of its grant here, relayed by its
    platform: admitted by this platform's gateway as that department in the message's
    transaction (a refusal is logged there and answered, not raised, so that it commits),
    then forwarded once that has committed, and logged in a transaction of its own — so the
    upstream's answer, however slow, holds no transaction open (as in `exchange.gateway`)."""
    inbound.from_below(incoming)
    body = incoming.body
    organization = inbound.spoken_for(db_session, incoming.peer, inbound.text_of(body, "uscc", 18))
    number = inbound.text_of(body, "grant", 20)
    grant = db_session.execute(
        select(Grant).where(Grant.number == number, Grant.consumer_id == organization.id)
    ).scalar()
    if grant is None:
        raise NotFound(f"{organization.name}在本平台没有授权 {number}", field="grant")
    if grant.version.format is not ResourceFormat.SERVICE_INTERFACE:
        raise Forbidden(f"资源“{grant.version.name}”不是服务接口资源", field="grant")
    method = inbound.text_of(body, "method", 10).upper()
    path = inbound.text_of(body, "path", 2000)
    if method not in METHODS or not path.startswith("/"):
        raise Invalid(f"无效的调用：{method} {path}", field="path")
    query = body.get("query") if isinstance(body.get("query"), str) else ""
    try:
        content = base64.b64decode(str(body.get("body") or ""), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise Invalid("请求体编码无效", field="body") from exc
    limit = body_limit(runtime)
    started = time.perf_counter()
    admission = gateway_admission.admit_call(
        db_session,
        actor=inbound.department_actor(incoming, organization),
        resource_code=grant.resource.code,
        method=method,
        path=path,
        default_rate_limit=runtime.settings.gateway_rate_limit,
        refusal=Invalid(f"请求体超过 {limit // 1024} KB", field="body")
        if len(content) > limit
        else None,
    )
    grant_id = grant.id
    details: dict[str, Any] = {
        "message_id": incoming.message_id,
        "grant": grant.number,
        "organization": organization.uscc,
        "endpoint": admission.endpoint or f"{method} {path}"[:320],
    }
    if admission.refusal is not None:
        _relayed(
            db_session,
            incoming.actor,
            grant_id,
            details | {"refused": admission.refusal.message, "status": admission.refusal.status},
        )
        return {
            "refused": admission.refusal.message,
            "field": admission.refusal.field,
            "status": admission.refusal.status,
        }
    headers = _safe(body.get("headers") or {})

    def forward(runtime: Runtime) -> dict[str, Any]:
        status, returned, answer, error = _upstream(admission, query, headers, content, limit)
        with runtime.transaction() as db_session:
            gateway_admission.log_call(
                db_session,
                admission=admission,
                status=status,
                duration_ms=(time.perf_counter() - started) * 1000,
                bytes_out=len(answer),
                error=error,
            )
            outcome = {"status": status} | ({"refused": error} if error else {"bytes": len(answer)})
            _relayed(db_session, incoming.actor, grant_id, details | outcome)
        if error:
            return {"refused": error, "field": "upstream", "status": status}
        return {"status": status, "headers": returned, "body": base64.b64encode(answer).decode()}

    return transport.Later(forward)


def _relayed(db_session: Session, actor: Actor, grant_id: int, details: dict[str, Any]) -> None:
    record(
        db_session,
        actor=actor,
        action="federation.relay.gateway",
        object_type="grant",
        object_id=grant_id,
        details=details,
    )
