"""Every use of shared data, per grant (SR§25 使用日志推送至提供部门和使用部门, SHR-7).

Each delivery path writes one fact when it delivers — an online query, a keyed lookup, a
download (CSV, Excel, JSON Lines), a file download, a push run — in the transaction of its
audit entry, with one INSERT on the transaction's connection and no read. Gateway calls are
already facts of the same kind in the gateway's log (`GatewayCall`, written with their own
audit entry); the views read both tables, so a gateway call costs no second insert.

The provider sees the uses of its resources, the consumer its own, the operator, the
authority and auditors every department's (BZ§27): counts by kind over the last 7 and 30
days and in total, the latest uses (who, when, how, how many rows), and an export as CSV.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Forbidden, Invalid
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.core.spreadsheet import csv_cell
from govshare.exchange.models import DataUse, GatewayCall, UseKind
from govshare.identity.models import Organization
from govshare.sharing.models import Grant
from govshare.sharing.service.common import READERS, oversees

PERIODS = (7, 30)  # days counted besides the total
LATEST = 10  # uses shown per grant on the usage page
MAX_LIMIT = 500


class Held(Protocol):
    """What a use needs of its grant: the grant model or anything carrying its ids."""

    @property
    def id(self) -> int: ...
    @property
    def resource_id(self) -> int: ...
    @property
    def provider_id(self) -> int: ...
    @property
    def consumer_id(self) -> int: ...


@dataclass(frozen=True)
class UseGrant:
    """A grant's ids, for a use recorded after its session is gone (a download's end)."""

    id: int
    resource_id: int
    provider_id: int
    consumer_id: int

    @classmethod
    def of(cls, grant: Held) -> UseGrant:
        return cls(grant.id, grant.resource_id, grant.provider_id, grant.consumer_id)


_INSERT = insert(DataUse.__table__)


def record_use(
    db_session: Session, *, actor: Actor, grant: Held, kind: UseKind, rows: int | None
) -> None:
    """One use of data under `grant`, in the caller's transaction beside its audit entry."""
    # On the transaction's connection: one statement, without the session's flush machinery.
    db_session.connection().execute(
        _INSERT,
        {
            "at": clock.now(),
            "grant_id": grant.id,
            "resource_id": grant.resource_id,
            "provider_id": grant.provider_id,
            "consumer_id": grant.consumer_id,
            "kind": kind,
            "rows": rows,
            "caller": actor.label[:120],
        },
    )


# --- reading: both tables as one ------------------------------------------------------------

_FORWARDED = ~and_(GatewayCall.error != "", GatewayCall.status < 500)  # refusals are no use


@dataclass(frozen=True)
class Scope:
    """Which uses a view reads: any combination of these, all given ones must hold."""

    grant_ids: Sequence[int] | None = None
    provider_id: int | None = None
    consumer_id: int | None = None
    since: datetime | None = None


def _where(scope: Scope, table: Any) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if scope.grant_ids is not None:
        where.append(table.grant_id.in_(list(scope.grant_ids)))
    if scope.provider_id is not None:
        where.append(table.provider_id == scope.provider_id)
    if scope.consumer_id is not None:
        where.append(table.consumer_id == scope.consumer_id)
    if scope.since is not None:
        where.append(table.at >= scope.since)
    return where


def use_facts(scope: Scope) -> Any:
    """Uses from both tables (data uses and gateway calls), filtered in each before they are
    combined: one subquery of (at, grant, resource, provider, consumer, kind, rows, caller),
    the one reading of use that the usage pages and the ledgers share."""
    data = select(
        DataUse.at,
        DataUse.grant_id,
        DataUse.resource_id,
        DataUse.provider_id,
        DataUse.consumer_id,
        type_coerce(DataUse.kind, String(16)).label("kind"),
        DataUse.rows,
        DataUse.caller,
    ).where(*_where(scope, DataUse))
    calls = select(
        GatewayCall.at,
        GatewayCall.grant_id,
        GatewayCall.resource_id,
        GatewayCall.provider_id,
        GatewayCall.consumer_id,
        literal(UseKind.GATEWAY.value, String(16)).label("kind"),
        cast(null(), BigInteger).label("rows"),
        GatewayCall.caller,
    ).where(GatewayCall.grant_id.is_not(None), _FORWARDED, *_where(scope, GatewayCall))
    return union_all(data, calls).subquery("use")


@dataclass(frozen=True)
class KindCount:
    """Uses of one kind: in the last 7 and 30 days and in total."""

    kind: UseKind
    last_7: int
    last_30: int
    total: int

    @property
    def label(self) -> str:
        return self.kind.label


@dataclass
class Counts:
    """A grant's uses by kind (only the kinds used), and all kinds together."""

    kinds: list[KindCount] = field(default_factory=list)

    @property
    def total(self) -> KindCount | None:
        if not self.kinds:
            return None
        return KindCount(
            UseKind.QUERY,
            sum(k.last_7 for k in self.kinds),
            sum(k.last_30 for k in self.kinds),
            sum(k.total for k in self.kinds),
        )


@dataclass(frozen=True)
class Use:
    """One use as the views show it."""

    at: datetime
    kind: UseKind
    rows: int | None
    caller: str
    grant_id: int
    grant_number: str
    resource_code: str
    consumer: str
    provider: str

    @property
    def label(self) -> str:
        return self.kind.label


def _counts(db_session: Session, scope: Scope) -> dict[int, Counts]:
    now = clock.now()
    use = use_facts(scope)
    recent = [
        func.sum(case((use.c.at >= now - timedelta(days=days), 1), else_=0)) for days in PERIODS
    ]
    rows = db_session.execute(
        select(use.c.grant_id, use.c.kind, *recent, func.count()).group_by(
            use.c.grant_id, use.c.kind
        )
    ).all()
    order = list(UseKind)
    found: dict[int, Counts] = {}
    for grant_id, kind, last_7, last_30, total in rows:
        counted = KindCount(UseKind(kind), int(last_7 or 0), int(last_30 or 0), int(total))
        found.setdefault(grant_id, Counts()).kinds.append(counted)
    for counts in found.values():
        counts.kinds.sort(key=lambda k: order.index(k.kind))
    return found


def _uses_query(scope: Scope, *, per_grant: int | None = None) -> Select[Any]:
    use = use_facts(scope)
    consumer = Organization.__table__.alias("consumer")
    provider = Organization.__table__.alias("provider")
    columns = [
        use.c.at,
        use.c.kind,
        use.c.rows,
        use.c.caller,
        use.c.grant_id,
        Grant.number,
        Resource.code,
        func.coalesce(func.nullif(consumer.c.short_name, ""), consumer.c.name),
        func.coalesce(func.nullif(provider.c.short_name, ""), provider.c.name),
    ]
    base = (
        select(*columns)
        .join_from(use, Grant, Grant.id == use.c.grant_id)
        .join(Resource, Resource.id == use.c.resource_id)
        .join(consumer, consumer.c.id == use.c.consumer_id)
        .join(provider, provider.c.id == use.c.provider_id)
    )
    if per_grant is None:
        return base.order_by(use.c.at.desc())
    ranked = base.add_columns(
        func.row_number().over(partition_by=use.c.grant_id, order_by=use.c.at.desc()).label("rank")
    ).subquery("ranked")
    return (
        select(*list(ranked.c)[:-1])
        .where(ranked.c.rank <= per_grant)
        .order_by(ranked.c.grant_id, ranked.c.at.desc())
    )


def _use(row: Any) -> Use:
    at, kind, rows, caller, grant_id, number, code, consumer, provider = row
    return Use(
        clock.as_utc(at), UseKind(kind), rows, caller, grant_id, number, code, consumer, provider
    )


@dataclass
class GrantUses:
    """Per grant: counts by kind and the latest uses."""

    counts: dict[int, Counts] = field(default_factory=dict)
    latest: dict[int, list[Use]] = field(default_factory=dict)

    def of(self, grant_id: int) -> tuple[Counts, list[Use]]:
        return self.counts.get(grant_id, Counts()), self.latest.get(grant_id, [])


def uses_of_grants(
    db_session: Session, *, actor: Actor, grants: Sequence[Grant], latest: int = LATEST
) -> GrantUses:
    """Counts and the latest uses of grants the caller has already been allowed to see (the
    provider's usage page, a grant's page): two queries however many grants."""
    require(actor, *READERS, Role.SYSTEM, action="查看数据使用情况")
    visible = [
        g.id
        for g in grants
        if oversees(actor) or actor.organization_id in (g.provider_id, g.consumer_id)
    ]
    if not visible:
        return GrantUses()
    scope = Scope(grant_ids=visible)
    found = GrantUses(_counts(db_session, scope))
    for row in db_session.execute(_uses_query(scope, per_grant=latest)):
        use = _use(row)
        found.latest.setdefault(use.grant_id, []).append(use)
    return found


def _scope(
    actor: Actor,
    side: str,
    organization_id: int | None,
    grant_id: int | None,
    since: datetime | None,
) -> Scope:
    """The uses a caller may list: its department's as provider or consumer; overseers any
    department's, or every department's when none is named."""
    require(actor, *READERS, Role.SYSTEM, action="查看数据使用情况")
    if since is not None and since.tzinfo is None:
        raise Invalid("起始时间须带时区，如 2026-10-01T00:00:00+08:00", field="since")
    if side not in ("provider", "consumer"):
        raise Invalid(
            "side 只能是 provider（本单位资源被使用）或 consumer（本单位使用）", field="side"
        )
    if organization_id is None and not oversees(actor):
        organization_id = own_organization(actor)
    if (
        organization_id is not None
        and organization_id != actor.organization_id
        and not oversees(actor)
    ):
        raise Forbidden("只能查看本单位的数据使用情况", field="organization_id")
    return Scope(
        grant_ids=None if grant_id is None else [grant_id],
        provider_id=organization_id if side == "provider" else None,
        consumer_id=organization_id if side == "consumer" else None,
        since=since,
    )


def list_uses(
    db_session: Session,
    *,
    actor: Actor,
    side: str = "provider",
    organization_id: int | None = None,
    grant_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[Use]:
    """The latest uses, newest first: of the department's resources (`side="provider"`) or by
    the department (`"consumer"`); overseers name any department, or none for all."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"条数须在 1 到 {MAX_LIMIT} 之间", field="limit")
    scope = _scope(actor, side, organization_id, grant_id, since)
    return [_use(r) for r in db_session.execute(_uses_query(scope).limit(limit))]


CSV_HEADER = ["时间", "资源代码", "授权编号", "提供部门", "使用部门", "使用方式", "行数", "操作方"]


def export_scope(
    db_session: Session,
    *,
    actor: Actor,
    side: str = "provider",
    organization_id: int | None = None,
    since: datetime | None = None,
) -> Scope:
    """Checks what the caller may export (as `list_uses`) before the first byte is sent, and
    records the export: a whole department's use log leaves the platform."""
    scope = _scope(actor, side, organization_id, None, since)
    department = scope.provider_id if side == "provider" else scope.consumer_id
    record(
        db_session,
        actor=actor,
        action="exchange.usage.export",
        object_type="organization",
        object_id=department,  # None: every department's, for an overseer
        details={"side": side, "since": since.isoformat() if since else None},
    )
    return scope


def export_uses(
    scope: Scope, *, transaction: Callable[[], contextlib.AbstractContextManager[Session]]
) -> Iterator[str]:
    """Every use in `scope` (from `export_scope`) as CSV text, UTF-8 with a BOM for Excel,
    newest first, read in batches in a transaction of its own: the response streams after
    the request's transaction has ended."""
    with transaction() as db_session:
        result = db_session.execute(
            _uses_query(scope), execution_options={"yield_per": 1000, "stream_results": True}
        )
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(CSV_HEADER)
        for count, row in enumerate(result, start=1):
            use = _use(row)
            writer.writerow(
                csv_cell(v)
                for v in [
                    clock.to_city(use.at).strftime("%Y-%m-%d %H:%M:%S"),
                    use.resource_code,
                    use.grant_number,
                    use.provider,
                    use.consumer,
                    use.label,
                    "" if use.rows is None else use.rows,
                    use.caller,
                ]
            )
            if count % 1000 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
