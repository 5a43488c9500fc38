"""Catalog API: search the published catalog (CAT-11)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from govshare.catalog.models import (
    CatalogKind,
    Domain,
    OpenType,
    ResourceFormat,
    ShareType,
    UpdateFrequency,
)
from govshare.catalog.service import search
from govshare.core.inputs import Id, Page
from govshare.web.deps import DB, SignedIn

router = APIRouter(prefix="/catalog", tags=["资源目录"])


class RowOut(BaseModel):
    resource_id: int
    code: str
    name: str
    snippet: str
    provider_id: int
    provider: str
    catalog_kind: CatalogKind
    domain: Domain
    share_type: ShareType
    format: ResourceFormat
    open_type: OpenType
    update_frequency: UpdateFrequency
    published_on: date


class FacetValueOut(BaseModel):
    value: str
    label: str
    count: int
    selected: bool


class SearchOut(BaseModel):
    q: str
    sort: str
    page: int
    page_size: int
    pages: int
    total: int
    rows: list[RowOut]
    facets: dict[str, list[FacetValueOut]]


@router.get("/search", summary="检索资源目录（全文检索、分面统计、排序、分页）")
def search_catalog(
    db_session: DB,
    actor: SignedIn,
    q: Annotated[
        str, Query(max_length=200, description="检索词，多个词以空格分隔（须同时命中）")
    ] = "",
    provider_id: Id | None = None,
    catalog_kind: CatalogKind | None = None,
    domain: Domain | None = None,
    share_type: ShareType | None = None,
    format: ResourceFormat | None = None,
    open_type: OpenType | None = None,
    update_frequency: UpdateFrequency | None = None,
    sort: Annotated[
        str | None, Query(description="relevance（有检索词时默认）、published、name")
    ] = None,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=search.MAX_PAGE_SIZE)] = 20,
) -> SearchOut:
    query = search.SearchQuery(
        text=q,
        provider_id=provider_id,
        catalog_kind=catalog_kind,
        domain=domain,
        share_type=share_type,
        format=format,
        open_type=open_type,
        update_frequency=update_frequency,
        sort=sort,
        page=page,
        page_size=page_size,
    )
    found = search.search(db_session, actor=actor, query=query)
    return SearchOut(
        q=found.query.text,
        sort=found.query.sort or "",
        page=found.page,
        page_size=found.query.page_size,
        pages=found.pages,
        total=found.total,
        rows=[RowOut(**vars(row)) for row in found.rows],
        facets={
            facet: [FacetValueOut(**vars(v)) for v in values]
            for facet, values in found.facets.items()
        },
    )
