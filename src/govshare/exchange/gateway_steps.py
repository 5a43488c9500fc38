"""The gateway's (服务网关) database side: one call's two steps — its admission before it is
forwarded, its log once the answer has streamed — each run in a worker thread, and the group
commit that carries every step queued meanwhile in one transaction (why: `exchange.gateway`).
The decisions themselves are `service.gateway_admission`'s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio
from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, lazyload, sessionmaker

from govshare.core import policy
from govshare.core.db import unit_of_work
from govshare.core.errors import DomainError, Unauthenticated
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.core.settings import Settings
from govshare.exchange.service import gateway_admission
from govshare.exchange.service.gateway_admission import Admission
from govshare.identity import service as identity_service
from govshare.pki import forwarding
from govshare.pki import service as pki_service

Item = TypeVar("Item")
Result = TypeVar("Result")


# --- one call's two steps, as run in a worker thread ------------------------------------------


@dataclass(frozen=True)
class Call:
    """What the admission needs to know about the incoming request."""

    resource_code: str
    method: str
    path: str
    authorization: str
    session_token: str | None
    source_ip: str | None
    started: float
    refusal: DomainError | None
    client_certificate: str | None = None  # forwarded by a trusted TLS terminator (pki.forwarding)


@dataclass(frozen=True)
class Outcome:
    """What the log records of a forwarded call."""

    admission: Admission
    status: int
    sent: int
    duration_ms: float
    error: str


def identify(
    db_session: Session, settings: Settings, call: Call
) -> tuple[Actor, DomainError | None]:
    """The caller: a department system's client certificate or bearer token (under a profile
    requiring certificates, BZ§26, not a token alone), or — to try a GET from the browser —
    a signed-in session (never for writes: a cookie rides along on cross-site requests)."""
    anonymous = Actor.anonymous(call.source_ip)
    bearer = call.authorization[:7].lower() == "bearer "
    if call.client_certificate is not None:
        try:
            by_certificate = pki_service.authenticate_certificate(
                db_session, certificate_pem=call.client_certificate, source_ip=call.source_ip
            )
        except Unauthenticated as exc:
            return anonymous, exc
        if not bearer:
            return by_certificate, None
        try:
            actor = identity_service.resolve_api_token(
                db_session, token=call.authorization[7:].strip(), source_ip=call.source_ip
            )
        except Unauthenticated as exc:
            return anonymous, exc
        if actor.organization_id != by_certificate.organization_id:
            return anonymous, Unauthenticated("接口令牌与客户端证书不属于同一单位")
        return actor, None
    if (
        bearer
        and policy.load_profile(
            settings.policy_profile, settings.policy_file
        ).rules.certificate_required.value
    ):
        return anonymous, Unauthenticated(forwarding.CERTIFICATE_REQUIRED)
    if bearer:
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


def _admit(db_session: Session, settings: Settings, call: Call) -> Admission:
    actor, refusal = identify(db_session, settings, call)
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


def _log(db_session: Session, settings: Settings, outcome: Outcome) -> None:
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


def step(db_session: Session, settings: Settings, item: Call | Outcome) -> Admission | None:
    """One item of a group: a call's admission, or a forwarded call's log."""
    if isinstance(item, Call):
        return _admit(db_session, settings, item)
    _log(db_session, settings, item)
    return None


def begin(db_session: Session, items: list[Call | Outcome]) -> None:
    """A group of logs alone commits relaxed; one with an admission waits for the disk, as
    an admission must be on record before the call is forwarded."""
    if not any(isinstance(item, Call) for item in items):
        _relaxed_commit(db_session)


def _lazy_relationships(state: ORMExecuteState) -> None:
    # Core statements (the call path's) load no relationships and keep their cache key.
    if state.is_select and state.is_orm_statement:
        state.statement = state.statement.options(lazyload("*"))


def lean_sessions(runtime: Runtime) -> sessionmaker[Session]:
    """The application's sessions, except that ORM queries load no relationship unless it is
    touched. The services the gateway calls read only columns of the rows they load, but
    their models eager-load for pages: a grant joins its resource, version, provider and
    consumer and select-loads their lists, which made `check_access` 80 % of a call."""
    lean = sessionmaker(**runtime.sessions.kw)
    event.listen(lean, "do_orm_execute", _lazy_relationships)
    return lean


# --- group commit --------------------------------------------------------------------------------


@dataclass
class GroupCommit(Generic[Item, Result]):
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
