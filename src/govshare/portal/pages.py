"""The portal's public pages (资源开放门户): home, the searchable catalog with facets, a
dataset's page (data dictionary, preview, update history, downloads, interface notes), the
providing departments and the domains. No sign-in is needed: everything here is open
(OPN-1). A signed-in account sees, on a conditional dataset's page, how to apply or, once
approved, the preview and downloads of the fields it is entitled to (OPN-2).

Paths follow CKAN's (`/dataset`, `/dataset/{name}`, `/organization`, `/group`), so people who
know other open-data portals find their way. Query parameters are read by hand rather than by
FastAPI's typed parameters, so a bad value is a Chinese message on the page with status 400,
not a JSON validation error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from govshare.catalog import search_text
from govshare.portal import accounts, catalog, quality, usage
from govshare.portal.catalog import FACET_LABELS, SORTS, SearchQuery
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalDataset
from govshare.portal.templating import base_url, render

router = APIRouter(
    tags=["开放门户页面"], include_in_schema=False, dependencies=[Depends(accounts.identify)]
)

PAGE_SIZE = 20
PREVIEW_ROWS = 10
NEWEST = 6
MAX_Q = 100
MAX_PAGE = 10_000
MAX_FILTER_VALUES = 20
MAX_FILTER_LENGTH = 100
# Filters a search accepts: the facets, plus tags (filter only).
FILTERS: dict[str, str] = {**FACET_LABELS, "tags": "标签"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadParameter(ValueError):
    """A query parameter the pages cannot use; the message names it and says the rule."""


@dataclass(frozen=True)
class SearchParams:
    """A catalog search as its URL says it: keyword, filters, sort and page."""

    q: str = ""
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1

    def url(self, path: str, **changes: object) -> str:
        """`path` with this search's query string, `changes` applied."""
        params = replace(self, **changes) if changes else self
        pairs: list[tuple[str, str]] = []
        if params.q:
            pairs.append(("q", params.q))
        for name in FILTERS:
            pairs.extend((name, value) for value in params.filters.get(name, ()))
        if params.sort != "relevance":
            pairs.append(("sort", params.sort))
        if params.page != 1:
            pairs.append(("page", str(params.page)))
        return f"{path}?{urlencode(pairs)}" if pairs else path

    def toggled(self, path: str, name: str, value: str) -> str:
        """The search with `value` of filter `name` added, or removed when chosen (page 1)."""
        chosen = self.filters.get(name, ())
        values = tuple(v for v in chosen if v != value) if value in chosen else (*chosen, value)
        filters = {**self.filters, name: values}
        return self.url(path, filters={k: v for k, v in filters.items() if v}, page=1)

    def chosen(self) -> Iterator[tuple[str, str]]:
        for name in FILTERS:
            for value in self.filters.get(name, ()):
                yield name, value


def _text(name: str, value: str, *, limit: int, label: str) -> str:
    if _CONTROL.search(value):
        raise BadParameter(f"{label}（{name}）不能含控制字符")
    if len(value) > limit:
        raise BadParameter(f"{label}（{name}）最多 {limit} 个字，收到 {len(value)} 个字")
    return value


def page_number(raw: str | None) -> int:
    """The `page` parameter: a whole number from 1 to MAX_PAGE (1 when absent)."""
    if raw is None or raw == "":
        return 1
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= MAX_PAGE:
        shown = raw if len(raw) <= 20 else raw[:20] + "…"
        raise BadParameter(f"页码（page）须为 1 到 {MAX_PAGE} 之间的整数，收到「{shown}」")
    return int(raw)


def search_params(request: Request) -> SearchParams:
    """The search a request asks for; BadParameter names the first wrong parameter."""
    query = request.query_params
    q = _text("q", query.get("q", "").strip(), limit=MAX_Q, label="搜索关键词")
    sort = query.get("sort", "") or "relevance"
    if sort not in SORTS:
        known = "、".join(f"{key}（{label}）" for key, label in SORTS.items())
        shown = sort if len(sort) <= 20 else sort[:20] + "…"
        raise BadParameter(f"排序方式（sort）只能是 {known}，收到「{shown}」")
    filters: dict[str, tuple[str, ...]] = {}
    for name, label in FILTERS.items():
        values: list[str] = []
        for raw in query.getlist(name):
            value = _text(name, raw.strip(), limit=MAX_FILTER_LENGTH, label=label)
            if value and value not in values:
                values.append(value)
        if len(values) > MAX_FILTER_VALUES:
            raise BadParameter(f"{label}（{name}）最多同时选 {MAX_FILTER_VALUES} 个")
        if values:
            filters[name] = tuple(values)
    return SearchParams(q=q, filters=filters, sort=sort, page=page_number(query.get("page")))


def _looks_like_name(name: str) -> bool:
    """Whether a path segment can name a dataset or department at all (anything else is
    simply not found, before it reaches the database)."""
    if not 0 < len(name) <= 100 or _CONTROL.search(name):
        return False
    return not name.isdigit() or (name.isascii() and len(name) <= 18)


def _database(request: Request) -> PortalDatabase:
    return request.app.state.portal


def pages_of(count: int, page: int) -> dict[str, object]:
    """The pager of a result list: last page and the page numbers shown around `page`."""
    last = max(1, -(-count // PAGE_SIZE))
    numbers = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    return {"page": page, "last": last, "numbers": numbers}


def not_found(request: Request, s: Session, message: str) -> HTMLResponse:
    return render(request, s, "portal/not_found.html", {"message": message}, status_code=404)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """Home: search box, domains with counts, departments, the newest datasets and the
    portal's monthly use."""
    with _database(request).session() as s:
        domains = catalog.domains(s)
        newest = catalog.search(s, SearchQuery(sort="modified", rows=NEWEST, facets=()))
        context = {
            "domains": domains,
            "dataset_count": newest.count,
            "organization_count": len(catalog.organizations(s)),
            "newest": newest.datasets,
            "usage": usage.totals(s),
            "usage_chart": usage_chart(usage.monthly(s)),
        }
        return render(request, s, "portal/home.html", context)


@router.get("/dataset", response_class=HTMLResponse)
def dataset_search(request: Request) -> HTMLResponse:
    """The catalog: keyword search, facet filters that toggle, sort and pages."""
    with _database(request).session() as s:
        try:
            params = search_params(request)
        except BadParameter as error:
            q = request.query_params.get("q", "")[:MAX_Q]
            context = {"params": SearchParams(q=_CONTROL.sub("", q)), "error": str(error)}
            return render(request, s, "portal/search.html", context, status_code=400)
        query = SearchQuery(
            q=params.q,
            filters=params.filters,
            sort=params.sort,
            rows=PAGE_SIZE,
            start=(params.page - 1) * PAGE_SIZE,
        )
        result = catalog.search(s, query)
        labels = {
            (name, v.value): v.label for name, values in result.facets.items() for v in values
        }
        context = {
            "params": params,
            "result": result,
            "labels": labels,
            "marks": search_text.highlights(params.q) if params.q else (),
            "pager": pages_of(result.count, params.page),
        }
        return render(request, s, "portal/search.html", context)


@router.get("/dataset/{name}", response_class=HTMLResponse)
def dataset_page(request: Request, name: str) -> HTMLResponse:
    """One dataset: what it is, its items, a preview, its history, downloads and API use."""
    with _database(request).session() as s:
        data = catalog.dataset(s, name) if _looks_like_name(name) else None
        if data is None:
            return not_found(request, s, f"没有名为「{name[:100]}」的开放数据集。")
        usage.count(s, data.id, "views")
        visitor = accounts.current(request)
        account_id = visitor.account_id if visitor else None
        access = accounts.access(s, account_id, data) if data.rows_table else None
        preview: list[list[object]] = []
        if access is not None and access.fields:
            _fields, stmt = catalog.rows(s, data, columns=access.columns, limit=PREVIEW_ROWS)
            preview = [list(row)[1:] for row in s.execute(stmt)]
        pending = None
        if account_id is not None and accounts.can_apply(data):
            pending = accounts.pending_application(s, account_id=account_id, dataset_id=data.id)
        context = {
            "data": data,
            "preview": preview,
            "releases": catalog.releases(s, data.id),
            "downloadable": access is not None,
            "access": access,
            "entitled": access is not None and data.open_type != "unconditional",
            "pending": pending,
            "base_url": base_url(request),
            "usage": usage.totals(s, data.id),
            "usage_chart": usage_chart(usage.monthly(s, data.id)),
            "quality": quality.quality(data),
        }
        response = render(request, s, "portal/dataset.html", context)
        if visitor is not None:
            response.headers["Cache-Control"] = "private, no-store"
        return response


def usage_chart(months: list[usage.Month]) -> str:
    """The monthly usage as the chart script reads it (a data attribute, JSON)."""
    return json.dumps(
        {
            "months": [m.month for m in months],
            "series": [
                {"name": usage.KIND_LABELS["views"], "data": [m.views for m in months]},
                {"name": usage.KIND_LABELS["downloads"], "data": [m.downloads for m in months]},
                {"name": usage.KIND_LABELS["api_calls"], "data": [m.api_calls for m in months]},
            ],
        },
        ensure_ascii=False,
    )


def downloadable(data: PortalDataset) -> bool:
    """Whether anyone may download the dataset's rows without applying (OPN-1, OPN-2)."""
    return data.open_type == "unconditional" and data.rows_table is not None


@router.get("/organization", response_class=HTMLResponse)
def organization_list(request: Request) -> HTMLResponse:
    """The departments that provide open data, with their dataset counts."""
    with _database(request).session() as s:
        context = {"organizations": catalog.organizations(s)}
        return render(request, s, "portal/organizations.html", context)


@router.get("/organization/{name}", response_class=HTMLResponse)
def organization_page(request: Request, name: str) -> HTMLResponse:
    """One department's open datasets, newest first."""
    with _database(request).session() as s:
        org = catalog.organization(s, name) if _looks_like_name(name) else None
        if org is None:
            return not_found(request, s, f"没有名为「{name[:100]}」的提供部门。")
        try:
            page = page_number(request.query_params.get("page"))
        except BadParameter as error:
            context = {"organization": org, "error": str(error)}
            return render(request, s, "portal/organization.html", context, status_code=400)
        query = SearchQuery(
            filters={"organization": (org.name,)},
            sort="modified",
            rows=PAGE_SIZE,
            start=(page - 1) * PAGE_SIZE,
            facets=(),
        )
        result = catalog.search(s, query)
        context = {
            "organization": org,
            "result": result,
            "params": SearchParams(page=page),
            "search": SearchParams(filters={"organization": (org.name,)}),
            "pager": pages_of(result.count, page),
        }
        return render(request, s, "portal/organization.html", context)


@router.get("/group", response_class=HTMLResponse)
def group_list(request: Request) -> HTMLResponse:
    """The open-data domains (领域, SR§21), each leading into the catalog filtered by it."""
    with _database(request).session() as s:
        return render(request, s, "portal/groups.html", {"domains": catalog.domains(s)})
