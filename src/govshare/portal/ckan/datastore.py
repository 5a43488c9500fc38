"""datastore_search: the rows of a table dataset, as CKAN's DataStore answers them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from govshare.portal import accounts, catalog, usage
from govshare.portal.accounts import Access
from govshare.portal.catalog import RowFilter
from govshare.portal.ckan.common import (
    Call,
    action,
    denied,
    get_flag,
    get_json,
    get_names,
    get_natural,
    get_sort,
    get_text,
    invalid,
    resource_dataset,
)
from govshare.portal.ckan.shapes import is_open, resource_id
from govshare.portal.models import PortalDataset, PortalField

DATASTORE_LIMIT_DEFAULT, DATASTORE_LIMIT_MAX = 100, 32000
# CKAN's datastore type names for the open view's field types (models.FIELD_TYPES).
DATASTORE_TYPES = {
    "text": "text",
    "integer": "int",
    "numeric": "numeric",
    "double": "float8",
    "date": "date",
    "timestamp": "timestamp",
    "boolean": "bool",
}
RESTRICTED = "该数据集为有条件开放：数据须在开放门户上申请，获批后方可使用（开放条件：{}）"


_DATASTORE_PARAMS = {
    "resource_id", "id", "filters", "q", "full_text", "plain", "language", "limit", "offset",
    "fields", "sort", "include_total", "records_format", "distinct", "include_next_page",
    "total_estimation_threshold",
}  # fmt: skip


@action
def datastore_search(call: Call) -> dict[str, Any]:
    """Rows of a table dataset's resource (`resource_id`): `filters` (a JSON object, field →
    value or list of values), `q` (text in any text field), `fields`, `sort` ("字段 desc,
    字段2"), `limit` (default 100, at most 32000), `offset`. Field ids are the item names and
    `_id`, the row's place in the publication."""
    params = call.params
    for key in params:
        if key not in _DATASTORE_PARAMS:
            raise invalid(key, f"不认识的参数 {key}")
    if "resource_id" not in params and "id" in params:  # CKAN's older name of the parameter
        params = call.params = {**params, "resource_id": params["id"]}
    data = resource_dataset(call, "resource_id")
    access = _access(call, data)
    usage.count(call.session, data.id, "api_calls")
    rows = _RowQuery(access.fields)
    filters = get_json(params, "filters")
    where, any_of = rows.filters(filters)
    q = params.get("q") if params.get("q") is not None else params.get("full_text")
    if q is not None and not isinstance(q, str):
        raise invalid("q", "须为文本（按字段的查询暂不支持）")
    fields = get_names(params, "fields", json_text=False)
    sort_value = params.get("sort")
    if isinstance(sort_value, list):
        sort_value = ", ".join(str(s) for s in sort_value)
    sort = get_sort(get_text({"sort": sort_value}, "sort"), "sort", rows.names)
    limit = get_natural(params, "limit", DATASTORE_LIMIT_DEFAULT, maximum=DATASTORE_LIMIT_MAX)
    offset = get_natural(params, "offset", 0)
    include_total = get_flag(params, "include_total", True)
    records_format = get_text(params, "records_format") or "objects"
    if records_format not in ("objects", "lists"):
        raise invalid("records_format", "须为 objects 或 lists")

    shown = fields or list(rows.names)
    text = (q or "").strip()
    restricted = access.valid_until is not None
    _, stmt = catalog.rows(
        call.session,
        data,
        columns=[rows.column(n, "fields") for n in shown],
        where=where,
        q="" if restricted else text,
        order_by=[(rows.column(name, "sort"), descending) for name, descending in sort],
        limit=limit,
        offset=offset,
    )
    table = stmt.get_final_froms()[0]
    if any_of:
        # catalog.rows compares with one value; CKAN's list of values means any of them.
        stmt = stmt.where(*(table.c[c].in_(values) for c, values in any_of))
    if text and restricted:
        # catalog.rows would search every text field; an entitlement reaches only its own,
        # so that no row is found by a value the caller may not read.
        texts = [table.c[f.column] for f in access.fields if f.type == "text"]
        found = [t.contains(text, autoescape=True) for t in texts]
        stmt = stmt.where(sa.or_(*found) if found else sa.false())
    # The SELECT has `_row` first, then the chosen fields in the dataset's order.
    selected = ["_id", *(f.name for f in data.fields if f.name in shown)]
    records = []
    for row in call.session.execute(stmt):
        record = {name: _json_value(v) for name, v in zip(selected, row, strict=True)}
        records.append(
            {n: record[n] for n in shown}
            if records_format == "objects"
            else [record[n] for n in shown]
        )
    result = {
        "resource_id": resource_id(data),
        "fields": [rows.field(n) for n in shown],
        "records_format": records_format,
        "records": records,
        "limit": limit,
        "offset": offset,
        "_links": _links(call, params, limit, offset),
        "include_total": include_total,
    }
    given = {"filters": filters, "q": q, "sort": sort_value}
    result |= {key: value for key, value in given.items() if value not in (None, "", {}, [])}
    if include_total:
        result["total"] = catalog.count_rows(call.session, stmt)
        result["total_was_estimated"] = False
    return result


def _access(call: Call, data: PortalDataset) -> Access:
    """The fields the caller may query: all of open data; of conditional data, those its
    API key's account is entitled to (OPN-2); else Authorization Error saying what to do."""
    if is_open(data):
        return Access(tuple(data.fields))
    conditions = data.open_conditions or "见数据集说明"
    if not call.api_key:
        raise denied(
            RESTRICTED.format(conditions)
            + "。获批的账户请在请求头 Authorization 中提供开放门户账户的 API 密钥"
        )
    account = accounts.api_key_account(call.session, call.api_key)
    if account is None:
        raise denied("API 密钥无效：请登录开放门户，在「我的账户」中查看或重新生成 API 密钥")
    found = accounts.entitled(call.session, account.id, data)
    if found is None:
        raise denied(
            f"该账户没有「{data.title}」的有效使用授权：请在开放门户上申请，"
            f"获批后方可查询（开放条件：{conditions}）"
        )
    return found


class _RowQuery:
    """The fields a caller may query, as the datastore names them: item names, and `_id`."""

    def __init__(self, fields: Sequence[PortalField]) -> None:
        self.by_name: dict[str, PortalField | None] = {"_id": None}
        self.by_name |= {f.name: f for f in fields}
        self.names = tuple(self.by_name)

    def column(self, name: str, parameter: str) -> str:
        if name not in self.by_name:
            raise invalid(parameter, f"没有字段 {name}；可用字段：{'、'.join(self.names)}")
        found = self.by_name[name]
        return "_row" if found is None else found.column

    def field(self, name: str) -> dict[str, Any]:
        found = self.by_name[name]
        if found is None:
            return {"id": "_id", "type": "int"}
        info = {"label": found.name, "notes": found.description}
        if found.masking:
            info["masking"] = found.masking  # the secrecy review's masking of this item
        return {"id": found.name, "type": DATASTORE_TYPES.get(found.type, "text"), "info": info}

    def filters(self, given: Any) -> tuple[list[RowFilter], list[tuple[str, list[Any]]]]:
        """`filters` as equality conditions, and the fields given a list (any of them)."""
        if given in (None, ""):
            return [], []
        if not isinstance(given, dict):
            raise invalid("filters", '须为 JSON 对象，如 {"字段名": "取值"}')
        where, any_of = [], []
        for name, value in given.items():
            column = self.column(name, "filters")
            found = self.by_name[name]
            kind = "integer" if found is None else found.type
            if not isinstance(value, list):
                where.append(RowFilter(column, _typed(value, kind, name)))
            elif len(value) == 1:
                where.append(RowFilter(column, _typed(value[0], kind, name)))
            else:
                any_of.append((column, [_typed(v, kind, name) for v in value]))
        return where, any_of


def _typed(value: Any, kind: str, name: str) -> Any:
    """A filter value as the field's type, or a Validation Error naming the field."""
    if value is None:
        return None
    problem = f"字段 {name} 的取值 {value!r} 不是{_TYPE_LABELS.get(kind, kind)}"
    try:
        if kind == "text":
            if isinstance(value, dict | list):
                raise ValueError
            return str(value)
        if kind == "integer":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            number = int(value)
            if abs(number) >= 2**63:  # past a BIGINT: no row holds it, and the driver refuses
                raise ValueError
            return number
        if kind == "numeric":
            if isinstance(value, bool):
                raise ValueError
            return Decimal(str(value))
        if kind == "double":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "date":
            return date.fromisoformat(str(value))
        if kind == "timestamp":
            moment = datetime.fromisoformat(str(value))
            return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            return {"true": True, "false": False}[str(value).lower()]
    except (ValueError, TypeError, KeyError, InvalidOperation):
        raise invalid("filters", problem) from None
    return value


_TYPE_LABELS = {
    "text": "文本",
    "integer": "整数",
    "numeric": "数字",
    "double": "数字",
    "date": "日期（如 2026-12-01）",
    "timestamp": "时间（如 2026-12-01T08:00:00）",
    "boolean": "true 或 false",
}


def _json_value(value: Any) -> Any:
    """A stored value as JSON: numbers stay numbers, dates and times ISO 8601."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _links(call: Call, params: dict[str, Any], limit: int, offset: int) -> dict[str, str]:
    """CKAN's `_links`: the same search from its start and its next page, as paths."""

    def link(at: int | None) -> str:
        kept = {k: v for k, v in params.items() if k != "offset"}
        if at:
            kept["offset"] = at
        encoded = {
            k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in kept.items()
        }
        return f"{call.path}?{urlencode(encoded)}"

    links = {"start": link(None), "next": link(offset + limit)}
    if offset > 0:
        links["prev"] = link(max(0, offset - limit))
    return links
