"""Exchange pages: file resources (文件资源, EXC-3) — the file resources a department provides
or may use, a resource's versions, the provider's upload form and the grantees' downloads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from govshare.core.errors import DomainError
from govshare.core.inputs import Number
from govshare.core.permissions import Actor
from govshare.exchange import filestore
from govshare.exchange.api.files import content_response, upload_chunks
from govshare.exchange.service import files
from govshare.sharing.service.common import oversees
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import field_errors
from govshare.web.templating import redirect, render

router = APIRouter()
UNITS = ("KB", "MB", "GB", "TB")


def size_label(size: int) -> str:
    """A size as people read it: 1.5 MB rather than 1572864."""
    if size < 1024:
        return f"{size} 字节"
    value = float(size)
    for unit in UNITS:
        value /= 1024
        if value < 1024 or unit == UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


@router.get("/exchange/files", response_class=HTMLResponse)
def file_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    rows = files.file_resources(db_session, actor=actor)
    return render(
        request,
        "exchange/files/list.html",
        {"rows": rows, "size_label": size_label, "link": files.link, "oversees": oversees(actor)},
    )


def _detail(
    request: Request,
    db_session: DB,
    actor: Actor,
    resource_code: str,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    view = files.get_file_resource(db_session, actor=actor, resource_code=resource_code)
    context = {
        "view": view,
        "size_label": size_label,
        "base": files.link(view.resource),
        "errors": {},
        "form": {},
        "oversees": oversees(actor),
        **extra,
    }
    return render(request, "exchange/files/detail.html", context, status_code)


# The upload and download routes come before the resource page, whose code path would
# swallow ".../versions/2/download".
@router.post("/exchange/files/{resource_code:path}/upload", response_class=HTMLResponse)
def upload(
    request: Request,
    db_session: DB,
    actor: PageActor,
    resource_code: str,
    file: Annotated[UploadFile, File()],
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        version = files.upload_version(
            db_session,
            actor=actor,
            store=filestore.store_for(runtime_of(request).settings),
            resource_code=resource_code,
            filename=file.filename or "",
            content_type=file.content_type or "",
            chunks=upload_chunks(file),
            note=note,
        )
    except DomainError as exc:
        db_session.rollback()  # the stored bytes go with it
        errors = field_errors(exc)
        form = {"note": note}
        return _detail(
            request, db_session, actor, resource_code, exc.status, errors=errors, form=form
        )
    message = f"已上传第 {version.number} 版：{version.filename}（{size_label(version.size)}）"
    return redirect(files.link(version.resource), message)


@router.get("/exchange/files/{resource_code:path}/versions/{number}/download")
def download(
    request: Request, db_session: DB, actor: PageActor, resource_code: str, number: Number
) -> Response:
    try:
        opened = files.open_version(
            db_session,
            actor=actor,
            store=filestore.store_for(runtime_of(request).settings),
            resource_code=resource_code,
            number=number,
        )
    except files.Refused as refusal:
        # Returned, not raised: the refusal's audit entry is committed with the request.
        return render(request, "error.html", {"error": refusal}, refusal.status)
    return content_response(opened)


@router.get("/exchange/files/{resource_code:path}", response_class=HTMLResponse)
def detail(request: Request, db_session: DB, actor: PageActor, resource_code: str) -> Response:
    return _detail(request, db_session, actor, resource_code)
