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

A resource code is `<classification>/<serial>`, so it takes two path segments:
`/gateway/301001001/000001/enterprises/91360100…`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import anyio
import httpcore
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
from govshare.core.settings import Settings
from govshare.exchange.service import gateway_admission
from govshare.exchange.service.gateway_admission import Admission
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
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30)
log = logging.getLogger("govshare.gateway")
Item = TypeVar("Item")
Result = TypeVar("Result")


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


# --- one call's two steps, as run in a worker thread ------------------------------------------


@dataclass(frozen=True)
class _Call:
    """What the admission needs to know about the incoming request."""

    resource_code: str
    method: str
    path: str
    authorization: str
    session_token: str | None
    source_ip: str | None
    started: float
    refusal: DomainError | None


@dataclass(frozen=True)
class _Outcome:
    """What the log records of a forwarded call."""

    admission: Admission
    status: int
    sent: int
    duration_ms: float
    error: str


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


def _admit(db_session: Session, settings: Settings, call: _Call) -> Admission:
    actor, refusal = _identify(db_session, call)
    return gateway_admission.admit_call(
        db_session,
        actor=actor,
        resource_code=call.resource_code,
        method=call.method,
        path=call.path,
        default_rate_limit=settings.gateway_rate_limit,
        duration_ms=(time.perf_counter() - call.started) * 1000,
        refusal=call.refusal or refusal,
    )


def _log(db_session: Session, settings: Settings, outcome: _Outcome) -> None:
    gateway_admission.log_call(
        db_session,
        admission=outcome.admission,
        status=outcome.status,
        bytes_out=outcome.sent,
        duration_ms=outcome.duration_ms,
        error=outcome.error,
    )


def _relaxed_commit(db_session: Session) -> None:
    """The log is written after the answer has gone out, so waiting for the disk protects
    nothing a crash could not take anyway: on PostgreSQL its commit does not wait for the WAL
    flush (the next synchronous commit, an admission's, flushes it with its own)."""
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def _step(db_session: Session, settings: Settings, item: _Call | _Outcome) -> Admission | None:
    """One item of a group: a call's admission, or a forwarded call's log."""
    if isinstance(item, _Call):
        return _admit(db_session, settings, item)
    _log(db_session, settings, item)
    return None


def _begin(db_session: Session, items: list[_Call | _Outcome]) -> None:
    """A group of logs alone commits relaxed; one with an admission waits for the disk, as
    an admission must be on record before the call is forwarded."""
    if not any(isinstance(item, _Call) for item in items):
        _relaxed_commit(db_session)


def _lazy_relationships(state: ORMExecuteState) -> None:
    # Core statements (the call path's) load no relationships and keep their cache key.
    if state.is_select and state.is_orm_statement:
        state.statement = state.statement.options(lazyload("*"))


def _lean_sessions(runtime: Runtime) -> sessionmaker[Session]:
    """The application's sessions, except that ORM queries load no relationship unless it is
    touched. The services the gateway calls read only columns of the rows they load, but
    their models eager-load for pages: a grant joins its resource, version, provider and
    consumer and select-loads their lists, which made `check_access` 80 % of a call."""
    lean = sessionmaker(**runtime.sessions.kw)
    event.listen(lean, "do_orm_execute", _lazy_relationships)
    return lean


# --- group commit --------------------------------------------------------------------------------


@dataclass
class _GroupCommit(Generic[Item, Result]):
    """The gateway's transactions in this process: at most one at a time, each taking every
    item that queued up meanwhile."""

    sessions: sessionmaker[Session]
    settings: Settings
    step: Callable[[Session, Settings, Item], Result]
    begin: Callable[[Session, list[Item]], None] | None = None
    queue: list[tuple[Item, asyncio.Future[Result]]] = field(default_factory=list)
    drainer: asyncio.Task[None] | None = None

    async def run(self, item: Item) -> Result:
        """The step's result for `item`, once the transaction that carried it has committed.
        The transaction completes even if the caller is cancelled meanwhile."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self.queue.append((item, future))
        if self.drainer is None:
            self.drainer = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.queue:
                group, self.queue = self.queue, []
                try:
                    results = await self._results([item for item, _ in group])
                except BaseException as exc:  # cancelled: the loop is going down
                    self._settle([future for _, future in group], exc)
                    raise
                for (_, future), result in zip(group, results, strict=True):
                    if isinstance(result, Exception):
                        self._settle([future], result)
                    elif not future.done():
                        future.set_result(result)
        finally:
            self.drainer = None
            if self.queue:  # only when the loop is going down
                self._settle([future for _, future in self.queue], asyncio.CancelledError())
                self.queue = []

    async def _results(self, items: list[Item]) -> list[Result | Exception]:
        """Each item's result or exception: together, or one by one if together failed."""
        try:
            return list(await anyio.to_thread.run_sync(self._together, items))
        except Exception as exc:
            if len(items) == 1:
                return [exc]
            return await anyio.to_thread.run_sync(self._one_by_one, items)

    @staticmethod
    def _settle(futures: list[asyncio.Future[Result]], error: BaseException) -> None:
        for future in futures:
            if future.done():
                continue
            if isinstance(error, Exception):
                future.set_exception(error)
            else:
                future.cancel()

    def _together(self, items: list[Item]) -> list[Result]:
        results = []
        with unit_of_work(self.sessions) as db_session:
            if self.begin is not None:
                self.begin(db_session, items)
            for item in items:
                # Each call reads rows afresh, as it would in a transaction of its own: a
                # grant suspended a moment ago must not pass from an earlier call's copy.
                db_session.expire_all()
                results.append(self.step(db_session, self.settings, item))
        return results

    def _one_by_one(self, items: list[Item]) -> list[Result | Exception]:
        results: list[Result | Exception] = []
        for item in items:
            try:
                results.append(self._together([item])[0])
            except Exception as exc:
                results.append(exc)
        return results


# --- the upstream connections --------------------------------------------------------------------

# What httpcore raises when an upstream cannot be reached, breaks off or answers nonsense.
UPSTREAM_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)
# Characters a request target keeps as they are; anything else is percent-encoded.
_TARGET_SAFE = "/%:@!$&'()*+,;=-._~?"


@functools.lru_cache(maxsize=1024)
def _base(base_url: str) -> tuple[bytes, bytes, int, bytes, bytes]:
    """A provider's base URL as requests need it (scheme, host, port, Host header, path),
    parsed once per address."""
    url = httpx.URL(base_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.raw_scheme, url.raw_host, port, url.netloc, url.raw_path.rstrip(b"/")


def upstream_request(
    method: str,
    base_url: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    timeout: float,
) -> httpcore.Request:
    """The request to a provider's API: `target` (path and query) below its base URL, with
    exactly the given headers plus Host and Content-Length (no cookies, no Accept-Encoding
    of the platform's own: an answer the consumer did not ask to be compressed must not be),
    and `timeout` seconds for connecting, each read and each write."""
    scheme, host, port, netloc, path = _base(base_url)
    sent = [(b"host", netloc), *headers]
    if body or method in ("POST", "PUT", "PATCH"):
        sent.append((b"content-length", str(len(body)).encode()))
    return httpcore.Request(
        method,
        httpcore.URL(scheme=scheme, host=host, port=port, target=path + target),
        headers=sent,
        content=body,
        extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)},
    )


class _Upstreams:
    """Keep-alive HTTP/1.1 connections to the providers' APIs (httpcore's, the transport
    under httpx), the last one freed reused first, at most `max_connections` in use at once.

    Not httpx's client: its request and response layers (URLs, headers, cookies, auth and
    redirect hooks) cost as much CPU as the HTTP exchange itself, and its pool checks the
    socket of every pooled connection each time a request starts or an answer is closed (a
    tenth of a gateway process's CPU at 32 calls at once). This pool checks only the
    connection it is about to reuse (an idle socket that has become readable means the
    server hung up) and sweeps one stale idle connection per call. Providers' APIs are
    reached directly, never through a proxy set in the server's environment."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._slots = asyncio.Semaphore(limits.max_connections or 1000)
        self._max_idle = limits.max_keepalive_connections or 0
        self._expiry = limits.keepalive_expiry
        self._ssl = httpx.create_ssl_context(trust_env=False)
        # by (scheme, host, port): httpcore's Origin is not hashable
        self._idle: dict[tuple[bytes, bytes, int], list[httpcore.AsyncHTTPConnection]] = {}

    async def send(self, request: httpcore.Request) -> _Answer:
        """The answer, once its head is in; its body streams from the `_Answer`, which must
        be closed (that frees the connection). Raises httpcore's errors."""
        try:
            with anyio.fail_after(request.extensions["timeout"]["pool"]):
                await self._slots.acquire()
        except TimeoutError:
            raise httpcore.PoolTimeout("no free connection to the upstream") from None
        connection = None
        try:
            for _ in range(2):  # a connection that turned unavailable is replaced once
                connection = await self._reusable(request.url.origin)
                try:
                    response = await connection.handle_async_request(request)
                    return _Answer(response, self, connection, request.url.origin)
                except httpcore.ConnectionNotAvailable:
                    await self._close(connection)
                    connection = None
            raise httpcore.ConnectError("no usable connection to the upstream")
        except BaseException:
            if connection is not None:
                await self._close(connection)
            self._slots.release()
            raise

    async def _reusable(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        idle = self._idle.get((origin.scheme, origin.host, origin.port))
        while idle:
            connection = idle.pop()
            if connection.is_available() and not connection.has_expired():
                return connection
            await self._close(connection)  # past keep-alive, or the server hung up
        return httpcore.AsyncHTTPConnection(
            origin=origin, ssl_context=self._ssl, keepalive_expiry=self._expiry
        )

    async def _release(
        self, connection: httpcore.AsyncHTTPConnection, origin: httpcore.Origin
    ) -> None:
        """After an answer: keep the connection for the next call, or close it."""
        try:
            idle = self._idle.setdefault((origin.scheme, origin.host, origin.port), [])
            if connection.is_available() and len(idle) < self._max_idle:
                idle.append(connection)
                if idle[0] is not connection and idle[0].has_expired():
                    await self._close(idle.pop(0))
            else:
                await self._close(connection)
        finally:
            self._slots.release()

    @staticmethod
    async def _close(connection: httpcore.AsyncHTTPConnection) -> None:
        with anyio.CancelScope(shield=True):
            await connection.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await self._close(connection)


class _Answer:
    """An upstream's answer: its status and headers, and its body as it streams. Closing it
    hands the connection back to the pool."""

    def __init__(
        self,
        response: httpcore.Response,
        pool: _Upstreams,
        connection: httpcore.AsyncHTTPConnection,
        origin: httpcore.Origin,
    ) -> None:
        self.status = response.status
        self.headers = response.headers
        self._stream: Any = response.stream
        self._pool, self._connection, self._origin = pool, connection, origin
        self._closed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with anyio.CancelScope(shield=True):
                await self._stream.aclose()
        finally:
            await self._pool._release(self._connection, self._origin)


@dataclass
class _Local:
    """What the gateway keeps per process and event loop: the upstream connections (bound
    to the loop) and the group commit of admissions and logs."""

    loop: asyncio.AbstractEventLoop
    upstreams: _Upstreams
    steps: _GroupCommit[_Call | _Outcome, Admission | None]


def _local(scope: Scope) -> _Local:
    state = scope["app"].state
    loop = asyncio.get_running_loop()
    local: _Local | None = getattr(state, "gateway", None)
    if local is None or local.loop is not loop:
        runtime: Runtime = state.runtime
        sessions = _lean_sessions(runtime)
        local = _Local(
            loop=loop,
            upstreams=_Upstreams(LIMITS),
            steps=_GroupCommit(sessions, runtime.settings, _step, _begin),
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
        answer: _Answer,
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
        outcome = _Outcome(admission, status, sent, duration_ms, error)
        try:
            await local.steps.run(outcome)
        except Exception:
            log.exception("gateway call not logged: %s", outcome)


# web/app.py adds this route before the routers: behind the application's ~300 included
# routes FastAPI would spend about 2 ms matching each call; before them, 40 µs.
route = Route(PREFIX + "/{prefix}/{serial}/{path:path}", Gateway(), name="gateway")
