"""Availability probes (可用性探测) of registered service interfaces and databases (EXC-2,
EXC-4, BZ§14): what a department registered must answer.

A probe of an interface is one GET of its base URL with a short timeout: any answer below 500
counts (the base URL need not be an endpoint itself), a refused connection, a timeout or a
server error does not. A probe of a database is the connection test the exchange runs when a
connection is saved. Probing runs outside any transaction — `targets` reads what to probe,
`probe` reaches out, `record_probes` keeps the outcomes — so a slow upstream never holds the
database. A day's and a month's availability are the share of their probes that answered;
`detectors.interface_unreachable` and `connection_unreachable` read the latest ones.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import DomainError
from govshare.core.permissions import Actor, Role, require
from govshare.core.settings import Settings
from govshare.exchange import engine
from govshare.exchange.models import Connection, ServiceInterface
from govshare.exchange.service.connections import url_of
from govshare.sharing.service.common import READERS
from govshare.supervision.models import Probe, ProbeTarget

TIMEOUT_SECONDS = 5.0  # a probe waits at most this long (less if the interface says so)
PROBERS = (Role.SYSTEM, Role.PLATFORM_OPERATOR)


@dataclass(frozen=True)
class Target:
    """Something to probe. `url` is a connection's SQLAlchemy URL with its password: it is
    handed to the probe only, never shown or logged."""

    target: ProbeTarget
    target_id: int
    department_id: int
    label: str
    url: str = field(repr=False)
    timeout: float = TIMEOUT_SECONDS
    refused: str = ""  # why it cannot be probed at all (e.g. a file no longer its own)


@dataclass(frozen=True)
class Outcome:
    target: Target
    at: datetime
    ok: bool
    millis: int | None
    message: str


def targets(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    interface_ids: Sequence[int] | None = None,
    connection_ids: Sequence[int] | None = None,
) -> list[Target]:
    """Every registered service interface and database (or the given ones)."""
    require(actor, *PROBERS, action="探测接口和数据库可用性")
    found: list[Target] = []
    interfaces = sa.select(ServiceInterface).order_by(ServiceInterface.id)
    if interface_ids is not None:
        interfaces = interfaces.where(ServiceInterface.id.in_(list(interface_ids)))
    for interface in db_session.scalars(interfaces):
        resource = interface.resource
        name = resource.current_version.name if resource.current_version else resource.code
        found.append(
            Target(
                ProbeTarget.INTERFACE,
                interface.id,
                resource.provider_id,
                name,
                interface.base_url,
                min(interface.timeout_seconds, TIMEOUT_SECONDS),
            )
        )
    connections = sa.select(Connection).order_by(Connection.id)
    if connection_ids is not None:
        connections = connections.where(Connection.id.in_(list(connection_ids)))
    for connection in db_session.scalars(connections):
        try:
            url, refused = url_of(connection, settings, db_session=db_session), ""
        except DomainError as exc:  # no longer its department's own: refused, not reached
            url, refused = "", exc.message
        found.append(
            Target(
                ProbeTarget.CONNECTION,
                connection.id,
                connection.organization_id,
                f"{connection.organization.name}：{connection.name}",
                url,
                refused=refused,
            )
        )
    return found


def probe(target: Target) -> Outcome:
    """Reaches the target once, now."""
    at = clock.now()
    if target.refused:
        return Outcome(target, at, False, None, target.refused[:500])
    started = time.perf_counter()
    try:
        if target.target is ProbeTarget.INTERFACE:
            with httpx.Client(timeout=target.timeout, follow_redirects=False) as client:
                status = client.get(target.url).status_code
            ok, message = status < 500, f"HTTP {status}"
        else:
            ok, message = True, engine.test_connection(target.url, timeout=target.timeout)
    except httpx.TimeoutException:
        ok, message = False, f"{target.timeout:g} 秒内无响应"
    except httpx.HTTPError as exc:
        ok, message = False, f"无法连接：{type(exc).__name__} {exc}"
    except engine.EngineError as exc:
        ok, message = False, str(exc)
    millis = round((time.perf_counter() - started) * 1000)
    return Outcome(target, at, ok, millis if ok else None, message[:500])


def record_probes(db_session: Session, *, actor: Actor, outcomes: Sequence[Outcome]) -> list[Probe]:
    """Keeps the outcomes of a round of probes (one audit entry for the round)."""
    require(actor, *PROBERS, action="记录可用性探测结果")
    rows = [
        Probe(
            target=o.target.target,
            target_id=o.target.target_id,
            department_id=o.target.department_id,
            label=o.target.label[:300],
            probed_at=o.at,
            probed_on=clock.to_city(o.at).date(),
            ok=o.ok,
            millis=o.millis,
            message=o.message,
        )
        for o in outcomes
    ]
    db_session.add_all(rows)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="supervision.probe",
        object_type="supervision",
        details={
            "probed": len(rows),
            "failed": [[p.target.value, p.target_id, p.message] for p in rows if not p.ok],
        },
    )
    return rows


@dataclass(frozen=True)
class Day:
    """A day's probes of one target."""

    on: date
    probes: int
    answered: int

    @property
    def ratio(self) -> float:
        return self.answered / self.probes if self.probes else 0.0


@dataclass(frozen=True)
class Availability:
    """One target's availability over a month, day by day, and the latest probe."""

    target: ProbeTarget
    target_id: int
    department_id: int
    label: str
    days: list[Day]
    last_ok: bool
    last_at: datetime
    last_message: str

    @property
    def month(self) -> float:
        probes = sum(d.probes for d in self.days)
        return sum(d.answered for d in self.days) / probes if probes else 0.0

    def on(self, day: date) -> Day | None:
        return next((d for d in self.days if d.on == day), None)


def availability(
    db_session: Session, *, actor: Actor, month: date | None = None
) -> list[Availability]:
    """Per probed target the actor may see (a department its own, overseers all), its
    availability day by day over the month of `month` (default: this month)."""
    require(actor, *READERS, action="查看可用性")
    first = (month or clock.today()).replace(day=1)
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    where = [Probe.probed_on >= first, Probe.probed_on < after]
    if not actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR):
        where.append(Probe.department_id == actor.organization_id)
    answered = sa.func.sum(sa.case((Probe.ok.is_(True), 1), else_=0))
    daily = db_session.execute(
        sa.select(Probe.target, Probe.target_id, Probe.probed_on, sa.func.count(), answered)
        .where(*where)
        .group_by(Probe.target, Probe.target_id, Probe.probed_on)
        .order_by(Probe.target, Probe.target_id, Probe.probed_on)
    ).all()
    days: dict[tuple[ProbeTarget, int], list[Day]] = {}
    for target, target_id, on, probes, ok in daily:
        days.setdefault((target, target_id), []).append(Day(on, int(probes), int(ok or 0)))
    latest_ids = (
        sa.select(sa.func.max(Probe.id)).where(*where).group_by(Probe.target, Probe.target_id)
    )
    found = []
    for last in db_session.scalars(sa.select(Probe).where(Probe.id.in_(latest_ids))):
        found.append(
            Availability(
                last.target,
                last.target_id,
                last.department_id,
                last.label,
                days.get((last.target, last.target_id), []),
                last.ok,
                last.probed_at,
                last.message,
            )
        )
    return sorted(found, key=lambda a: (a.target.value, a.label))
