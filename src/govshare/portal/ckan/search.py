"""package_search: CKAN's dataset search over the portal catalog's search. `q` and `fq` are
read as the Solr terms CKAN clients send (`field:value`, quoted values, `field:(a OR b)`),
`sort` as CKAN's sort fields, `facet.field` as CKAN's facet names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from govshare.portal import catalog
from govshare.portal.catalog import SearchQuery
from govshare.portal.ckan.common import (
    Call,
    action,
    get_flag,
    get_integer,
    get_names,
    get_natural,
    get_sort,
    get_text,
    invalid,
)

SEARCH_ROWS_DEFAULT, SEARCH_ROWS_MAX = 10, catalog.MAX_ROWS
FACET_LIMIT_DEFAULT = 50
DEFAULT_SORT = "score desc, metadata_modified desc"
# The fields `fq` (and `q`) filter on, as CKAN's Solr schema names them.
FILTER_FIELDS = ("organization", "groups", "res_format", "tags", "open_type", "update_frequency")
# Fields every dataset here has the same value of: a term naming another value matches nothing.
CONSTANT_FIELDS = {"dataset_type": "dataset", "type": "dataset", "capacity": "public"}
CONSTANT_FIELDS |= {"state": "active", "private": "false"}
TEXT_FIELDS = ("text", "title", "notes")  # fielded words that are plain search words here


@dataclass
class _Terms:
    """`q` and `fq` read as Solr terms: search words, and filters on facet fields."""

    words: list[str] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=dict)
    matches_nothing: bool = False


_TERM = re.compile(
    r"""\s*(?P<sign>[+-]?)
        (?:(?P<field>[A-Za-z_][\w.]*):)?
        (?P<value>"(?:[^"\\]|\\.)*"|\((?:[^()"]|"(?:[^"\\]|\\.)*")*\)|[^\s()"]+)""",
    re.X,
)


def _solr_terms(text: str, parameter: str, terms: _Terms) -> None:
    """Reads `field:value` terms (quoted values, `field:(a OR b)`, AND and + allowed; OR only
    between values of one field) into `terms`; plain words become search words."""
    text = text.replace("*:*", " ")
    position, joined_by_or, last_field = 0, False, None
    while position < len(text.rstrip()):
        match = _TERM.match(text, position)
        if match is None or match.end() == position:
            raise invalid(parameter, f"无法解析第 {position + 1} 个字符起的 {text[position:]!r}")
        position = match.end()
        sign, name, value = match["sign"], match["field"], match["value"]
        if name is None and value.upper() in ("AND", "&&"):
            continue
        if name is None and value.upper() in ("OR", "||"):
            joined_by_or = True
            continue
        if sign == "-" or value.upper() == "NOT":
            raise invalid(parameter, "不支持排除条件（-字段:值 或 NOT）")
        if name is None or name in TEXT_FIELDS:
            if joined_by_or:
                raise invalid(parameter, "OR 只能连接同一字段的取值，如 tags:(公交 OR 出行)")
            if value.startswith("("):
                raise invalid(parameter, "括号只能跟在字段名后，如 tags:(公交 OR 出行)")
            terms.words.append(_unquoted(value))
            last_field = None
            continue
        values = _values(value, parameter)
        if name in CONSTANT_FIELDS:
            terms.matches_nothing |= CONSTANT_FIELDS[name] not in values
        elif name not in FILTER_FIELDS:
            raise invalid(parameter, f"不支持按 {name} 筛选；可用字段：{'、'.join(FILTER_FIELDS)}")
        elif joined_by_or:
            if name != last_field:
                raise invalid(parameter, "OR 只能连接同一字段的取值，如 tags:(公交 OR 出行)")
            terms.filters[name].extend(values)
        elif name in terms.filters:
            if name == "tags":
                raise invalid(
                    parameter, "多个标签须同时满足的条件暂不支持；用 tags:(a OR b) 表示其一"
                )
            # Every other field has one value per dataset: both terms hold for the shared values.
            kept = [v for v in terms.filters[name] if v in values]
            terms.filters[name] = kept
            terms.matches_nothing |= not kept
        else:
            terms.filters[name] = list(values)
        joined_by_or, last_field = False, name
    if joined_by_or:
        raise invalid(parameter, "OR 后缺少条件")


def _values(value: str, parameter: str) -> list[str]:
    if not value.startswith("("):
        return [_unquoted(value)]
    inner = [t.group(0).strip() for t in re.finditer(r'"(?:[^"\\]|\\.)*"|[^\s"]+', value[1:-1])]
    values = [_unquoted(t) for t in inner if t.upper() not in ("OR", "||")]
    if not values:
        raise invalid(parameter, f"括号内缺少取值：{value}")
    return values


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


# CKAN's sort keys → the catalog's ordering keys. Relevance is a rank where lower is better,
# so CKAN's "score desc" (best first) is the rank ascending.
_SORT_KEYS: dict[str, str] = {
    "score": "relevance",
    "metadata_modified": "modified",
    "metadata_created": "issued",
    "title_string": "title",
    "title": "title",
    "name": "name",
}


def _order(sort: list[tuple[str, bool]]) -> tuple[tuple[str, bool], ...]:
    return tuple(
        (_SORT_KEYS[name], not descending if name == "score" else descending)
        for name, descending in sort
    )


@action
def package_search(call: Call) -> dict[str, Any]:
    """Datasets matching `q` (words, or field:value terms) and `fq` (organization, groups,
    res_format, tags, open_type, update_frequency terms), `rows` of them (at most 1000) from
    `start`, in `sort` order (default `score desc, metadata_modified desc`; also
    `metadata_modified desc`, `title_string asc`, `name asc`…), with counts of the facets named
    by `facet.field` (a JSON list)."""
    params = call.params
    terms = _Terms()
    _solr_terms(get_text(params, "q"), "q", terms)
    _solr_terms(get_text(params, "fq"), "fq", terms)
    fq_list = get_names(params, "fq_list", json_text=True) or []
    for extra in fq_list:
        _solr_terms(extra, "fq_list", terms)
    rows = get_natural(params, "rows", SEARCH_ROWS_DEFAULT, maximum=SEARCH_ROWS_MAX)
    start = get_natural(params, "start", 0)
    sort_text = get_text(params, "sort") or DEFAULT_SORT
    if sort_text == "rank":
        sort_text = DEFAULT_SORT
    sort = get_sort(sort_text, "sort", _SORT_KEYS)
    faceting = get_flag(params, "facet", True)
    facet_fields = (get_names(params, "facet.field", json_text=True) or []) if faceting else []
    facet_limit = get_integer(params, "facet.limit", FACET_LIMIT_DEFAULT)
    facet_min = get_natural(params, "facet.mincount", 1)

    query = SearchQuery(
        q=" ".join(terms.words),
        filters={k: tuple(v) for k, v in terms.filters.items()},
        rows=rows,
        start=start,
        facets=tuple(f for f in facet_fields if f in catalog.FACETS),
    )
    if terms.matches_nothing:
        count, page, counted = 0, [], {f: [] for f in query.facets}
    else:
        found = catalog.search(call.session, replace(query, order=_order(sort)))
        count, page, counted = found.count, found.datasets, found.facets

    facets: dict[str, dict[str, int]] = {}
    search_facets: dict[str, Any] = {}
    for name in facet_fields:
        values = _facet_values(call, name, count, counted, terms.matches_nothing)
        values = [v for v in values if v.count >= facet_min]
        if facet_limit >= 0:
            values = values[:facet_limit]
        facets[name] = {v.value: v.count for v in values}
        items = [{"name": v.value, "display_name": v.label, "count": v.count} for v in values]
        items.sort(key=lambda item: item["display_name"], reverse=True)  # as CKAN orders them
        search_facets[name] = {"title": name, "items": items}
    return {
        "count": count,
        "results": [call.package(d) for d in page],
        "facets": facets,
        "search_facets": search_facets,
        "sort": sort_text,
    }


def _facet_values(
    call: Call,
    name: str,
    count: int,
    counted: dict[str, list[catalog.FacetValue]],
    nothing: bool,
) -> list[catalog.FacetValue]:
    """A facet's values: the catalog counts its own; the one licence covers every match."""
    if nothing:
        return []
    if name in counted:
        return counted[name]
    if name == "license_id" and (meta := call.meta()) is not None:
        return [catalog.FacetValue(meta.licence_url, meta.licence_title, count)] if count else []
    return []  # a field datasets here do not have: no values, as Solr answers
