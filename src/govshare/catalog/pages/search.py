"""The catalog browse page (资源目录检索, CAT-11): search box, facets with counts, sorting,
paging. Everything is a GET link, so a result list can be bookmarked, shared and reloaded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from govshare.catalog.service import search
from govshare.core.errors import Invalid
from govshare.core.inputs import MAX_PAGE, parse_id
from govshare.federation import catalogs as federation_catalogs
from govshare.federation.models import Relation
from govshare.web.deps import DB, PageActor
from govshare.web.templating import render

router = APIRouter()

PARAMS = ("q", *search.FACETS, "sort", "page")
PROVIDERS_SHOWN = 8  # departments listed before "more"
SHARE_TAGS = {"unconditional": "green", "conditional": "amber", "not_shared": "red"}
LOWER_SHOWN = 3  # resources of the platforms below shown beside the city's own


@dataclass(frozen=True)
class FacetLink:
    label: str
    count: int
    url: str
    selected: bool


@dataclass(frozen=True)
class FacetGroup:
    name: str
    label: str
    links: list[FacetLink]
    shown: int  # how many links show before "more"


def _url(params: dict[str, str], **changes: str | None) -> str:
    """This page with `params` changed (None removes one); any change but paging goes back
    to the first page."""
    merged = {**params, **changes}
    if "page" not in changes:
        merged.pop("page", None)
    kept = {k: v for k in PARAMS if (v := merged.get(k)) not in (None, "")}
    return "/catalog" + ("?" + urlencode(kept) if kept else "")


def _marked(text: str, marks: tuple[str, ...]) -> Markup:
    """`text`, escaped, with the query's words (and their synonyms) in <mark>."""
    if not marks:
        return escape(text)
    pattern = re.compile("|".join(re.escape(m) for m in marks), re.IGNORECASE)
    out, last = [], 0
    for found in pattern.finditer(text):
        out.append(escape(text[last : found.start()]))
        out.append(Markup("<mark>%s</mark>") % found.group(0))
        last = found.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def _groups(result: search.SearchResult, params: dict[str, str]) -> list[FacetGroup]:
    groups = []
    for facet, values in result.facets.items():
        links = [
            FacetLink(
                v.label,
                v.count,
                _url(params, **{facet: None if v.selected else v.value}),
                v.selected,
            )
            for v in values
        ]
        shown = PROVIDERS_SHOWN if facet == "provider_id" else len(links)
        groups.append(FacetGroup(facet, search.FACET_LABELS[facet], links, shown))
    return groups


def _query(params: dict[str, str]) -> search.SearchQuery:
    values: dict[str, Any] = {f: params.get(f) or None for f in search.FACETS}
    if values["provider_id"] is not None:
        values["provider_id"] = parse_id(values["provider_id"])
        if values["provider_id"] is None:
            raise Invalid("提供部门参数无效", field="provider_id")
    page = params.get("page") or "1"
    if not (page.isascii() and page.isdigit() and 1 <= int(page) <= MAX_PAGE):
        raise Invalid(f"页码应为 1 至 {MAX_PAGE} 之间的整数", field="page")
    return search.SearchQuery(
        text=params.get("q", ""), sort=params.get("sort") or None, page=int(page), **values
    )


@router.get("/catalog", response_class=HTMLResponse)
def browse(request: Request, db_session: DB, actor: PageActor) -> HTMLResponse:
    params = {k: v.strip() for k in PARAMS if (v := request.query_params.get(k))}
    error = None
    try:
        result = search.search(db_session, actor=actor, query=_query(params))
    except Invalid as exc:
        error = exc.message
        params = {"q": params.get("q", "")[: search.MAX_TEXT]}
        result = search.search(db_session, actor=actor, query=search.SearchQuery())
    marks = result.highlights
    rows = [
        {
            "row": row,
            "name": _marked(row.name, marks),
            "snippet": _marked(row.snippet, marks),
            "matched_items": Markup("、").join(_marked(n, marks) for n in row.matched_items[:8]),
            "share_tag": SHARE_TAGS.get(row.share_type.value, ""),
        }
        for row in result.rows
    ]
    groups = _groups(result, params)
    chosen = [(g.label, link.label, link.url) for g in groups for link in g.links if link.selected]
    sorts = {k: v for k, v in search.SORTS.items() if k != "relevance" or result.query.text}
    page = result.page
    context = {
        "result": result,
        "rows": rows,
        "groups": groups,
        "chosen": chosen,
        "params": params,
        "sorts": sorts,
        "error": error,
        "clear_url": _url({"q": params.get("q", "")}),
        "prev_url": _url(params, page=str(page - 1)) if page > 1 else None,
        "next_url": _url(params, page=str(page + 1)) if page < result.pages else None,
        "first_row": (page - 1) * result.query.page_size + 1,
        "first_page_url": _url(params, page=None),
        # resources of the platforms below that match too, listed in the federated catalog
        "lower": federation_catalogs.search_remote(
            db_session,
            actor=actor,
            query=federation_catalogs.RemoteQuery(
                text=result.query.text,
                relation=Relation.LOWER,
                include_retired=False,
                page_size=LOWER_SHOWN,
            ),
        ),
        "lower_url": "/catalog/federation?"
        + urlencode({"q": result.query.text, "side": "lower", "state": "current"}),
    }
    return render(request, "catalog/search.html", context)
