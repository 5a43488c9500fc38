"""The auditor's page: filter, read, export, verify."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govshare.core.audit import service as audit_service
from govshare.core.audit.api import Criteria, stream_export
from govshare.core.inputs import Page
from govshare.core.permissions import require
from govshare.identity import service as identity_service
from govshare.web.deps import DB, PageActor
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    request: Request, db_session: DB, actor: PageActor, criteria: Criteria, page: Page = 1
) -> Response:
    result = audit_service.search(
        db_session, actor=actor, criteria=criteria, page=page, per_page=50
    )
    return render(
        request,
        "audit/log.html",
        {
            "result": result,
            "criteria": criteria,
            "organizations": identity_service.list_organizations(db_session, actor=actor),
            "query": request.url.query,
            "pages": (result.total + result.per_page - 1) // result.per_page,
        },
    )


@router.post("/audit/verify", response_class=HTMLResponse)
def audit_verify(request: Request, db_session: DB, actor: PageActor) -> Response:
    require(actor, *audit_service.READERS, action="校验审计链")
    return render(request, "audit/verify.html", {"verification": audit_service.verify(db_session)})


@router.get("/audit/export.{fmt}")
def audit_export(
    request: Request, db_session: DB, actor: PageActor, criteria: Criteria, fmt: str
) -> Response:
    audit_service.start_export(db_session, actor=actor, criteria=criteria, fmt=fmt)
    return stream_export(request, criteria, fmt)
