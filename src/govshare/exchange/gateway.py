"""The gateway (服务网关, EXC-4): `ANY /gateway/<resource code>/<path>` forwards a consumer's
call to the provider's API, so departments' systems no longer talk to each other directly
(SR§13) and every call is checked and logged.

One call, in order: read the body (at most 16 MB) → the admission, a short transaction in a
worker thread (token, interface, grant check, endpoint, rate window; a refusal is logged
right there) → forward over a pool of keep-alive connections (httpcore's, per process and
event loop; timeouts on connect, read, write and pool, and a deadline for the answer's
headers) → stream the answer back → the call's log row and audit entry in a second short
transaction. Rate counts and logs live in the database and nothing in the process outlives
a call, so any number of processes serve the gateway together.

Both transactions write to the audit chain, whose head row every audited write of the
platform locks until it commits, so each call would hold that lock through two commits.
Admissions and logs that arrive while a transaction is under way therefore wait for it and
go together in the next one (group commit): one transaction, one commit, one disk flush and
one turn at the lock for all of them (on SQLite, also one writer per process instead of two
contending for its lock). A lone call goes at once, so this costs nothing when idle; if a
group fails, its items are retried one by one, so one bad call cannot fail the others.

The gateway is a plain ASGI endpoint, not a FastAPI route: it needs no dependency injection,
reads the body once and streams the answer, and answers every error itself as problem+json
(the application's error handlers render HTML outside /api/). Its `route` goes before the
application's routers, so a call costs almost no route matching.

This module is the endpoint and the call from request to answer; the upstream request and
the connection pool are `gateway_upstream`, the admission and log steps and their group commit
`gateway_steps`, and the decisions themselves `service.gateway_admission`.

A resource code is `<classification>/<serial>`, so it takes two path segments:
`/gateway/301001001/000001/enterprises/91360100…`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import quote

import anyio
import httpcore
import httpx
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from govshare.core.errors import DomainError
from govshare.core.runtime import Runtime
from govshare.exchange.gateway_steps import Call, GroupCommit, Outcome, begin, lean_sessions, step
from govshare.exchange.gateway_upstream import UPSTREAM_ERRORS, Answer, Upstreams, upstream_request
from govshare.exchange.service.gateway_admission import Admission
from govshare.pki import forwarding
from govshare.web.deps import SESSION_COOKIE

PREFIX = "/gateway"
MAX_BODY = 16 * 1024 * 1024
PROBLEM = b"application/problem+json"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Never sent upstream: the consumer's credentials, what the gateway sets itself, and anything
# that could pass for the platform's own statements about the caller.
NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "authorization",
    "cookie",
    "content-length",
    "expect",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
}
NOT_RETURNED = HOP_BY_HOP | {"set-cookie"}  # the upstream must not set cookies on the platform
# Characters a request target keeps as they are; anything else is percent-encoded.
_TARGET_SAFE = "/%:@!$&'()*+,;=-._~?"
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30)
log = logging.getLogger("govshare.gateway")


class UpstreamUnreachable(DomainError):
    status = 502
    kind = "upstream-unreachable"
    title = "上游服务不可达"


class UpstreamTimeout(DomainError):
    status = 504
    kind = "upstream-timeout"
    title = "上游服务超时"


class BodyTooLarge(DomainError):
    status = 413
    kind = "body-too-large"
    title = "请求体过大"


class GatewayUnavailable(DomainError):
    status = 503
    kind = "gateway-unavailable"
    title = "平台暂时无法处理调用"


def gateway_address(base_url: str, resource_code: str) -> str:
    """The address consumers call for a resource: the platform's, never the provider's."""
    return f"{base_url.rstrip('/')}{PREFIX}/{resource_code}"


def example_call(address: str, signature: str) -> str:
    """A curl command for one endpoint ("GET /items/{id}"), path parameters left to fill in."""
    method, path = signature.split(" ", 1)
    parts = ["curl"]
    if method != "GET":
        parts += ["-X", method]
    parts += ["-H", "'Authorization: Bearer <接口令牌>'"]
    if method in ("POST", "PUT", "PATCH"):
        parts += ["-H", "'Content-Type: application/json'", "-d", "'{}'"]
    parts.append(f"'{address}{path}'")
    return " ".join(parts)


@dataclass
class _Local:
    """What the gateway keeps per process and event loop: the upstream connections (bound
    to the loop) and the group commit of admissions and logs."""

    loop: asyncio.AbstractEventLoop
    upstreams: Upstreams
    steps: GroupCommit[Call | Outcome, Admission | None]


def _local(scope: Scope) -> _Local:
    state = scope["app"].state
    loop = asyncio.get_running_loop()
    local: _Local | None = getattr(state, "gateway", None)
    if local is None or local.loop is not loop:
        runtime: Runtime = state.runtime
        sessions = lean_sessions(runtime)
        local = _Local(
            loop=loop,
            upstreams=Upstreams(LIMITS),
            steps=GroupCommit(sessions, runtime.settings, step, begin),
        )
        state.gateway = local
    return local


# --- the HTTP side -------------------------------------------------------------------------------


async def _read_body(receive: Receive, headers: Headers) -> tuple[bytes, bool]:
    """The request body, or (b"", True) once it passes MAX_BODY."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return b"", True
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _upstream_headers(scope: Scope, admission: Admission) -> list[tuple[bytes, bytes]]:
    headers = [
        (name, value)
        for name, value in scope["headers"]
        if (key := name.decode("latin-1").lower()) not in NOT_FORWARDED
        and not key.startswith("x-govshare-")
    ]
    consumer = str(admission.consumer_id or "").encode()
    headers += [
        (b"x-govshare-consumer", consumer),
        (b"x-govshare-grant", (admission.grant_number or "").encode()),
        (b"x-govshare-caller", quote(admission.actor.label, safe=":@._-").encode()),
    ]
    if admission.actor.source_ip:
        headers.append((b"x-forwarded-for", admission.actor.source_ip.encode()))
    return headers


def _returned_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The upstream's answer headers the caller gets: not hop-by-hop ones (nor those its
    Connection header names), not Set-Cookie."""
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.decode("latin-1").split(",")
    }
    return [
        (name, value)
        for name, value in headers
        if (key := name.decode("latin-1").lower()) not in NOT_RETURNED and key not in named
    ]


def _upstream_target(scope: Scope, path: str) -> bytes:
    """What follows the base URL upstream: the caller's path below the resource code as it
    was sent (its percent-encoding kept) and its query string."""
    raw = scope.get("raw_path") or quote(scope["path"]).encode()
    at = raw.find(PREFIX.encode() + b"/")
    pieces = raw[at:].split(b"/", 4) if at >= 0 else []
    target = b"/" + pieces[4] if len(pieces) == 5 else quote(path).encode()
    query = scope.get("query_string", b"")
    if query:
        target += b"?" + query
    return quote(target, safe=_TARGET_SAFE).encode()


async def _problem(scope: Scope, send: Send, error: DomainError) -> None:
    body = {**error.to_problem(), "instance": scope["path"]}
    content = json.dumps(body, ensure_ascii=False).encode()
    headers = [(b"content-type", PROBLEM), (b"content-length", str(len(content)).encode())]
    retry_after = error.extra.get("retry_after")
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    if error.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="govshare"'))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class Gateway:
    """The ASGI endpoint behind `/gateway/{prefix}/{serial}/{path:path}`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        local = _local(scope)
        params = scope["path_params"]
        headers = Headers(scope=scope)
        body, too_large = await _read_body(receive, headers)
        client_address = scope.get("client")
        source_ip = client_address[0] if client_address else None
        settings = scope["app"].state.runtime.settings
        call = Call(
            resource_code=f"{params['prefix']}/{params['serial']}",
            method=scope["method"],
            path="/" + params["path"],
            authorization=headers.get("authorization", ""),
            session_token=_cookie(headers, SESSION_COOKIE),
            source_ip=source_ip,
            client_certificate=forwarding.forwarded_certificate(settings, source_ip, headers),
            started=started,
            refusal=BodyTooLarge(f"请求体超过 {MAX_BODY // 1024 // 1024} MB")
            if too_large
            else None,
        )
        try:
            admission = await local.steps.run(call)
            assert isinstance(admission, Admission)
        except Exception:
            log.exception("gateway admission failed for %s %s", call.method, scope["path"])
            await _problem(scope, send, GatewayUnavailable("平台暂时无法处理调用，请稍后重试"))
            return
        if admission.refusal is not None:
            await _problem(scope, send, admission.refusal)
            return
        await self._forward(scope, send, local, admission, body, started)

    async def _forward(
        self,
        scope: Scope,
        send: Send,
        local: _Local,
        admission: Admission,
        body: bytes,
        started: float,
    ) -> None:
        timeout = admission.timeout_seconds
        request = upstream_request(
            admission.method,
            admission.base_url,
            _upstream_target(scope, admission.path),
            _upstream_headers(scope, admission),
            body,
            timeout,
        )
        failure: DomainError | None = None
        try:
            with anyio.fail_after(timeout):  # the whole wait for the answer's headers
                answer = await local.upstreams.send(request)
        except (httpcore.TimeoutException, TimeoutError):
            failure = UpstreamTimeout(f"上游服务超时（{timeout:g} 秒）")
        except UPSTREAM_ERRORS as exc:
            failure = UpstreamUnreachable(f"上游服务不可达：{type(exc).__name__}")
        if failure is not None:
            try:
                await _problem(scope, send, failure)
            finally:
                await self._finish(local, admission, failure.status, 0, started, failure.message)
            return
        await self._stream(send, local, admission, answer, started)

    async def _stream(
        self,
        send: Send,
        local: _Local,
        admission: Admission,
        answer: Answer,
        started: float,
    ) -> None:
        sent, error = 0, ""
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": _returned_headers(answer.headers),
                }
            )
            async for chunk in answer.chunks():
                sent += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except UPSTREAM_ERRORS as exc:
            # Headers are gone: the broken connection is the only way left to tell the caller.
            error = f"上游响应中断：{type(exc).__name__}"
            raise
        except BaseException:
            error = "调用方断开连接"
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await answer.aclose()
                await self._finish(local, admission, answer.status, sent, started, error)

    async def _finish(
        self,
        local: _Local,
        admission: Admission,
        status: int,
        sent: int,
        started: float,
        error: str,
    ) -> None:
        """Logs a forwarded call; a failure to log is the server's error log's to report."""
        duration_ms = (time.perf_counter() - started) * 1000
        outcome = Outcome(admission, status, sent, duration_ms, error)
        try:
            await local.steps.run(outcome)
        except Exception:
            log.exception("gateway call not logged: %s", outcome)


# web/app.py adds this route before the routers: behind the application's ~300 included
# routes FastAPI would spend about 2 ms matching each call; before them, 40 µs.
route = Route(PREFIX + "/{prefix}/{serial}/{path:path}", Gateway(), name="gateway")
