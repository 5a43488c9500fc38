"""The catalogs along the levels over the API (级联目录): the mirrored resources of the
platforms above and below, the peers' sync state, an immediate pull, and the editions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from govshare.core.inputs import Id, Page
from govshare.federation import catalog_editions, catalogs
from govshare.federation.catalog_models import CatalogEdition, RemoteResource
from govshare.federation.models import Relation
from govshare.web.deps import DB, SignedIn, runtime_of
from govshare.web.documents import document_response

router = APIRouter(prefix="/federation/catalog", tags=["级联目录"])


class PlatformRef(BaseModel):
    code: str
    name: str


class RemoteResourceOut(BaseModel):
    id: int
    relation: Relation
    origin: PlatformRef
    chain: list[PlatformRef]
    code: str
    name: str
    provider_name: str
    provider_level: str
    version: int
    updated_at: datetime
    synced_at: datetime
    retired: bool
    entry: dict[str, Any] = Field(description="目录条目：摘要、共享和开放属性、更新周期、信息项等")


class RemotePageOut(BaseModel):
    rows: list[RemoteResourceOut]
    total: int
    page: int
    pages: int


class PeerCatalogOut(BaseModel):
    peer_code: str
    peer_name: str
    relation: Relation
    resources: int
    retired: int
    synced_at: datetime | None
    error: str | None


class SyncOut(BaseModel):
    peer_code: str
    peer_name: str
    pages: int
    received: int
    added: int
    changed: int
    retired: int
    skipped: int
    error: str | None


class EditionIn(BaseModel):
    note: str = Field("", max_length=500)


class EditionOut(BaseModel):
    id: int
    title: str
    year: int
    number: int
    published_on: date
    note: str
    parts: list[dict[str, Any]]
    total: int


def _out(row: RemoteResource) -> RemoteResourceOut:
    return RemoteResourceOut(
        id=row.id,
        relation=row.relation,
        origin=PlatformRef(code=row.origin_code, name=row.origin_name),
        chain=[PlatformRef(code=c["code"], name=c["name"]) for c in row.chain],
        code=row.resource_code,
        name=row.name,
        provider_name=row.provider_name,
        provider_level=row.provider_level,
        version=row.version,
        updated_at=row.updated_at,
        synced_at=row.synced_at,
        retired=row.retired,
        entry=row.entry,
    )


def _edition(edition: CatalogEdition) -> EditionOut:
    return EditionOut(
        id=edition.id,
        title=edition.title,
        year=edition.year,
        number=edition.number,
        published_on=edition.published_on,
        note=edition.note,
        parts=edition.parts,
        total=edition.total,
    )


@router.get("", summary="级联目录资源")
def remote_list(
    db_session: DB,
    actor: SignedIn,
    q: str = Query("", max_length=200),
    side: Relation | None = None,
    origin: str | None = Query(None, pattern=r"^\d{6,12}$"),
    via: str | None = Query(None, pattern=r"^\d{6,12}$"),
    current_only: bool = False,
    page: Page = 1,
) -> RemotePageOut:
    result = catalogs.search_remote(
        db_session,
        actor=actor,
        query=catalogs.RemoteQuery(
            text=q,
            relation=side,
            origin=origin,
            via=via,
            include_retired=not current_only,
            page=page,
        ),
    )
    return RemotePageOut(
        rows=[_out(r) for r in result.rows],
        total=result.total,
        page=result.page,
        pages=result.pages,
    )


@router.get("/peers", summary="各对接平台目录同步情况")
def peer_list(db_session: DB, actor: SignedIn) -> list[PeerCatalogOut]:
    return [
        PeerCatalogOut(
            peer_code=p.peer.code,
            peer_name=p.peer.name,
            relation=p.peer.relation,
            resources=p.resources,
            retired=p.retired,
            synced_at=p.watermark.synced_at if p.watermark else None,
            error=p.watermark.error if p.watermark else None,
        )
        for p in catalogs.peer_catalogs(db_session, actor=actor)
    ]


@router.post("/sync", summary="立即从各对接平台同步目录")
def sync(request: Request, db_session: DB, actor: SignedIn) -> list[SyncOut]:
    db_session.rollback()  # the pull's messages commit on their own
    return [
        SyncOut(
            peer_code=r.peer_code,
            peer_name=r.peer_name,
            pages=r.pages,
            received=r.received,
            added=r.added,
            changed=r.changed,
            retired=r.retired,
            skipped=r.skipped,
            error=r.error,
        )
        for r in catalogs.sync_now(runtime_of(request), actor=actor)
    ]


@router.get("/editions", summary="目录版本")
def edition_list(db_session: DB, actor: SignedIn) -> list[EditionOut]:
    return [_edition(e) for e in catalog_editions.list_editions(db_session, actor=actor)]


@router.post("/editions", status_code=201, summary="发布目录版本")
def edition_publish(db_session: DB, actor: SignedIn, data: EditionIn) -> EditionOut:
    return _edition(catalog_editions.publish_edition(db_session, actor=actor, note=data.note))


@router.get("/editions/{edition_id}/download", summary="下载目录版本（Excel 或 JSON）")
def edition_download(
    db_session: DB,
    actor: SignedIn,
    edition_id: Id,
    fmt: Literal["xlsx", "json"] = "xlsx",
    origin: str | None = Query(None, pattern=r"^\d{6,12}$"),
) -> Response:
    return document_response(
        catalog_editions.edition_file(
            db_session, actor=actor, edition_id=edition_id, fmt=fmt, origin=origin
        )
    )


@router.get("/{remote_id}", summary="级联目录资源详情")
def remote_detail(db_session: DB, actor: SignedIn, remote_id: Id) -> RemoteResourceOut:
    return _out(catalogs.get_remote(db_session, actor=actor, remote_id=remote_id))
