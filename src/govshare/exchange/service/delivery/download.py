"""Streamed batch downloads in CSV, Excel and JSON Lines (EXC-5): checked and logged before
the first row, counted and logged again when the stream ends.

While records of the resource are under an open objection (VER-2), a download that carries
the key columns marks them: CSV and Excel get a last column 核实状态 (核实中 or empty), JSON
Lines a member `under_verification` on every line. Without such records the download has
no mark, so the common case costs nothing per row."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import DomainError, Invalid
from govshare.core.permissions import Actor
from govshare.core.settings import Settings
from govshare.exchange.center import Center
from govshare.exchange.masking import text_form
from govshare.exchange.models import UseKind
from govshare.exchange.service.delivery.calls import (
    DataRequest,
    Rejected,
    _bound,
    _Call,
    _columns,
    _fields,
    _filters,
    _granted,
    _record,
    _reject,
)
from govshare.exchange.service.delivery.query import keys_under_verification
from govshare.exchange.service.delivery.statements import (
    BATCH_ROWS,
    CHUNK_BYTES,
    FORMATS,
    XLSX_SHEET_ROWS,
    Field,
    Scope,
    _reader,
    _statement,
    grant_scope,
    masking_key,
)
from govshare.exchange.service.usage import UseGrant, record_use

log = logging.getLogger("govshare.exchange.delivery")

MARK_HEADER, MARK = "核实状态", "核实中"  # the column marking records under verification
DOWNLOAD_KINDS = {
    "csv": UseKind.DOWNLOAD_CSV,
    "xlsx": UseKind.DOWNLOAD_XLSX,
    "jsonl": UseKind.DOWNLOAD_JSONL,
}


@dataclass(frozen=True)
class Download:
    """A download that passed the checks and was logged; `stream_download` sends it."""

    actor: Actor
    resource_id: int
    resource_code: str
    name: str
    grant_number: str
    grant: UseGrant  # whose use the download is, recorded when it ends
    format: str
    fields: tuple[Field, ...]
    statement: sa.Select[Any]
    values: dict[str, Any]
    download_id: str  # in both audit entries: the start and the outcome
    filename: str
    key_columns: tuple[str, ...] = ()
    # keys (as objections.key_text writes them) of the records under verification; empty:
    # no mark in this download
    verifying: frozenset[tuple[str, ...]] = frozenset()

    def marked(self, row: Mapping[str, Any]) -> bool:
        """Whether the row's record is under verification (核实中)."""
        from govshare.verification.service.objections import key_text

        return key_text(row[c] for c in self.key_columns) in self.verifying

    @property
    def media_type(self) -> str:
        return FORMATS[self.format][0]


# --- batch download -----------------------------------------------------------------------


def start_download(
    db_session: Session,
    *,
    actor: Actor,
    settings: Settings,
    center: Center,
    resource_code: str,
    request: DataRequest,
    fmt: str,
) -> Download | Rejected:
    """Checks the grant and logs the download before any row leaves (EXC-5); the rows follow
    with `stream_download`, which logs how many went out."""
    if fmt not in FORMATS:
        raise Invalid(f"下载格式只能是 {'、'.join(FORMATS)}", field="format")
    bound = _bound(db_session, resource_code)
    binding = bound.binding
    details = {**request.as_details(), "format": fmt}
    call = _Call(actor=actor, action="exchange.data.download", bound=bound, details=details)
    grant = _granted(db_session, call)
    if isinstance(grant, Rejected):
        return grant
    scope: Scope | None = None
    try:
        scope = grant_scope(binding, grant)
        columns = _columns(binding, scope, request)
        where = _filters(binding, scope, request)
    except DomainError as error:
        return _reject(db_session, call, grant, error, scope)
    statement, values = _statement(
        center, binding, scope, key=masking_key(settings), columns=columns, where=where
    )
    download_id = uuid.uuid4().hex
    _record(db_session, call, grant, download=download_id)
    fields = _fields(scope, columns)
    keyed = {f.column for f in fields} >= set(binding.key_columns)
    verifying = keys_under_verification(db_session, binding) if keyed else set()
    return Download(
        actor=actor,
        resource_id=bound.resource_id,
        resource_code=bound.code,
        name=bound.name,
        grant_number=grant.number,
        grant=UseGrant.of(grant),
        format=fmt,
        fields=fields,
        statement=statement,
        values=values,
        download_id=download_id,
        filename=f"{bound.name}-{clock.today().isoformat()}.{FORMATS[fmt][1]}",
        key_columns=tuple(binding.key_columns),
        verifying=frozenset(verifying),
    )


class _Counter:
    rows = 0


def stream_download(
    download: Download,
    *,
    center: Center,
    transaction: Callable[[], contextlib.AbstractContextManager[Session]],
) -> Iterator[bytes]:
    """The download's bytes, read from a server-side cursor on a center connection of its own;
    when the stream ends — complete, failed, or closed early by a client gone away — the row
    count is logged in a transaction of its own (`exchange.data.download_done`)."""
    counter = _Counter()
    outcome = "abandoned"
    try:
        with _reader(center).connect() as conn:
            streaming = conn.execution_options(stream_results=True, yield_per=BATCH_ROWS)
            result = streaming.execute(download.statement, download.values)
            rows = (r._mapping for r in result)
            yield from _WRITERS[download.format](download, rows, counter)
        outcome = "complete"
    except GeneratorExit:
        raise
    except Exception:
        outcome = "failed"
        log.exception("download of %s failed after %d rows", download.resource_code, counter.rows)
        raise
    finally:
        with transaction() as session:
            record(
                session,
                actor=download.actor,
                action="exchange.data.download_done",
                object_type="resource",
                object_id=download.resource_id,
                details={
                    "resource": download.resource_code,
                    "grant": download.grant_number,
                    "format": download.format,
                    "rows": counter.rows,
                    "outcome": outcome,
                    "download": download.download_id,
                },
            )
            record_use(
                session,
                actor=download.actor,
                grant=download.grant,
                kind=DOWNLOAD_KINDS[download.format],
                rows=counter.rows,
            )


Rows = Iterator[Mapping[str, Any]]


def _csv(download: Download, rows: Rows, counter: _Counter) -> Iterator[bytes]:
    """UTF-8 with a BOM (Excel opens it correctly only so), a header of data item names."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    mark = bool(download.verifying)
    writer.writerow([f.item for f in download.fields] + [MARK_HEADER] * mark)
    columns = [f.column for f in download.fields]
    for row in rows:
        values = ["" if (t := text_form(row[c])) is None else t for c in columns]
        if mark:
            values.append(MARK if download.marked(row) else "")
        writer.writerow(values)
        counter.rows += 1
        if buffer.tell() > CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _json_value(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def _jsonl(download: Download, rows: Rows, counter: _Counter) -> Iterator[bytes]:
    """One JSON object per line, keyed by column name like the query API."""
    columns = [f.column for f in download.fields]
    mark = bool(download.verifying)
    lines: list[str] = []
    size = 0
    for row in rows:
        values = {c: _json_value(row[c]) for c in columns}
        if mark:
            values["under_verification"] = download.marked(row)
        line = json.dumps(values, ensure_ascii=False) + "\n"
        lines.append(line)
        size += len(line)
        counter.rows += 1
        if size > CHUNK_BYTES:
            yield "".join(lines).encode()
            lines, size = [], 0
    yield "".join(lines).encode()


def _xlsx(download: Download, rows: Rows, counter: _Counter) -> Iterator[bytes]:
    """An Excel workbook written by openpyxl in write-only mode to a temporary file (a zip
    cannot be sent before it is finished), then streamed; a sheet per 1,048,575 rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    mark = bool(download.verifying)
    header = [f.item for f in download.fields] + [MARK_HEADER] * mark
    columns = [f.column for f in download.fields]
    sheet = None

    def cell(value: Any) -> Any:
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
            if value.startswith("="):  # data, never a formula
                text = WriteOnlyCell(sheet, value)
                text.data_type = "s"
                return text
        return value

    for row in rows:
        if counter.rows % XLSX_SHEET_ROWS == 0:
            sheet = workbook.create_sheet(
                "数据" if counter.rows == 0 else f"数据{counter.rows // XLSX_SHEET_ROWS + 1}"
            )
            sheet.append(header)
        values = [cell(row[c]) for c in columns]
        if mark:
            values.append(MARK if download.marked(row) else None)
        sheet.append(values)  # type: ignore[union-attr]
        counter.rows += 1
    if sheet is None:
        workbook.create_sheet("数据").append(header)
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="govshare-download-")
    os.close(handle)
    try:
        workbook.save(path)
        with open(path, "rb") as built:
            while chunk := built.read(CHUNK_BYTES):
                yield chunk
    finally:
        os.unlink(path)


_WRITERS: dict[str, Callable[[Download, Rows, _Counter], Iterator[bytes]]] = {
    "csv": _csv,
    "xlsx": _xlsx,
    "jsonl": _jsonl,
}
