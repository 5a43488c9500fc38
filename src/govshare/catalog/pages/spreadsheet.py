"""The catalog spreadsheets page (目录导入导出, CAT-8): download the city catalog, the own
department's catalog and the template; upload a filled-in template and see every problem."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from govshare.catalog.api.spreadsheet import read_upload
from govshare.catalog.service import spreadsheet_import
from govshare.catalog.workbook import MAX_BYTES, MAX_ROWS
from govshare.core.errors import DomainError
from govshare.core.permissions import Actor, Role
from govshare.identity import service as identity_service
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.templating import redirect, render

router = APIRouter()
PAGE = "/catalog/spreadsheets"
SHOWN_ERRORS = 500  # a file wrong throughout is fixed from the top anyway


def _context(db_session: DB, actor: Actor, **extra: Any) -> dict[str, Any]:
    is_operator = actor.has(Role.PLATFORM_OPERATOR)
    return {
        "is_operator": is_operator,
        "can_import": actor.has(*spreadsheet_import.IMPORTERS),
        "own_id": actor.organization_id if actor.has(*spreadsheet_import.IMPORTERS) else None,
        "organizations": identity_service.list_organizations(db_session, actor=actor)
        if is_operator
        else [],
        "max_mb": MAX_BYTES // 1024 // 1024,
        "max_rows": MAX_ROWS,
        "errors": [],
        "error": None,
        **extra,
    }


@router.get(PAGE, response_class=HTMLResponse)
def spreadsheets(request: Request, db_session: DB, actor: PageActor) -> Response:
    return render(request, "catalog/spreadsheet.html", _context(db_session, actor))


@router.post(PAGE, response_class=HTMLResponse)
def upload(
    request: Request,
    db_session: DB,
    actor: PageActor,
    file: Annotated[UploadFile, File()],
    publish: Annotated[str, Form()] = "",
    organization_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        result = spreadsheet_import.import_catalog(
            db_session,
            actor=actor,
            content=read_upload(file),
            rules=runtime_of(request).profile.rules,
            organization_id=int(organization_id) if organization_id.isdigit() else None,
            publish=bool(publish),
        )
    except DomainError as exc:
        db_session.rollback()  # nothing of a refused file stays behind
        errors = exc.extra.get("errors", [])
        context = _context(
            db_session,
            actor,
            error=exc.message,
            errors=errors[:SHOWN_ERRORS],
            hidden_errors=max(0, len(errors) - SHOWN_ERRORS),
            filename=file.filename,
        )
        return render(request, "catalog/spreadsheet.html", context, exc.status)
    where = "并已发布" if result.published else "，均为草稿，请在“本单位目录”中核对后提交审核"
    message = f"已导入 {result.resources} 个资源、{result.items} 个信息项{where}"
    if result.codes:
        shown = "、".join(result.codes[:5]) + ("等" if len(result.codes) > 5 else "")
        message += f"（资源代码 {shown}）"
    return redirect(PAGE, message)
