"""The decision the nginx data plane asks for on each call (its `auth_request`):
`GET /api/v1/gateway/auth`, with the original call in headers, answered 204 (forward it) or
401/403 (refuse it), never with a body nginx would not pass on.

nginx sends the call's method (`X-Original-Method`), its target as the caller sent it
(`X-Original-URI`, `/gateway/<resource code>/<path>?<query>`), the resource code of the
location that matched (`X-Gateway-Interface`), the consumer's `Authorization`, the verified client
certificate when it terminates TLS (`X-Client-Cert`, URL-escaped) and the caller's address
(`X-Real-IP`), plus `X-Gateway-Key`, the key its configuration carries: without it the
endpoint answers 403 and tells nothing, as it would otherwise hand out the providers' grant
decisions to anyone. The decision is `gateway_admission.authorize_call` — the Python
gateway's checks without the rate count (nginx's `limit_req`) and without the call log (its
access log, ingested by `gateway_ingest`) — in a group commit like the Python gateway's
admissions (`gateway_steps.GroupCommit`).

The answer's headers are what nginx keeps (`auth_request_set`) to route, limit and log the
call: the grant (id, number, rate), the consumer, the resource and provider, the endpoint,
the caller (for the upstream's `X-Govshare-Caller` and the audit entry written on ingestion),
and for a refusal its problem+json (ASCII, so a header can carry the Chinese reason).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote

from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from govshare.core import clock
from govshare.core.errors import DomainError
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.core.settings import Settings
from govshare.exchange.gateway_steps import Call, GroupCommit, identify, lean_sessions
from govshare.exchange.service import gateway_admission
from govshare.exchange.service.gateway_admission import Admission

PATH = "/api/v1/gateway/auth"
PREFIX = "/gateway/"
log = logging.getLogger("govshare.gateway")


def plane_key(settings: Settings) -> str:
    """The key nginx presents to the auth endpoint, derived from the platform's secret key
    (so a new secret key needs a new configuration: `govshare gateway reload`)."""
    digest = hmac.new(settings.secret_key.encode(), b"govshare-gateway-plane", hashlib.sha256)
    return digest.hexdigest()


def actor_header(actor: Actor) -> str:
    """The caller as nginx logs it, for the audit entry written on ingestion."""
    fields = {"l": actor.label, "u": actor.user_id, "o": actor.organization_id}
    fields["t"] = actor.token_id
    fields["r"] = sorted(role.value for role in actor.roles)
    return json.dumps(fields, separators=(",", ":"))


def _decide(db_session: Session, settings: Settings, call: Call) -> Admission:
    actor, refusal = identify(db_session, settings, call)
    return gateway_admission.authorize_call(
        db_session,
        actor=actor,
        resource_code=call.resource_code,
        method=call.method,
        path=call.path,
        refusal=call.refusal or refusal,
    )


@dataclass
class _Local:
    loop: asyncio.AbstractEventLoop
    steps: GroupCommit[Call, Admission]


def _local(scope: Scope) -> _Local:
    state = scope["app"].state
    loop = asyncio.get_running_loop()
    local: _Local | None = getattr(state, "gateway_auth", None)
    if local is None or local.loop is not loop:
        runtime: Runtime = state.runtime
        local = _Local(loop, GroupCommit(lean_sessions(runtime), runtime.settings, _decide))
        state.gateway_auth = local
    return local


def _problem(error: DomainError, instance: str) -> bytes:
    body = {**error.to_problem(), "instance": instance}
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    # nginx may reuse the decision until the end of the machine's current second, never
    # longer (proxy_cache; "@" is an absolute expiry): a suspension holds within a second.
    expires = f"@{int(clock.machine_seconds())}".encode()
    headers += [(b"x-accel-expires", expires), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _header_text(headers: Headers, name: str) -> str:
    """A header nginx filled with the call's bytes (UTF-8 in a latin-1 decoded header)."""
    return headers.get(name, "").encode("latin-1").decode("utf-8", "replace")


class GatewayAuth:
    """The ASGI endpoint behind `GET /api/v1/gateway/auth`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = Headers(scope=scope)
        runtime: Runtime = scope["app"].state.runtime
        given = headers.get("x-gateway-key", "")
        if not hmac.compare_digest(given.encode(), plane_key(runtime.settings).encode()):
            await _answer(send, 403, [])
            return
        code = headers.get("x-gateway-interface", "")
        uri = _header_text(headers, "x-original-uri")
        raw = uri.split("?", 1)[0]
        if not code or not raw.startswith(f"{PREFIX}{code}/"):
            await _answer(send, 403, [])
            return
        certificate = headers.get("x-client-cert") or None
        call = Call(
            resource_code=code,
            method=headers.get("x-original-method", "GET"),
            path=unquote(raw[len(PREFIX) + len(code) :]),
            authorization=headers.get("authorization", ""),
            session_token=None,  # no cookies through the data plane
            source_ip=headers.get("x-real-ip") or None,
            started=started,
            refusal=None,
            client_certificate=unquote(certificate) if certificate else None,
        )
        try:
            admission = await _local(scope).steps.run(call)
        except Exception:
            log.exception("gateway auth failed for %s %s", call.method, uri)
            await _answer(send, 500, [])
            return
        grant = admission.grant_id
        answer = [
            (b"x-gateway-actor", actor_header(admission.actor).encode()),
            (b"x-gateway-resource", str(admission.resource_id or "").encode()),
            (b"x-gateway-provider", str(admission.provider_id or "").encode()),
            (b"x-gateway-consumer", str(admission.consumer_id or "").encode()),
            (b"x-gateway-grant", str(grant or "").encode()),
            (b"x-gateway-grant-number", (admission.grant_number or "").encode()),
            (b"x-gateway-endpoint", quote(admission.endpoint, safe="/{} ").encode()),
            (b"x-gateway-caller", quote(admission.actor.label, safe=":@._-").encode()),
        ]
        if admission.refusal is not None:
            status = 401 if admission.refusal.status == 401 else 403
            answer.append((b"x-gateway-status", str(admission.refusal.status).encode()))
            answer.append((b"x-gateway-problem", _problem(admission.refusal, uri)))
            if status == 401:
                answer.append((b"www-authenticate", b'Bearer realm="govshare"'))
            await _answer(send, status, answer)
            return
        answer.append((b"x-gateway-rate", str(admission.rate_limit or "").encode()))
        await _answer(send, 204, answer)


route = Route(PATH, GatewayAuth(), methods=["GET"], name="gateway-auth")
