"""What every delivery path shares: the consumer's request and its parsing, the outcome
types, the sealed paging cursor, and the checks (binding, grant) with their audit entries."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from govshare.catalog.models import Resource, ResourceVersion
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor
from govshare.core.settings import Settings, derived_key
from govshare.exchange.models import TableBinding
from govshare.exchange.service.delivery.statements import (
    MAX_LIMIT,
    SUFFIXES,
    TYPE_LABELS,
    Field,
    Filter,
    Scope,
    _check_filter,
)
from govshare.sharing.models import Grant
from govshare.sharing.service.access import check_access

# --- requests, outcomes -------------------------------------------------------------------


@dataclass(frozen=True)
class DataRequest:
    """What a consumer asks of a table resource: filters as (parameter, value) pairs — a field
    by item or column name, optionally suffixed __prefix, __from or __to — and the fields to
    return (item or column names; empty: every granted field)."""

    filters: Sequence[tuple[str, str]] = ()
    fields: Sequence[str] = ()

    def as_details(self) -> dict[str, Any]:
        return {"filters": [list(f) for f in self.filters], "fields": list(self.fields)}


@dataclass(frozen=True)
class Rejected:
    """A request refused after the access check, returned so that its audit entries commit;
    `fields` are the granted fields when the refusal came after they were known (a page
    shows its form again)."""

    error: DomainError
    grant: Grant | None = None
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
class DataPage:
    """Rows delivered under a grant, masked, with what the page and the API show around them."""

    resource_id: int
    resource_code: str
    name: str  # the resource's current name
    grant: Grant
    fields: tuple[Field, ...]
    rows: list[dict[str, Any]]
    next_cursor: str | None = None
    total: int | None = None
    missing: tuple[str, ...] = ()
    key_columns: tuple[str, ...] = ()
    # Per row: whether an objection on the record is open (核实中, VER-2).
    verifying: tuple[bool, ...] = ()


# --- parsing what the consumer sent -------------------------------------------------------


def _typed(kind: str, raw: Any, name: str) -> Any:
    """A filter or cursor value as the column's Python type; Invalid names the field."""
    if not isinstance(raw, str):
        return raw
    try:
        if kind in ("integer", "bigint"):
            return int(raw)
        if kind == "numeric":
            value = Decimal(raw)
            if not value.is_finite():
                raise ValueError
            return value
        if kind == "double":
            return float(raw)
        if kind == "date":
            return date.fromisoformat(raw)
        if kind == "timestamp":
            return datetime.fromisoformat(raw)
        if kind == "boolean":
            return {"true": True, "1": True, "是": True, "false": False, "0": False, "否": False}[
                raw.strip().lower()
            ]
    except (ValueError, InvalidOperation, KeyError):
        raise Invalid(
            f"“{name}”的取值“{raw}”不是有效的{TYPE_LABELS.get(kind, kind)}", field=name
        ) from None
    return raw


def _resolve(binding: TableBinding, scope: Scope, name: str) -> Field:
    """The granted field a parameter names; a field of the resource outside the grant is
    refused with its item name."""
    found = scope.field(name)
    if found is not None:
        return found
    bound = next((c for c in binding.columns if name in (c["item"], c["column"])), None)
    if bound is None:
        raise Invalid(f"资源没有字段“{name}”", field=name)
    raise Forbidden(f"字段“{bound['item']}”不在授权范围内", field=name)


def _filters(binding: TableBinding, scope: Scope, request: DataRequest) -> list[Filter]:
    result = []
    for param, raw in request.filters:
        name, op = param, "eq"
        for suffix, suffix_op in SUFFIXES.items():
            if param.endswith(suffix):
                name, op = param.removesuffix(suffix), suffix_op
        found = _resolve(binding, scope, name)
        value = raw if op == "prefix" else _typed(found.type, raw, param)
        where = Filter(found.column, op, value, param)  # type: ignore[arg-type]
        _check_filter(scope, where)
        result.append(where)
    return result


def _columns(binding: TableBinding, scope: Scope, request: DataRequest) -> list[str]:
    names = [_resolve(binding, scope, n).column for n in request.fields]
    return list(dict.fromkeys(names)) or scope.columns


def _cipher(settings: Settings) -> AESGCM:
    return AESGCM(derived_key(settings, "govshare delivery cursor"))


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def _seal_cursor(settings: Settings, code: str, keys: Sequence[Any]) -> str:
    """The last row's key values, encrypted and authenticated: the key may be a masked ID,
    and a forged cursor could bisect hidden values."""
    nonce = secrets.token_bytes(12)
    payload = json.dumps([_plain(v) for v in keys], ensure_ascii=False).encode()
    sealed = nonce + _cipher(settings).encrypt(nonce, payload, code.encode())
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def _open_cursor(settings: Settings, code: str, binding: TableBinding, cursor: str) -> list[Any]:
    try:
        sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = _cipher(settings).decrypt(sealed[:12], sealed[12:], code.encode())
        values = json.loads(payload)
    except (ValueError, InvalidTag):
        raise Invalid("分页游标无效，请从第一页重新查询", field="cursor") from None
    types = {c["column"]: c["type"] for c in binding.columns}
    if not isinstance(values, list) or len(values) != len(binding.key_columns):
        raise Invalid("分页游标无效，请从第一页重新查询", field="cursor")
    return [_typed(types[k], v, "cursor") for k, v in zip(binding.key_columns, values, strict=True)]


# --- the checks every path shares ---------------------------------------------------------


@dataclass(frozen=True)
class _Bound:
    """A bound resource as delivery needs it: plain values and its binding."""

    resource_id: int
    code: str
    name: str
    binding: TableBinding


def _bound(db_session: Session, resource_code: str) -> _Bound:
    """One query on the hot path: the binding with its resource's code and current name
    (the relationships would pull the whole catalog version and its data items)."""
    found = db_session.execute(
        select(TableBinding, Resource.id, ResourceVersion.name)
        .join(Resource, Resource.id == TableBinding.resource_id)
        .outerjoin(ResourceVersion, ResourceVersion.id == Resource.current_version_id)
        .where(Resource.code == resource_code)
        .options(lazyload(TableBinding.resource), lazyload(TableBinding.connection))
    ).one_or_none()
    if found is not None:
        binding, resource_id, name = found
        return _Bound(resource_id, resource_code, name or resource_code, binding)
    exists = db_session.execute(select(Resource.id).where(Resource.code == resource_code)).scalar()
    if exists is None:
        raise NotFound(f"资源代码 {resource_code} 不存在", field="resource_code")
    raise Conflict(
        f"资源 {resource_code} 的数据尚未接入数据资源中心，暂不能在线查询或下载",
        field="resource_code",
    )


@dataclass(frozen=True)
class _Call:
    """One call's context for its audit entry."""

    actor: Actor
    action: str
    bound: _Bound
    details: dict[str, Any]


def _record(db_session: Session, call: _Call, grant: Grant | None, **outcome: Any) -> None:
    record(db_session, **_call_entry(call, grant, **outcome))


def _call_entry(call: _Call, grant: Grant | None, **outcome: Any) -> dict[str, Any]:
    """A data call's audit entry, as `record` or `entry_fields` take it."""
    return {
        "actor": call.actor,
        "action": call.action,
        "object_type": "resource",
        "object_id": call.bound.resource_id,
        "details": {
            "resource": call.bound.code,
            "grant": grant.number if grant else None,
            **call.details,
            **outcome,
        },
    }


def _granted(db_session: Session, call: _Call) -> Grant | Rejected:
    """The usable grant, or the refusal with its reason (both logged)."""
    decision = check_access(db_session, actor=call.actor, resource_id=call.bound.resource_id)
    if decision.allowed:
        assert decision.grant is not None
        return decision.grant
    error = Forbidden(decision.reason, field="grant")
    _record(db_session, call, decision.grant, refused=decision.reason)
    return Rejected(error, decision.grant)


def _reject(
    db_session: Session, call: _Call, grant: Grant, error: DomainError, scope: Scope | None
) -> Rejected:
    _record(db_session, call, grant, refused=error.message)
    return Rejected(error, grant, scope.fields if scope else ())


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"每页条数须在 1 到 {MAX_LIMIT} 之间", field="limit")


def _row(mapping: Mapping[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    return {c: mapping[c] for c in columns}


def _fields(scope: Scope, columns: Sequence[str]) -> tuple[Field, ...]:
    return tuple(f for c in columns if (f := scope.field(c)) is not None)


def _count(stmt: sa.Select[Any]) -> sa.Select[tuple[int]]:
    """The number of rows `stmt` gives, without computing its (masked) columns."""
    inner = stmt.order_by(None).with_only_columns(sa.literal_column("1"))
    return select(sa.func.count()).select_from(inner.subquery())
