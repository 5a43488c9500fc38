"""What the keyed lookup keeps in memory per process, under the cache stamp (core.stamp): the
bound resource, the consumer's grants with the resource's retirement, the grant compiled to
the center's SELECT, and the keys under an open objection. Each is read from the database
once per stamp; a change to a grant, token, resource, binding or objection in any process
replaces the stamp in its own transaction, and the next lookup anywhere reads again.

The cached values are plain frozen values, never ORM objects: they outlive the session that
read them and are shared by the threads of the process. What depends on the day (a grant's
validity) is decided on every call from the cached terms, with the platform's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceStatus, ResourceVersion
from govshare.core import clock, stamp
from govshare.core.errors import Conflict, NotFound
from govshare.core.permissions import Actor, own_organization, require
from govshare.exchange.center import Center
from govshare.exchange.models import TableBinding
from govshare.exchange.service.delivery.statements import Field, Scope, _statement, grant_scope
from govshare.sharing.models import Grant, GrantState
from govshare.sharing.service.access import AccessDecision, _decide_access
from govshare.sharing.service.common import CONSUMERS, retired_reason

CACHE = "delivery"


@dataclass(frozen=True)
class BindingView:
    """A table binding as delivery reads it (the columns `TableBinding` offers it)."""

    id: int
    resource_id: int
    columns: tuple[dict[str, Any], ...]
    key_columns: tuple[str, ...]
    center_table: str

    column_of = TableBinding.column_of


@dataclass(frozen=True)
class BoundView:
    """A bound resource: its id, code, current name and binding."""

    resource_id: int
    code: str
    name: str
    binding: BindingView


@dataclass(frozen=True)
class GrantView:
    """A grant's terms as plain values; the rules (usable, expired) are the model's."""

    id: int
    number: str
    resource_id: int
    provider_id: int
    consumer_id: int
    state: GrantState
    state_reason: str | None
    valid_from: date
    valid_until: date | None
    whole_resource: bool
    fields: tuple[str, ...]
    row_filter: tuple[dict[str, Any], ...]
    masking: tuple[dict[str, Any], ...]

    expired = Grant.expired
    usable = Grant.usable


@dataclass(frozen=True)
class Held:
    """The consumer's grants for a resource (newest first) and the resource's retirement."""

    grants: tuple[GrantView, ...]
    retired: str | None  # the refusal when the resource is retired


@dataclass(frozen=True)
class Compiled:
    """A grant compiled for lookups on one set of returned columns."""

    scope: Scope
    columns: tuple[str, ...]
    key_fields: tuple[Field | None, ...]  # per key column: its granted field, None if not
    statement: sa.Select[Any]


_B, _R, _V = TableBinding.__table__.c, Resource.__table__.c, ResourceVersion.__table__.c
_BOUND = (
    sa.select(_B.id, _R.id, _V.name, _B.columns, _B.key_columns, _B.center_table)
    .select_from(
        TableBinding.__table__.join(Resource.__table__, _R.id == _B.resource_id).outerjoin(
            ResourceVersion.__table__, _V.id == _R.current_version_id
        )
    )
    .where(_R.code == sa.bindparam("code"))
)
_G = Grant.__table__.c
_GRANTS = (
    sa.select(*(_G[name] for name in GrantView.__dataclass_fields__))
    .where(_G.resource_id == sa.bindparam("resource_id"), _G.consumer_id == sa.bindparam("org"))
    .order_by(_G.id.desc())
)
_RETIRED = sa.select(_R.retirement_reason).where(
    _R.id == sa.bindparam("resource_id"), _R.status == ResourceStatus.RETIRED
)


def _load_bound(db_session: Session, code: str) -> BoundView:
    conn = db_session.connection()
    found = conn.execute(_BOUND, {"code": code}).first()
    if found is None:
        exists = conn.execute(sa.select(_R.id).where(_R.code == code)).scalar()
        if exists is None:
            raise NotFound(f"资源代码 {code} 不存在", field="resource_code")
        raise Conflict(
            f"资源 {code} 的数据尚未接入数据资源中心，暂不能在线查询或下载",
            field="resource_code",
        )
    binding_id, resource_id, name, columns, keys, center_table = found
    binding = BindingView(binding_id, resource_id, tuple(columns), tuple(keys), center_table)
    return BoundView(resource_id, code, name or code, binding)


def _bound(db_session: Session, code: str) -> BoundView:
    """The bound resource by code (NotFound, or Conflict while it has no binding)."""
    return stamp.cache_for(db_session, CACHE).get(
        stamp.current(db_session), ("bound", code), lambda: _load_bound(db_session, code)
    )


def _load_held(db_session: Session, resource_id: int, org_id: int) -> Held:
    conn = db_session.connection()
    grants = tuple(
        GrantView(
            *row[:10],
            fields=tuple(row.fields),
            row_filter=tuple(row.row_filter),
            masking=tuple(row.masking),
        )
        for row in conn.execute(_GRANTS, {"resource_id": resource_id, "org": org_id})
    )
    retired = conn.execute(_RETIRED, {"resource_id": resource_id}).first()
    return Held(grants, None if retired is None else retired_reason(retired[0]))


def _check_access(db_session: Session, *, actor: Actor, resource_id: int) -> AccessDecision:
    """`sharing.service.access.check_access` from the cached grants: the same rules; the grant
    comes back as a `GrantView`. The caller writes the audit entry (`_access_entry`), with its
    own, in one append."""
    require(actor, *CONSUMERS, action="使用共享数据")
    org_id = own_organization(actor)
    held = stamp.cache_for(db_session, CACHE).get(
        stamp.current(db_session),
        ("held", resource_id, org_id),
        lambda: _load_held(db_session, resource_id, org_id),
    )
    if held.retired is not None:  # whatever a grant says: its resource is gone (CAT-6)
        decision = AccessDecision(False, held.grants[0] if held.grants else None, held.retired)  # type: ignore[arg-type]
    else:
        decision = AccessDecision(*_decide_access(held.grants, clock.today()))  # type: ignore[arg-type]
    return decision


def _compiled(
    db_session: Session,
    center: Center,
    binding: BindingView,
    grant: GrantView,
    columns: tuple[str, ...],
    key: bytes,
    build: Any,
) -> Compiled:
    """The grant compiled for lookups returning `columns` (every granted one when empty);
    `build(scope)` gives the columns chosen (raising the consumer's error when one is not
    granted). DomainErrors are raised, never cached."""

    def load() -> Compiled:
        scope = grant_scope(binding, grant)  # type: ignore[arg-type]
        chosen = tuple(build(scope))
        keys = tuple(scope.field(k) for k in binding.key_columns)
        where = [] if None in keys else [_KeyFilter(k) for k in binding.key_columns]
        stmt, _ = _statement(
            center,
            binding,  # type: ignore[arg-type]
            scope,
            key=key,
            columns=chosen,
            where=where,  # type: ignore[arg-type]
            order_by=(),
            limit=1,
        )
        return Compiled(scope, chosen, keys, stmt)

    shape = ("compiled", center.engine.url, binding.id, grant.id, columns, key)
    return stamp.cache_for(db_session, CACHE).get(stamp.current(db_session), shape, load)


@dataclass(frozen=True)
class _KeyFilter:
    """An equality on a key column, its value bound at each call as w0, w1, …"""

    column: str
    op: str = "eq"
    value: Any = None
    name: str = "key"


def _under_verification(
    db_session: Session, binding: BindingView, load: Any
) -> set[tuple[str, ...]]:
    """The keys of the bound resource's records under an open objection (`load()` reads
    them), kept under the stamp: opening or closing an objection replaces it."""
    return stamp.cache_for(db_session, CACHE).get(
        stamp.current(db_session), ("verifying", binding.resource_id), load
    )
