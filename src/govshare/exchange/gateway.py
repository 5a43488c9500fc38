"""The gateway (服务网关, EXC-4): `ANY /gateway/<resource code>/<path>` forwards a consumer's
call to the provider's API, so departments' systems no longer talk to each other directly
(SR§13) and every call is checked and logged.

One call, in order: read the body (at most 16 MB) → one short transaction in a worker thread
(token, interface, grant, endpoint, rate window; a refusal is logged right there) → forward
with httpx (one `AsyncClient` per process and event loop, timeouts on connect, read, write
and pool, and a deadline for the answer's headers) → stream the answer back → a second short
transaction logs the call with its status, bytes and duration. Nothing lives in the
process between calls, so any number of processes serve the gateway together.

The gateway is a plain ASGI endpoint, not a FastAPI route: it needs no dependency injection,
reads the body once and streams the answer, and answers every error itself as problem+json
(the application's error handlers render HTML outside /api/). Its `route` goes first in the
application's routes, so a call costs no route matching beyond its own.

A resource code is `<classification>/<serial>`, so it takes two path segments:
`/gateway/301001001/000001/enterprises/91360100…`.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
import httpx
from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, lazyload, sessionmaker
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from govshare.core.db import unit_of_work
from govshare.core.errors import DomainError, Unauthenticated
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.exchange.service import interfaces
from govshare.exchange.service.interfaces import Admission
from govshare.identity import service as identity_service
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
# Never sent upstream: the consumer's credentials, what httpx sets itself, and anything that
# could pass for the platform's own statements about the caller.
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
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30)


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


# --- the call ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    """What the transaction needs to know about the incoming request."""

    resource_code: str
    method: str
    path: str
    authorization: str
    session_token: str | None
    source_ip: str | None
    started: float
    refusal: DomainError | None


def _identify(db_session: Session, call: _Call) -> tuple[Actor, DomainError | None]:
    """The caller: a department system's bearer token, or — to try a GET from the browser —
    a signed-in session (never for writes: a cookie rides along on cross-site requests)."""
    anonymous = Actor.anonymous(call.source_ip)
    if call.authorization[:7].lower() == "bearer ":
        try:
            actor = identity_service.resolve_api_token(
                db_session, token=call.authorization[7:].strip(), source_ip=call.source_ip
            )
        except Unauthenticated as exc:
            return anonymous, exc
        return actor, None
    if call.session_token and call.method in ("GET", "HEAD"):
        found = identity_service.resolve_session(
            db_session, token=call.session_token, source_ip=call.source_ip
        )
        if found is not None:
            return found[0], None
    return anonymous, Unauthenticated("请在 Authorization 请求头中提供接口令牌：Bearer <接口令牌>")


_lean: weakref.WeakKeyDictionary[sessionmaker[Session], sessionmaker[Session]] = (
    weakref.WeakKeyDictionary()
)


def _lazy_relationships(state: ORMExecuteState) -> None:
    if state.is_select:
        state.statement = state.statement.options(lazyload("*"))


def _sessions(runtime: Runtime) -> sessionmaker[Session]:
    """The application's sessions, except that ORM queries load no relationship unless it is
    touched. The services the gateway calls read only columns of the rows they load, but
    their models eager-load for pages: a grant joins its resource, version, provider and
    consumer and select-loads their lists, which made `check_access` cost 80 % of a call."""
    lean = _lean.get(runtime.sessions)
    if lean is None:
        lean = sessionmaker(**runtime.sessions.kw)
        event.listen(lean, "do_orm_execute", _lazy_relationships)
        _lean[runtime.sessions] = lean
    return lean


def _admit(runtime: Runtime, call: _Call) -> Admission:
    with unit_of_work(_sessions(runtime)) as db_session:
        actor, refusal = _identify(db_session, call)
        return interfaces.admit_call(
            db_session,
            actor=actor,
            resource_code=call.resource_code,
            method=call.method,
            path=call.path,
            default_rate_limit=runtime.settings.gateway_rate_limit,
            duration_ms=(time.perf_counter() - call.started) * 1000,
            refusal=call.refusal or refusal,
        )


def _log(
    runtime: Runtime, admission: Admission, status: int, sent: int, started: float, error: str
) -> None:
    """Logs a forwarded call. The answer has already gone out, so waiting for the disk here
    protects nothing a crash could not take anyway; on PostgreSQL the commit does not wait
    for the WAL flush, which would otherwise hold the audit chain's lock — one row for every
    audited write of the platform — for an fsync per call. A later synchronous commit (the
    next admission) flushes it with its own."""
    with unit_of_work(_sessions(runtime)) as db_session:
        if db_session.get_bind().dialect.name == "postgresql":
            db_session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        interfaces.log_call(
            db_session,
            admission=admission,
            status=status,
            bytes_out=sent,
            duration_ms=(time.perf_counter() - started) * 1000,
            error=error,
        )


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


def _client(state: Any) -> httpx.AsyncClient:
    """The process's client for the running event loop (its pool is bound to the loop)."""
    loop = asyncio.get_running_loop()
    held = getattr(state, "gateway_client", None)
    if held is None or held[0] is not loop:
        # trust_env=False: provider APIs are reached directly, never through a proxy that
        # happens to be set in the server's environment.
        client = httpx.AsyncClient(limits=LIMITS, trust_env=False, follow_redirects=False)
        held = (loop, client)
        state.gateway_client = held
    return held[1]


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


def _returned_headers(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    named = {
        token.strip().lower()
        for value in response.headers.get_list("connection")
        for token in value.split(",")
    }
    return [
        (name, value)
        for name, value in response.headers.raw
        if (key := name.decode("latin-1").lower()) not in NOT_RETURNED and key not in named
    ]


def _upstream_url(scope: Scope, base_url: str, path: str) -> str:
    """base URL + the caller's path as it was sent (percent-encoding kept) + query string."""
    raw = scope.get("raw_path") or quote(scope["path"]).encode()
    at = raw.find(PREFIX.encode() + b"/")
    pieces = raw[at:].split(b"/", 4) if at >= 0 else []
    suffix = b"/" + pieces[4] if len(pieces) == 5 else quote(path).encode()
    query = scope.get("query_string", b"")
    return base_url + suffix.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")


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


async def _finish(
    runtime: Runtime,
    admission: Admission,
    status: int,
    sent: int,
    started: float,
    error: str,
    response: httpx.Response | None = None,
) -> None:
    """Releases the upstream connection and logs a forwarded call, even when the request is
    being cancelled under it (the caller went away, the server is stopping)."""
    with anyio.CancelScope(shield=True):
        if response is not None:
            await response.aclose()
        await anyio.to_thread.run_sync(_log, runtime, admission, status, sent, started, error)


class Gateway:
    """The ASGI endpoint behind `/gateway/{prefix}/{serial}/{path:path}`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        app = scope["app"]
        runtime: Runtime = app.state.runtime
        params = scope["path_params"]
        headers = Headers(scope=scope)
        body, too_large = await _read_body(receive, headers)
        client_address = scope.get("client")
        call = _Call(
            resource_code=f"{params['prefix']}/{params['serial']}",
            method=scope["method"],
            path="/" + params["path"],
            authorization=headers.get("authorization", ""),
            session_token=_cookie(headers, SESSION_COOKIE),
            source_ip=client_address[0] if client_address else None,
            started=started,
            refusal=BodyTooLarge(f"请求体超过 {MAX_BODY // 1024 // 1024} MB")
            if too_large
            else None,
        )
        admission = await anyio.to_thread.run_sync(_admit, runtime, call)
        if admission.refusal is not None:
            await _problem(scope, send, admission.refusal)
            return
        await self._forward(scope, send, runtime, admission, body, started)

    async def _forward(
        self,
        scope: Scope,
        send: Send,
        runtime: Runtime,
        admission: Admission,
        body: bytes,
        started: float,
    ) -> None:
        timeout = admission.timeout_seconds
        client = _client(scope["app"].state)
        request = client.build_request(
            admission.method,
            _upstream_url(scope, admission.base_url, admission.path),
            headers=_upstream_headers(scope, admission),
            content=body or None,
            timeout=httpx.Timeout(timeout),
        )
        failure: DomainError | None = None
        try:
            with anyio.fail_after(timeout):  # the whole wait for the answer's headers
                response = await client.send(request, stream=True)
        except (httpx.TimeoutException, TimeoutError):
            failure = UpstreamTimeout(f"上游服务超时（{timeout:g} 秒）")
        except httpx.HTTPError as exc:
            failure = UpstreamUnreachable(f"上游服务不可达：{type(exc).__name__}")
        if failure is not None:
            try:
                await _problem(scope, send, failure)
            finally:
                await _finish(runtime, admission, failure.status, 0, started, failure.message)
            return
        await self._stream(send, runtime, admission, response, started)

    async def _stream(
        self,
        send: Send,
        runtime: Runtime,
        admission: Admission,
        response: httpx.Response,
        started: float,
    ) -> None:
        sent, error = 0, ""
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": _returned_headers(response),
                }
            )
            async for chunk in response.aiter_raw():
                sent += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError as exc:
            # Headers are gone: the broken connection is the only way left to tell the caller.
            error = f"上游响应中断：{type(exc).__name__}"
            raise
        except BaseException:
            error = "调用方断开连接"
            raise
        finally:
            await _finish(runtime, admission, response.status_code, sent, started, error, response)


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


# web/app.py puts this route first: `app.router.routes.insert(0, gateway.route)`. Behind the
# application's ~300 included routes FastAPI spends about 2 ms matching each call; first, 40 µs.
route = Route(PREFIX + "/{prefix}/{serial}/{path:path}", Gateway(), name="gateway")
