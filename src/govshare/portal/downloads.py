"""Downloads of an open table (OPN-1): CSV, Excel and JSON, streamed row by row.

Each file is written while the rows are read from a server-side cursor
(`catalog.stream_rows`), in chunks of about CHUNK bytes, so memory stays flat whatever the
table's size; a CSV on PostgreSQL is the database's own `COPY … TO STDOUT` (`copy_csv`),
several times faster than formatting each value here. Excel is the exception that proves the
rule: an .xlsx is a zip, so openpyxl's write-only workbook (which itself keeps rows on disk)
is saved into a temporary file, then streamed from it.

Values: dates and times in ISO 8601, numbers in plain decimal notation (never 1E+2), so a
file reads back exactly. Unconditional datasets download for everyone; a conditional one
only for a signed-in account holding a current entitlement to it (OPN-2), with exactly the
entitled fields as columns. Anyone else is refused with 403 and told how to apply.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tempfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy.orm import Session

from govshare.portal import accounts, catalog, copy_csv, usage
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalDataset, PortalField
from govshare.portal.pages import _looks_like_name, not_found
from govshare.portal.templating import plain, render

router = APIRouter(
    tags=["开放门户下载"], include_in_schema=False, dependencies=[Depends(accounts.identify)]
)

CHUNK = 256 * 1024  # bytes a piece of a download holds, about
EXCEL_MAX_ROWS = 1_048_576  # rows of one sheet, the header included
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
_UNSAFE_IN_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def content_disposition(title: str, name: str, extension: str) -> str:
    """An attachment named after the dataset's Chinese title (RFC 5987 `filename*`), with its
    ASCII name as the fallback for old clients."""
    readable = _UNSAFE_IN_FILENAME.sub("_", title).strip() or name
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "data"
    return (
        f'attachment; filename="{fallback}.{extension}"; '
        f"filename*=UTF-8''{quote(f'{readable}.{extension}', safe='')}"
    )


def _download(request: Request, name: str, extension: str) -> StreamingResponse | HTMLResponse:
    portal: PortalDatabase = request.app.state.portal
    with portal.session() as s:
        data = catalog.dataset(s, name) if _looks_like_name(name) else None
        if data is None:
            return not_found(request, s, f"没有名为「{name[:100]}」的开放数据集。")
        visitor = accounts.current(request)
        account_id = visitor.account_id if visitor else None
        access = accounts.access(s, account_id, data)
        if access is None and data.open_type != "unconditional":
            return _apply_first(request, s, data, account_id)
        if access is None or data.rows_table is None:
            message = f"「{data.title}」不是表格数据，没有可下载的数据文件。"
            return not_found(request, s, message)
        dataset_id, title, slug = data.id, data.title, data.name
        columns = access.columns
        usage.count(s, dataset_id, "downloads")
    headers = {"Content-Disposition": content_disposition(title, slug, extension)}
    if access.valid_until is not None:
        headers["Cache-Control"] = "private, no-store"  # one account's, not for shared caches
    return StreamingResponse(
        WRITERS[extension](portal, dataset_id, columns),
        media_type=MEDIA_TYPES[extension],
        headers=headers,
    )


def _apply_first(
    request: Request, s: Session, data: PortalDataset, account_id: int | None
) -> HTMLResponse:
    """403 for conditional data without an entitlement: what to do to be allowed."""
    if account_id is None:
        target = f"/dataset/{data.name}/apply"
        links = [
            ("/account/login?" + urlencode({"next": target}), "登录后申请"),
            ("/account/register?" + urlencode({"next": target}), "注册账户"),
        ]
    else:
        links = [(f"/dataset/{data.name}/apply", "申请使用"), ("/account/applications", "我的申请")]
    links.append((f"/dataset/{data.name}", f"查看「{data.title}」的说明"))
    context = {
        "title": "须申请后使用",
        "message": accounts.refusal(s, account_id, data),
        "conditions": data.open_conditions,
        "links": links,
    }
    return render(request, s, "portal/account_message.html", context, status_code=403)


@router.get("/dataset/{name}/download.csv", response_model=None)
def download_csv(request: Request, name: str) -> StreamingResponse | HTMLResponse:
    """The dataset as CSV: UTF-8 with a byte-order mark (so Excel reads the Chinese)."""
    return _download(request, name, "csv")


@router.get("/dataset/{name}/download.xlsx", response_model=None)
def download_xlsx(request: Request, name: str) -> StreamingResponse | HTMLResponse:
    """The dataset as an Excel workbook."""
    return _download(request, name, "xlsx")


@router.get("/dataset/{name}/download.json", response_model=None)
def download_json(request: Request, name: str) -> StreamingResponse | HTMLResponse:
    """The dataset as a JSON array of objects keyed by the field names."""
    return _download(request, name, "json")


def _open_fields(
    portal: PortalDatabase, dataset_id: int, columns: Sequence[str]
) -> Iterator[tuple[Session, PortalDataset, list[PortalField]]]:
    """The dataset's fields among `columns` (those the request may read, checked before), in
    a session whose one transaction the rows are then read in; nothing when the dataset went
    away since the request was checked."""
    with portal.session() as s:
        data = s.get(PortalDataset, dataset_id)
        if data is None or data.rows_table is None or not columns:
            return
        yield s, data, [f for f in data.fields if f.column in columns]


def _open_rows(
    portal: PortalDatabase, dataset_id: int, columns: Sequence[str]
) -> Iterator[tuple[list[PortalField], Iterator[Sequence[Any]]]]:
    """The fields (as `_open_fields`) and their rows (values only, `_row` dropped)."""
    for s, data, fields in _open_fields(portal, dataset_id, columns):
        _, stmt = catalog.rows(s, data, columns=[f.column for f in fields], limit=None)
        yield fields, (row[1:] for row in catalog.stream_rows(s, stmt))


def csv_chunks(portal: PortalDatabase, dataset_id: int, columns: Sequence[str]) -> Iterator[bytes]:
    """CSV in UTF-8 with BOM; header = field names; values as plain text. On PostgreSQL the
    rows are the database's own CSV (`copy_csv`), which writes the values the same way."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    if portal.dialect == "postgresql":
        for s, data, fields in _open_fields(portal, dataset_id, columns):
            writer.writerow([f.name for f in fields])
            yield buffer.getvalue().encode()
            yield from copy_csv.copy_chunks(s, data.id, fields, CHUNK)
        return
    for fields, rows in _open_rows(portal, dataset_id, columns):
        writer.writerow([f.name for f in fields])
        for row in rows:
            writer.writerow([plain(v) for v in row])
            if buffer.tell() >= CHUNK:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()


def json_value(value: Any) -> str:
    """One value as JSON text: numbers in plain decimal notation, dates ISO, null for a
    number JSON cannot hold (NaN, infinity)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return plain(value) if math.isfinite(value) else "null"
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    return json.dumps(str(value), ensure_ascii=False)


def json_chunks(portal: PortalDatabase, dataset_id: int, columns: Sequence[str]) -> Iterator[bytes]:
    """A JSON array of objects, one per line, written as the rows come."""
    buffer = io.StringIO()
    buffer.write("[")
    separator = "\n"
    for fields, rows in _open_rows(portal, dataset_id, columns):
        keys = [json.dumps(f.name, ensure_ascii=False) + ": " for f in fields]
        for row in rows:
            pairs = (k + json_value(v) for k, v in zip(keys, row, strict=True))
            buffer.write(separator + "{" + ", ".join(pairs) + "}")
            separator = ",\n"
            if buffer.tell() >= CHUNK:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    buffer.write("\n]\n")
    yield buffer.getvalue().encode()


def _excel_value(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """A cell: numbers and booleans as Excel values, dates as ISO text, text always as text
    (a value starting with = is not made a formula)."""
    if value is None or isinstance(value, bool | int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        return value
    if isinstance(value, Decimal):
        # Exact in a cell only within Excel's 15 significant digits; else kept as text.
        exact = value.is_finite() and len(value.normalize().as_tuple().digits) <= 15
        return float(value) if exact else format(value, "f")
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", plain(value)))
    cell.data_type = "s"
    return cell


def _new_sheet(workbook: Workbook, fields: list[PortalField], number: int) -> WriteOnlyWorksheet:
    """A sheet with the field names as its bold header row, columns wide enough for them."""
    sheet = workbook.create_sheet("数据" if number == 1 else f"数据{number}")
    for i, f in enumerate(fields, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = min(40, max(12, 2 * len(f.name) + 4))
    header = []
    for f in fields:
        cell = WriteOnlyCell(sheet, value=f.name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    return sheet


def xlsx_chunks(portal: PortalDatabase, dataset_id: int, columns: Sequence[str]) -> Iterator[bytes]:
    """An .xlsx built in a temporary file (a zip cannot be streamed as it is written), then
    sent in chunks; a sheet holds at most EXCEL_MAX_ROWS rows, more go on to the next."""
    with tempfile.TemporaryFile() as file:
        workbook = Workbook(write_only=True)
        for fields, rows in _open_rows(portal, dataset_id, columns):
            sheet, used, number = _new_sheet(workbook, fields, 1), 1, 1
            for row in rows:
                if used == EXCEL_MAX_ROWS:
                    number += 1
                    sheet, used = _new_sheet(workbook, fields, number), 1
                sheet.append([_excel_value(sheet, v) for v in row])
                used += 1
        if not workbook.worksheets:
            workbook.create_sheet("数据")
        workbook.save(file)
        file.seek(0)
        while chunk := file.read(CHUNK):
            yield chunk


WRITERS = {"csv": csv_chunks, "xlsx": xlsx_chunks, "json": json_chunks}
