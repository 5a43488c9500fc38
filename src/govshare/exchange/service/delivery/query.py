"""The online query and the keyed lookup (EXC-5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from govshare.core.audit.service import append, entry_fields
from govshare.core.errors import DomainError, Forbidden, Invalid
from govshare.core.permissions import Actor
from govshare.core.settings import Settings
from govshare.exchange.center import Center
from govshare.exchange.models import TableBinding, UseKind
from govshare.exchange.service.delivery import cached
from govshare.exchange.service.delivery.calls import (
    DataPage,
    DataRequest,
    Rejected,
    _bound,
    _Call,
    _call_entry,
    _check_limit,
    _columns,
    _count,
    _fields,
    _filters,
    _granted,
    _open_cursor,
    _record,
    _reject,
    _row,
    _seal_cursor,
    _typed,
)
from govshare.exchange.service.delivery.statements import (
    DEFAULT_LIMIT,
    Scope,
    _key_label,
    _lookup_reader,
    _reader,
    _statement,
    grant_scope,
    masking_key,
)
from govshare.exchange.service.usage import record_use
from govshare.sharing.service.access import _access_entry

# --- online query and lookup --------------------------------------------------------------


def query(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    center: Center,
    resource_code: str,
    request: DataRequest,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    total: bool = False,
) -> DataPage | Rejected:
    """One page of the consumer's granted rows matching its filters, ordered by key (EXC-5)."""
    _check_limit(limit)
    bound = _bound(db_session, resource_code)
    binding = bound.binding
    details = {**request.as_details(), "limit": limit, "cursor": cursor is not None}
    call = _Call(actor=actor, action="exchange.data.query", bound=bound, details=details)
    grant = _granted(db_session, call)
    if isinstance(grant, Rejected):
        return grant
    scope: Scope | None = None
    try:
        scope = grant_scope(binding, grant)
        columns = _columns(binding, scope, request)
        where = _filters(binding, scope, request)
        after = _open_cursor(settings, bound.code, binding, cursor) if cursor else None
    except DomainError as error:
        return _reject(db_session, call, grant, error, scope)
    mask_key = masking_key(settings)
    page, values = _statement(
        center,
        binding,
        scope,
        key=mask_key,
        columns=columns,
        where=where,
        after=after,
        limit=limit + 1,
        with_keys=True,
    )
    keys = [_key_label(i) for i in range(len(binding.key_columns))]
    with _reader(center).connect() as conn:
        found = [r._mapping for r in conn.execute(page, values)]
        count = None
        if total:
            whole, bound_values = _statement(
                center, binding, scope, key=mask_key, columns=columns, where=where
            )
            count = conn.execute(_count(whole), bound_values).scalar_one()
    more = len(found) > limit
    rows = [_row(r, columns) for r in found[:limit]]
    next_cursor = (
        _seal_cursor(settings, bound.code, [found[limit - 1][k] for k in keys]) if more else None
    )
    _record(db_session, call, grant, rows=len(rows), more=more)
    record_use(db_session, actor=actor, grant=grant, kind=UseKind.QUERY, rows=len(rows))
    return DataPage(
        bound.resource_id,
        bound.code,
        bound.name,
        grant,
        _fields(scope, columns),
        rows,
        next_cursor,
        count,
        scope.missing,
        tuple(binding.key_columns),
        _verifying(db_session, binding, [[r[k] for k in keys] for r in found[:limit]]),
    )


def lookup(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    center: Center,
    resource_code: str,
    key: str,
    fields: Sequence[str] = (),
) -> DataPage | Rejected:
    """The one record with this key, if the grant admits it (else no rows): "check this
    citizen's record by ID number", one query on the primary key. A composite key is given
    as its values joined by commas, in key order.

    The hot path of the center: the bound resource, the consumer's grants and the compiled
    SELECT come from the per-process caches (`cached`, kept under the cache stamp), so a
    call reads the stamp, runs the SELECT on the center and writes its audit entries and
    its use — no ORM object is loaded."""
    bound = cached._bound(db_session, resource_code)
    binding = bound.binding
    details = {"key": key, "fields": list(fields)}
    call = _Call(actor=actor, action="exchange.data.lookup", bound=bound, details=details)  # type: ignore[arg-type]
    decision = cached._check_access(db_session, actor=actor, resource_id=bound.resource_id)
    grant = decision.grant
    # Both audit entries (the access check's and the call's) go in one INSERT at the end.
    access = entry_fields(**_access_entry(actor, bound.resource_id, decision))

    def audited(**outcome: Any) -> None:
        append(db_session, [access, entry_fields(**_call_entry(call, grant, **outcome))])  # type: ignore[arg-type]

    if not decision.allowed:
        audited(refused=decision.reason)
        return Rejected(Forbidden(decision.reason, field="grant"), grant)
    assert grant is not None
    scope: Scope | None = None
    try:
        prepared = cached._compiled(
            db_session,
            center,
            binding,
            grant,  # type: ignore[arg-type]
            tuple(fields),
            masking_key(settings),
            lambda found: _columns(binding, found, DataRequest(fields=fields)),  # type: ignore[arg-type]
        )
        scope = prepared.scope
        values = _key_values(binding, prepared, key)
    except DomainError as error:
        audited(refused=error.message)
        return Rejected(error, grant, scope.fields if scope else ())  # type: ignore[arg-type]
    columns = prepared.columns
    with _lookup_reader(center).connect() as conn:
        found = conn.execute(prepared.statement, values).first()
    rows = [] if found is None else [_row(found._mapping, columns)]
    audited(rows=len(rows))
    record_use(db_session, actor=actor, grant=grant, kind=UseKind.LOOKUP, rows=len(rows))
    verifying: tuple[bool, ...] = ()
    if rows:
        under = cached._under_verification(
            db_session,
            binding,
            lambda: keys_under_verification(db_session, binding),  # type: ignore[arg-type]
        )
        raw = [values[f"w{i}"] for i in range(len(binding.key_columns))]
        verifying = (_key_text(raw) in under,)
    return DataPage(
        bound.resource_id,
        bound.code,
        bound.name,
        grant,  # type: ignore[arg-type]
        _fields(scope, columns),
        rows,
        missing=scope.missing,
        key_columns=tuple(binding.key_columns),
        verifying=verifying,
    )


def _key_text(values: Sequence[Any]) -> tuple[str, ...]:
    from govshare.verification.service import objections

    return objections.key_text(values)


def _key_values(binding: cached.BindingView, prepared: cached.Compiled, key: str) -> dict[str, Any]:
    """The key as given, checked and typed, as the values of the compiled SELECT."""
    keys = binding.key_columns
    given = [key] if len(keys) == 1 else key.split(",")
    if len(given) != len(keys):
        raise Invalid(f"主键由 {len(keys)} 个字段组成，请按顺序用逗号分隔给出", field="key")
    not_granted = [
        c["item"]
        for c in binding.columns
        if c["column"] in keys and not prepared.scope.field(c["column"])
    ]
    if not_granted:
        raise Forbidden(
            f"按主键查询须获授权字段“{'、'.join(not_granted)}”，请改用已授权字段筛选", field="key"
        )
    values: dict[str, Any] = {"_gs_limit": 1}
    for i, (found, raw) in enumerate(zip(prepared.key_fields, given, strict=True)):
        assert found is not None
        values[f"w{i}"] = _typed(found.type, raw, "key")
    return values


def _verifying(
    db_session: Session, binding: TableBinding, keys: Sequence[Sequence[Any]]
) -> tuple[bool, ...]:
    """For each row's key (raw values, in key order): whether an objection on that record is
    open, so that results show it as under verification (核实中, VER-2)."""
    from govshare.verification.service import objections

    if not keys:
        return ()
    under = keys_under_verification(db_session, binding)
    return tuple(objections.key_text(key) in under for key in keys)


def keys_under_verification(db_session: Session, binding: TableBinding) -> set[tuple[str, ...]]:
    """The keys (as `objections.key_text` writes them) of the bound resource's records under
    an open objection."""
    from govshare.verification.service import objections

    item_of = {c["column"]: c["item"] for c in binding.columns}
    items = [item_of.get(c, c) for c in binding.key_columns]
    return objections.under_verification(db_session, binding.resource_id, items)
