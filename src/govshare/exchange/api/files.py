"""Exchange API: file resources (文件资源, EXC-3) — upload a new version (multipart, streamed
to the file store), list the versions, download one or the latest within the grant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from govshare.core.inputs import Number
from govshare.exchange import filestore
from govshare.exchange.models import FileVersion
from govshare.exchange.service import files
from govshare.web.deps import DB, SignedIn, runtime_of
from govshare.web.errors import problem_doc, problem_response

router = APIRouter(prefix="/exchange/files", tags=["数据交换"])
PREFIX = "/api/v1/exchange/files"
REFUSAL = {403: problem_doc("无有效授权：detail 说明原因（如授权已被暂停及其理由）")}


class FileVersionOut(BaseModel):
    number: int
    filename: str
    content_type: str
    size: int
    sha256: str
    note: str
    uploaded_at: datetime
    uploaded_by: str
    content_url: str


def version_out(resource_code: str, version: FileVersion) -> FileVersionOut:
    return FileVersionOut(
        number=version.number,
        filename=version.filename,
        content_type=version.content_type,
        size=version.size,
        sha256=version.sha256,
        note=version.note,
        uploaded_at=version.uploaded_at,
        uploaded_by=version.uploaded_by,
        content_url=f"{PREFIX}/{resource_code}/versions/{version.number}/content",
    )


def upload_chunks(upload: UploadFile) -> Iterator[bytes]:
    """The uploaded file in chunks, never whole in memory."""
    while chunk := upload.file.read(filestore.CHUNK_SIZE):
        yield chunk


def disposition(filename: str) -> str:
    """An attachment whose Chinese name survives every browser: an ASCII fallback and the
    UTF-8 name (RFC 6266, RFC 5987)."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    stem, dot, ext = fallback.rpartition(".")
    if not (stem if dot else fallback).strip("_ "):
        fallback = f"file{dot}{ext}" if dot else "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def content_response(download: files.Download) -> StreamingResponse:
    """The version's bytes, streamed, with its length, name and SHA-256 as the ETag."""
    version = download.version
    headers = {
        "Content-Type": version.content_type,
        "Content-Length": str(version.size),
        "Content-Disposition": disposition(version.filename),
        "ETag": f'"{version.sha256}"',
        "Cache-Control": "no-store",  # every download passes the grant check and is logged
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(download.chunks(), headers=headers)


@router.post(
    "/{resource_code:path}/versions",
    status_code=201,
    summary="上传文件资源的新版本（提供部门数据专员或工作人员）",
)
def upload(
    request: Request,
    db_session: DB,
    actor: SignedIn,
    resource_code: str,
    file: Annotated[UploadFile, File(description="文件，大小不限，不能为空")],
    note: Annotated[str, Form(description="版本说明（选填）")] = "",
) -> FileVersionOut:
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
    return version_out(resource_code, version)


@router.get("/{resource_code:path}/versions", summary="文件资源的版本（新版本在前）")
def versions(db_session: DB, actor: SignedIn, resource_code: str) -> list[FileVersionOut]:
    found = files.list_versions(db_session, actor=actor, resource_code=resource_code)
    return [version_out(resource_code, v) for v in found]


def _download(
    request: Request, db_session: DB, actor: SignedIn, resource_code: str, number: int | None
) -> StreamingResponse | JSONResponse:
    try:
        download = files.open_version(
            db_session,
            actor=actor,
            store=filestore.store_for(runtime_of(request).settings),
            resource_code=resource_code,
            number=number,
        )
    except files.Refused as refusal:
        # Returned, not raised: the refusal's audit entry is committed with the request.
        return problem_response(request, refusal.to_problem())
    return content_response(download)


# The numbered route comes first: "/{code}/content" would also match ".../versions/2/content".
@router.get(
    "/{resource_code:path}/versions/{number}/content",
    summary="下载文件资源的某一版本（须有有效授权；提供部门可下载本单位的文件）",
    response_class=StreamingResponse,
    response_model=None,
    responses=REFUSAL,
)
def content(
    request: Request, db_session: DB, actor: SignedIn, resource_code: str, number: Number
) -> StreamingResponse | JSONResponse:
    return _download(request, db_session, actor, resource_code, number)


@router.get(
    "/{resource_code:path}/content",
    summary="下载文件资源的最新版本",
    response_class=StreamingResponse,
    response_model=None,
    responses=REFUSAL,
)
def latest_content(
    request: Request, db_session: DB, actor: SignedIn, resource_code: str
) -> StreamingResponse | JSONResponse:
    return _download(request, db_session, actor, resource_code, None)
