"""Delivery of table resources under the grant (EXC-5, EXC-6): online query, keyed lookup and
streamed batch download from the data resource center (数据资源中心).

Whatever leaves honours the consumer's grant: only the granted fields, only the rows its row
filter admits, with its masking applied inside the center's SQL (`scope.scoped_select`).
Every call passes `check_access` first (a suspended grant stops at once) and writes its own
audit entry with the grant, the filters as given (a lookup's key included: "who looked up
whom" is what the log is for) and the number of rows — never the values returned.

A refusal after the access check is *returned* (`Rejected`), not raised: raising would roll
back the request's transaction, and with it the access log entry and the refusal's own entry.

The consumer's filters (`?id_number=…`) are exact, typed comparisons on the ORIGINAL values,
so a lookup by an ID number works while the ID is masked in the output, and it is one query
on the primary key index. The grant's own row filter uses the text-form semantics of
`scope` (the same as the push to front-end databases). Filtering on a masked field is
allowed by equality only: prefix or range filters would reveal the hidden characters.

Downloads stream from a server-side cursor on a center connection of their own (the
request's transaction is committed before the body is sent): memory stays flat whatever
the size. The row count is known only at the end, so a second entry,
`exchange.data.download_done`, is written in a transaction of its own when the stream ends
— complete, failed or abandoned by the client.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import functools
import io
import json
import logging
import os
import secrets
import tempfile
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, lazyload

from govshare.catalog.models import Resource, ResourceVersion
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor
from govshare.core.settings import Settings, derived_key
from govshare.exchange.center import Center
from govshare.exchange.center import table as center_table
from govshare.exchange.masking import Mask, register_sqlite_functions, text_form
from govshare.exchange.models import TableBinding
from govshare.exchange.scope import Condition, scoped_select
from govshare.sharing.models import Grant
from govshare.sharing.service.grants import check_access

log = logging.getLogger("govshare.exchange.delivery")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
FORMATS: dict[str, tuple[str, str]] = {  # format → (media type, file suffix)
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "jsonl": ("application/x-ndjson; charset=utf-8", "jsonl"),
}
# Query parameters that are not filters; every other parameter filters on a granted field.
RESERVED = frozenset({"fields", "limit", "cursor", "total", "format"})
BATCH_ROWS = 2000  # rows fetched per round trip from the server-side cursor
CHUNK_BYTES = 64 * 1024  # text buffered before a chunk of the response goes out
XLSX_SHEET_ROWS = 1_048_575  # Excel's rows per sheet, less the header
TYPE_LABELS = {
    "text": "文本",
    "integer": "整数",
    "bigint": "整数",
    "numeric": "数值",
    "double": "数值",
    "date": "日期（YYYY-MM-DD）",
    "timestamp": "日期时间（YYYY-MM-DD HH:MM:SS）",
    "boolean": "是或否",
}

FilterOp = Literal["eq", "prefix", "from", "to"]
OP_LABELS: dict[str, str] = {"eq": "等于", "prefix": "以…开头", "from": "不小于", "to": "不大于"}
SUFFIXES: dict[str, FilterOp] = {"__prefix": "prefix", "__from": "from", "__to": "to"}


# --- scope: the grant in the center's columns ---------------------------------------------


@dataclass(frozen=True)
class Field:
    """One delivered field: the catalog data item, its center column, type and masking."""

    item: str
    column: str
    type: str
    mask: Mask | None = None


@dataclass(frozen=True)
class Scope:
    """A grant translated to the center table: the columns it may read (in the binding's
    order), the row conditions on original values, and the masks of its fields."""

    fields: tuple[Field, ...]
    conditions: tuple[Condition, ...] = ()
    missing: tuple[str, ...] = ()  # granted items the center has no column for

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.fields]

    @property
    def masks(self) -> dict[str, Mask]:
        return {f.column: f.mask for f in self.fields if f.mask is not None}

    def field(self, name: str) -> Field | None:
        """A granted field by its item name or column name."""
        return next((f for f in self.fields if name in (f.item, f.column)), None)


def masking_key(settings: Settings) -> bytes:
    """The key of the keyed-hash masking rule: GOVSHARE_MASK_KEY (hex) when set, else one
    derived from the secret key, so hashes stay stable across restarts and processes."""
    if settings.mask_key:
        return bytes.fromhex(settings.mask_key)
    return derived_key(settings, "govshare masking")


def grant_scope(binding: TableBinding, grant: Grant) -> Scope:
    """The grant's fields, row filter and masking as the binding's center columns. A whole
    resource grant reads every data item's column, unfiltered and unmasked. A row-filter condition on an
    item the center cannot filter fails closed: no data rather than too much."""
    if grant.whole_resource:
        # Every data item; not a change column kept only for incremental pushes (no item).
        return Scope(
            tuple(Field(c["item"], c["column"], c["type"]) for c in binding.columns if c["item"])
        )
    masks = {m["field"]: Mask(m["rule"], m.get("n")) for m in grant.masking}
    granted = set(grant.fields)
    fields = tuple(
        Field(c["item"], c["column"], c["type"], masks.get(c["item"]))
        for c in binding.columns
        if c["item"] in granted
    )
    if not fields:
        raise Conflict(
            "授权的信息项在数据资源中心都没有对应字段，暂时无法提供数据，请联系平台管理单位",
            field="fields",
        )
    conditions = []
    for condition in grant.row_filter:
        column = binding.column_of(condition["field"])
        if column is None:
            raise Conflict(
                f"授权的数据范围条件“{condition['field']}”在数据资源中心没有对应字段，"
                "无法按授权范围提供数据，请联系平台管理单位",
                field="row_filter",
            )
        conditions.append(Condition(column, condition["op"], tuple(condition["values"])))
    missing = tuple(name for name in grant.fields if binding.column_of(name) is None)
    return Scope(fields, tuple(conditions), missing)


@dataclass(frozen=True)
class Filter:
    """A consumer's condition on one granted column, on its original (unmasked) value, already
    converted to the column's type; `name` is the parameter as given, for messages."""

    column: str
    op: FilterOp
    value: Any
    name: str = ""


def _check_filter(scope: Scope, where: Filter) -> None:
    found = scope.field(where.column)
    if found is None:
        raise Forbidden(f"字段“{where.name or where.column}”不在授权范围内", field=where.name)
    if found.mask is not None and where.op != "eq":
        raise Invalid(
            f"字段“{found.item}”已脱敏，只能按完整取值（等于）查询，不能按{OP_LABELS[where.op]}筛选",
            field=where.name or found.column,
        )
    if where.op == "prefix" and found.type != "text":
        raise Invalid(f"“{found.item}”不是文本字段，不能按开头筛选", field=where.name)


def _clause(column: sa.Column[Any], op: FilterOp, value: sa.BindParameter[Any]) -> Any:
    if op == "eq":
        return column == value
    if op == "prefix":  # substr, not LIKE: exact and case-sensitive on every backend
        return sa.func.substr(column, 1, sa.func.length(value)) == value
    return column >= value if op == "from" else column <= value


def _key_label(position: int) -> str:
    return f"_gs_key_{position}"


@dataclass(frozen=True)
class _Shape:
    """Everything a delivery SELECT depends on except the values it runs with: built once
    per shape and cached (masking expressions are costly to build and to compile), so a
    lookup only binds its key."""

    dialect: str
    schema: str | None
    table: str
    table_columns: tuple[tuple[str, str], ...]  # (column, portable type) of the binding
    keys: tuple[str, ...]
    scope: Scope
    columns: tuple[str, ...]
    where: tuple[tuple[str, FilterOp], ...]  # (column, op); values bind as w0, w1, …
    order_by: tuple[str, ...]
    after: bool  # rows after the key values a0, a1, …
    limit: bool  # LIMIT :_gs_limit
    offset: bool  # OFFSET :_gs_offset
    with_keys: bool
    key: bytes


@functools.lru_cache(maxsize=512)
def _prepared(shape: _Shape) -> sa.Select[Any]:
    spec = [{"column": c, "type": t} for c, t in shape.table_columns]
    table = center_table(shape.table, spec, shape.keys, schema=shape.schema)
    stmt = scoped_select(
        table,
        dialect=shape.dialect,
        columns=shape.columns,
        conditions=shape.scope.conditions,
        masks=shape.scope.masks,
        key=shape.key,
        order_by=shape.order_by,
    )
    for i, (column, op) in enumerate(shape.where):
        value_type = sa.String() if op == "prefix" else table.c[column].type
        stmt = stmt.where(_clause(table.c[column], op, sa.bindparam(f"w{i}", type_=value_type)))
    if shape.after:
        key_cols = [table.c[k] for k in shape.keys]
        bounds = [sa.bindparam(f"a{i}", type_=c.type) for i, c in enumerate(key_cols)]
        single = len(key_cols) == 1
        stmt = stmt.where(
            key_cols[0] > bounds[0] if single else sa.tuple_(*key_cols) > sa.tuple_(*bounds)
        )
    if shape.with_keys:
        stmt = stmt.add_columns(
            *(table.c[k].label(_key_label(i)) for i, k in enumerate(shape.keys))
        )
    if shape.limit:
        stmt = stmt.limit(sa.bindparam("_gs_limit", type_=sa.Integer()))
    if shape.offset:
        stmt = stmt.offset(sa.bindparam("_gs_offset", type_=sa.Integer()))
    return stmt


def _statement(
    center: Center,
    binding: TableBinding,
    scope: Scope,
    *,
    key: bytes,
    columns: Sequence[str] | None = None,
    where: Sequence[Filter] = (),
    order_by: Sequence[str] | None = None,
    after: Sequence[Any] | None = None,
    limit: int | None = None,
    offset: int | None = None,
    with_keys: bool = False,
) -> tuple[sa.Select[Any], dict[str, Any]]:
    """The cached SELECT for this shape and the values to run it with (see scoped_query)."""
    chosen = tuple(columns) if columns else tuple(scope.columns)
    if unknown := [c for c in chosen if scope.field(c) is None]:
        raise Forbidden(f"字段“{unknown[0]}”不在授权范围内", field="fields")
    for condition in where:
        _check_filter(scope, condition)
    keys = tuple(binding.key_columns)
    order = keys if order_by is None else tuple(order_by)
    if after is not None and order != keys:
        raise ValueError("paging by key needs the rows ordered by the key columns")
    shape = _Shape(
        dialect=center.dialect,
        schema=center.schema,
        table=binding.center_table,
        table_columns=tuple((c["column"], c["type"]) for c in binding.columns),
        keys=keys,
        scope=scope,
        columns=chosen,
        where=tuple((w.column, w.op) for w in where),
        order_by=order,
        after=after is not None,
        limit=limit is not None,
        offset=bool(offset),
        with_keys=with_keys,
        key=key,
    )
    values = {f"w{i}": w.value for i, w in enumerate(where)}
    values |= {f"a{i}": v for i, v in enumerate(after or ())}
    if limit is not None:
        values["_gs_limit"] = limit
    if offset:
        values["_gs_offset"] = offset
    return _prepared(shape), values


def scoped_query(
    center: Center,
    binding: TableBinding,
    scope: Scope,
    *,
    key: bytes,
    columns: Sequence[str] | None = None,
    where: Sequence[Filter] = (),
    order_by: Sequence[str] | None = None,
    after: Sequence[Any] | None = None,
    limit: int | None = None,
    offset: int | None = None,
    with_keys: bool = False,
) -> sa.Select[Any]:
    """The SELECT of the grant's rows in the center, values bound: its columns (or the granted
    subset `columns`) masked, its row filter and the consumer's `where` on original values,
    ordered by `order_by` (default the key columns). `after` pages by key (rows after those
    key values); `with_keys` adds the raw key values as `_gs_key_<i>` for the next cursor —
    keep them away from the consumer when a key column is masked. Renders with
    `scope.literal_sql` for COPY."""
    stmt, values = _statement(
        center,
        binding,
        scope,
        key=key,
        columns=columns,
        where=where,
        order_by=order_by,
        after=after,
        limit=limit,
        offset=offset,
        with_keys=with_keys,
    )
    return stmt.params(values) if values else stmt


# --- the center connection ----------------------------------------------------------------

_readers: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _reader(center: Center) -> Engine:
    """The engine delivery reads the center with. On PostgreSQL the center's own. On SQLite a
    plain engine on the same file, with the masking functions registered on every new
    connection: the platform's SQLite engines open each transaction with BEGIN IMMEDIATE,
    which would hold the center's write lock (and stall its sync) for a whole download."""
    if center.dialect != "sqlite":
        return center.engine
    reader = _readers.get(center.engine)
    if reader is None:
        reader = sa.create_engine(center.engine.url, connect_args={"timeout": 30})
        event.listen(reader, "connect", lambda dbapi, _record: register_sqlite_functions(dbapi))
        _readers[center.engine] = reader
    return reader


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


@dataclass(frozen=True)
class Download:
    """A download that passed the checks and was logged; `stream_download` sends it."""

    actor: Actor
    resource_id: int
    resource_code: str
    name: str
    grant_number: str
    format: str
    fields: tuple[Field, ...]
    statement: sa.Select[Any]
    values: dict[str, Any]
    download_id: str  # in both audit entries: the start and the outcome
    filename: str

    @property
    def media_type(self) -> str:
        return FORMATS[self.format][0]


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
    record(
        db_session,
        actor=call.actor,
        action=call.action,
        object_type="resource",
        object_id=call.bound.resource_id,
        details={
            "resource": call.bound.code,
            "grant": grant.number if grant else None,
            **call.details,
            **outcome,
        },
    )


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
    as its values joined by commas, in key order."""
    bound = _bound(db_session, resource_code)
    binding = bound.binding
    details = {"key": key, "fields": list(fields)}
    call = _Call(actor=actor, action="exchange.data.lookup", bound=bound, details=details)
    grant = _granted(db_session, call)
    if isinstance(grant, Rejected):
        return grant
    scope: Scope | None = None
    try:
        scope = grant_scope(binding, grant)
        columns = _columns(binding, scope, DataRequest(fields=fields))
        where = _key_filters(binding, scope, key)
    except DomainError as error:
        return _reject(db_session, call, grant, error, scope)
    stmt, values = _statement(
        center,
        binding,
        scope,
        key=masking_key(settings),
        columns=columns,
        where=where,
        order_by=(),
        limit=1,
    )
    with _reader(center).connect() as conn:
        rows = [_row(r._mapping, columns) for r in conn.execute(stmt, values)]
    _record(db_session, call, grant, rows=len(rows))
    return DataPage(
        bound.resource_id,
        bound.code,
        bound.name,
        grant,
        _fields(scope, columns),
        rows,
        missing=scope.missing,
        key_columns=tuple(binding.key_columns),
    )


def _key_filters(binding: TableBinding, scope: Scope, key: str) -> list[Filter]:
    keys = list(binding.key_columns)
    values = [key] if len(keys) == 1 else key.split(",")
    if len(values) != len(keys):
        raise Invalid(f"主键由 {len(keys)} 个字段组成，请按顺序用逗号分隔给出", field="key")
    not_granted = [
        c["item"] for c in binding.columns if c["column"] in keys and not scope.field(c["column"])
    ]
    if not_granted:
        raise Forbidden(
            f"按主键查询须获授权字段“{'、'.join(not_granted)}”，请改用已授权字段筛选", field="key"
        )
    result = []
    for column, raw in zip(keys, values, strict=True):
        found = scope.field(column)
        assert found is not None
        result.append(Filter(column, "eq", _typed(found.type, raw, "key"), "key"))
    return result


# --- batch download -----------------------------------------------------------------------


def start_download(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    center: Center,
    resource_code: str,
    request: DataRequest,
    fmt: str,
) -> Download | Rejected:
    """Checks the grant and logs the download before any row leaves (EXC-5); the rows follow
    with `stream_download`, which logs how many went out."""
    if fmt not in FORMATS:
        raise Invalid(f"下载格式只能是 {'、'.join(FORMATS)}", field="format")
    bound = _bound(db_session, resource_code)
    binding = bound.binding
    details = {**request.as_details(), "format": fmt}
    call = _Call(actor=actor, action="exchange.data.download", bound=bound, details=details)
    grant = _granted(db_session, call)
    if isinstance(grant, Rejected):
        return grant
    scope: Scope | None = None
    try:
        scope = grant_scope(binding, grant)
        columns = _columns(binding, scope, request)
        where = _filters(binding, scope, request)
    except DomainError as error:
        return _reject(db_session, call, grant, error, scope)
    statement, values = _statement(
        center, binding, scope, key=masking_key(settings), columns=columns, where=where
    )
    download_id = uuid.uuid4().hex
    _record(db_session, call, grant, download=download_id)
    return Download(
        actor=actor,
        resource_id=bound.resource_id,
        resource_code=bound.code,
        name=bound.name,
        grant_number=grant.number,
        format=fmt,
        fields=_fields(scope, columns),
        statement=statement,
        values=values,
        download_id=download_id,
        filename=f"{bound.name}-{clock.today().isoformat()}.{FORMATS[fmt][1]}",
    )


class _Counter:
    rows = 0


def stream_download(
    download: Download,
    *,
    center: Center,
    transaction: Callable[[], contextlib.AbstractContextManager[Session]],
) -> Iterator[bytes]:
    """The download's bytes, read from a server-side cursor on a center connection of its own;
    when the stream ends — complete, failed, or closed early by a client gone away — the row
    count is logged in a transaction of its own (`exchange.data.download_done`)."""
    counter = _Counter()
    outcome = "abandoned"
    try:
        with _reader(center).connect() as conn:
            streaming = conn.execution_options(stream_results=True, yield_per=BATCH_ROWS)
            result = streaming.execute(download.statement, download.values)
            rows = (r._mapping for r in result)
            yield from _WRITERS[download.format](download, rows, counter)
        outcome = "complete"
    except GeneratorExit:
        raise
    except Exception:
        outcome = "failed"
        log.exception("download of %s failed after %d rows", download.resource_code, counter.rows)
        raise
    finally:
        with transaction() as session:
            record(
                session,
                actor=download.actor,
                action="exchange.data.download_done",
                object_type="resource",
                object_id=download.resource_id,
                details={
                    "resource": download.resource_code,
                    "grant": download.grant_number,
                    "format": download.format,
                    "rows": counter.rows,
                    "outcome": outcome,
                    "download": download.download_id,
                },
            )


Rows = Iterator[Mapping[str, Any]]


def _csv(download: Download, rows: Rows, counter: _Counter) -> Iterator[bytes]:
    """UTF-8 with a BOM (Excel opens it correctly only so), a header of data item names."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([f.item for f in download.fields])
    columns = [f.column for f in download.fields]
    for row in rows:
        writer.writerow(["" if (t := text_form(row[c])) is None else t for c in columns])
        counter.rows += 1
        if buffer.tell() > CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _json_value(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def _jsonl(download: Download, rows: Rows, counter: _Counter) -> Iterator[bytes]:
    """One JSON object per line, keyed by column name like the query API."""
    columns = [f.column for f in download.fields]
    lines: list[str] = []
    size = 0
    for row in rows:
        line = json.dumps({c: _json_value(row[c]) for c in columns}, ensure_ascii=False) + "\n"
        lines.append(line)
        size += len(line)
        counter.rows += 1
        if size > CHUNK_BYTES:
            yield "".join(lines).encode()
            lines, size = [], 0
    yield "".join(lines).encode()


def _xlsx(download: Download, rows: Rows, counter: _Counter) -> Iterator[bytes]:
    """An Excel workbook written by openpyxl in write-only mode to a temporary file (a zip
    cannot be sent before it is finished), then streamed; a sheet per 1,048,575 rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    header = [f.item for f in download.fields]
    columns = [f.column for f in download.fields]
    sheet = None

    def cell(value: Any) -> Any:
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
            if value.startswith("="):  # data, never a formula
                text = WriteOnlyCell(sheet, value)
                text.data_type = "s"
                return text
        return value

    for row in rows:
        if counter.rows % XLSX_SHEET_ROWS == 0:
            sheet = workbook.create_sheet(
                "数据" if counter.rows == 0 else f"数据{counter.rows // XLSX_SHEET_ROWS + 1}"
            )
            sheet.append(header)
        sheet.append([cell(row[c]) for c in columns])  # type: ignore[union-attr]
        counter.rows += 1
    if sheet is None:
        workbook.create_sheet("数据").append(header)
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="govshare-download-")
    os.close(handle)
    try:
        workbook.save(path)
        with open(path, "rb") as built:
            while chunk := built.read(CHUNK_BYTES):
                yield chunk
    finally:
        os.unlink(path)


_WRITERS: dict[str, Callable[[Download, Rows, _Counter], Iterator[bytes]]] = {
    "csv": _csv,
    "xlsx": _xlsx,
    "jsonl": _jsonl,
}
