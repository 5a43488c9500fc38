"""The gateway's (服务网关) upstream side: the request to a provider's API, and the pool of
keep-alive connections it goes over, from which the answer streams back (the call as a whole:
`exchange.gateway`)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpcore
import httpx

# What httpcore raises when an upstream cannot be reached, breaks off or answers nonsense.
UPSTREAM_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)


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


class Upstreams:
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

    async def send(self, request: httpcore.Request) -> Answer:
        """The answer, once its head is in; its body streams from the `Answer`, which must
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
                    return Answer(response, self, connection, request.url.origin)
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


class Answer:
    """An upstream's answer: its status and headers, and its body as it streams. Closing it
    hands the connection back to the pool."""

    def __init__(
        self,
        response: httpcore.Response,
        pool: Upstreams,
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
