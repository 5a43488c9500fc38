"""The grant as SQL over the center: its fields, row filter and masking compiled into
one cached SELECT per shape (`scoped_query`), and the engine delivery reads the center with."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import Engine, event

from govshare.core.errors import Conflict, Forbidden, Invalid
from govshare.core.settings import Settings, derived_key
from govshare.exchange.center import Center
from govshare.exchange.center import table as center_table
from govshare.exchange.masking import Mask, register_sqlite_functions
from govshare.exchange.models import TableBinding
from govshare.exchange.scope import Condition, scoped_select
from govshare.sharing.models import Grant

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


_lookup_readers: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _lookup_reader(center: Center) -> Engine:
    """The engine keyed lookups read the center with: one SELECT per call, so on PostgreSQL
    in autocommit (no BEGIN and ROLLBACK round trips around it) and without the ping on
    each checkout (a connection the server dropped fails one call and leaves the pool). On
    SQLite the delivery reader."""
    if center.dialect != "postgresql":
        return _reader(center)
    reader = _lookup_readers.get(center.engine)
    if reader is None:
        reader = sa.create_engine(
            center.engine.url, isolation_level="AUTOCOMMIT", pool_size=10, max_overflow=20
        )
        _lookup_readers[center.engine] = reader
    return reader
