"""Audit log JSON API for auditors: search, export, verify."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from govshare.core import clock
from govshare.core.audit import service as audit_service
from govshare.core.inputs import Id, Page
from govshare.core.permissions import require
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(tags=["审计日志"])
PerPage = Annotated[int, Query(ge=1, le=500)]
Text = Annotated[str | None, Query(max_length=200)]


def audit_filter(
    actor_label: Text = None,
    user_id: Id | None = None,
    organization_id: Id | None = None,
    object_type: Text = None,
    object_id: Text = None,
    action: Text = None,
    since: date | None = None,
    until: date | None = None,
) -> audit_service.AuditFilter:
    """Query parameters shared by the search, the export and the page."""
    return audit_service.AuditFilter(
        actor=actor_label or None,
        user_id=user_id,
        organization_id=organization_id,
        object_type=object_type or None,
        object_id=object_id or None,
        action=action or None,
        since=since,
        until=until,
    )


Criteria = Annotated[audit_service.AuditFilter, Depends(audit_filter)]


class AuditEntryOut(BaseModel):
    id: int
    seq: int | None  # None until the sequencer has chained the entry
    occurred_at: datetime
    actor_label: str
    actor_user_id: int | None
    actor_organization_id: int | None
    actor_token_id: int | None
    source_ip: str | None
    action: str
    object_type: str
    object_id: str | None
    details: str
    hash: str | None


class AuditPageOut(BaseModel):
    total: int
    page: int
    per_page: int
    entries: list[AuditEntryOut]


@router.get("/audit", summary="查询审计日志")
def search(
    db_session: DB, actor: SignedIn, criteria: Criteria, page: Page = 1, per_page: PerPage = 50
) -> AuditPageOut:
    result = audit_service.search(
        db_session, actor=actor, criteria=criteria, page=page, per_page=per_page
    )
    return AuditPageOut(
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        entries=[AuditEntryOut.model_validate(e, from_attributes=True) for e in result.entries],
    )


@router.get("/audit/verify", summary="校验审计链")
def verify(db_session: DB, actor: SignedIn) -> dict[str, Any]:
    require(actor, *audit_service.READERS, action="校验审计链")
    result = audit_service.verify(db_session)
    return {
        "ok": result.ok,
        "checked": result.checked,
        "first_bad_seq": result.first_bad_seq,
        "unsequenced_id": result.unsequenced_id,
        "message": result.describe(),
    }


@router.get("/audit/export", summary="导出审计日志（csv 或 jsonl，流式）")
def export(
    request: Request, db_session: DB, actor: SignedIn, criteria: Criteria, format: str = "jsonl"
) -> StreamingResponse:
    audit_service.start_export(db_session, actor=actor, criteria=criteria, fmt=format)
    return stream_export(request, criteria, format)


def stream_export(
    request: Request, criteria: audit_service.AuditFilter, fmt: str
) -> StreamingResponse:
    """Streams rows from a read transaction of its own, after the export was recorded."""
    runtime = runtime_of(request)

    def rows() -> Iterator[str]:
        with runtime.transaction() as session:
            yield from audit_service.iter_export(session, criteria=criteria, fmt=fmt)

    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
    stamp = clock.to_city(clock.now()).strftime("%Y%m%d-%H%M%S")
    headers = {"Content-Disposition": f'attachment; filename="audit-{stamp}.{fmt}"'}
    return StreamingResponse(rows(), media_type=media, headers=headers)
