"""Catalog spreadsheets API (CAT-8): export the city or a department catalog, download the
template, import a department catalog from Excel."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from govshare.catalog.service import spreadsheet_export, spreadsheet_import
from govshare.catalog.workbook import MAX_BYTES
from govshare.core import clock
from govshare.core.errors import Invalid
from govshare.core.inputs import Id
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/catalog", tags=["资源目录"])


def download(content: bytes, filename: str, media_type: str) -> Response:
    """A file download whose Chinese name survives every browser (RFC 6266 / RFC 5987)."""
    fallback = "catalog." + filename.rsplit(".", 1)[-1]
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


def read_upload(upload: UploadFile) -> bytes:
    """The uploaded file, refused past the size limit without reading it all."""
    content = upload.file.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        raise Invalid(f"文件超过 {MAX_BYTES // 1024 // 1024} MB，请分批导入", field="file")
    return content


@router.get("/export", summary="导出资源目录（全市或某部门；xlsx、csv 或 json）")
def export(
    request: Request,
    db_session: DB,
    actor: SignedIn,
    fmt: Literal["xlsx", "csv", "json"] = "xlsx",
    organization_id: Id | None = None,
) -> Response:
    found = spreadsheet_export.export_catalog(
        db_session,
        actor=actor,
        organization_id=organization_id,
        fmt=fmt,
        city_name=runtime_of(request).city_name,
    )
    return download(found.content, found.filename, found.media_type)


@router.get("/template.xlsx", summary="下载资源目录导入模板")
def template(actor: SignedIn) -> Response:
    name = f"政务信息资源目录导入模板-{clock.today().isoformat()}.xlsx"
    return download(spreadsheet_import.template(), name, spreadsheet_export.FORMATS["xlsx"])


class ImportOut(BaseModel):
    resources: int
    items: int
    published: bool
    codes: list[str]


@router.post("/import", summary="从 Excel 导入资源目录（有任何错误则整份不导入）")
def import_(
    request: Request,
    db_session: DB,
    actor: SignedIn,
    file: Annotated[UploadFile, File(description="按模板填写的 .xlsx 文件")],
    publish: Annotated[bool, Form(description="平台管理单位：导入即发布")] = False,
    organization_id: Annotated[Id | None, Form(description="只导入该部门的资源")] = None,
) -> ImportOut:
    result = spreadsheet_import.import_catalog(
        db_session,
        actor=actor,
        content=read_upload(file),
        rules=runtime_of(request).profile.rules,
        organization_id=organization_id,
        publish=publish,
    )
    return ImportOut(
        resources=result.resources,
        items=result.items,
        published=result.published,
        codes=result.codes,
    )
