"""The ledgers as a workbook: the table the page shows, with its grouped header, one sheet
per view (a month of every department, or a department's months of a year)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from itertools import groupby

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from govshare.core.spreadsheet import text_cells
from govshare.supervision.service.ledgers import COLUMNS, KEYS, Ledger, Row

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOLD = Font(bold=True)


def _sheet(
    book: Workbook, title: str, first: str, lines: Sequence[tuple[str, dict[str, int]]]
) -> None:
    sheet = book.create_sheet(title)
    sheet.append([first, *(c.group for c in COLUMNS)])
    column = 2
    for _group, members in groupby(COLUMNS, key=lambda c: c.group):
        width = len(list(members))
        if width > 1:
            sheet.merge_cells(
                start_row=1, start_column=column, end_row=1, end_column=column + width - 1
            )
        column += width
    sheet.merge_cells(start_row=1, start_column=1, end_row=2, end_column=1)
    sheet.append(["", *(c.label for c in COLUMNS)])
    for cell in (*sheet[1], *sheet[2]):
        cell.font = BOLD
        cell.alignment = Alignment(horizontal="center", vertical="center")
    for label, figures in lines:
        sheet.append([label, *(figures[key] for key in KEYS)])
        text_cells(sheet[sheet.max_row])
    sheet.column_dimensions["A"].width = 28
    sheet.freeze_panes = "B3"


def _bytes(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def month_workbook(ledger: Ledger) -> bytes:
    """A month's ledger: a row per department and the totals."""
    book = Workbook()
    book.remove(book.active)
    lines = [(r.department, r.figures) for r in ledger.rows]
    _sheet(book, ledger.first.strftime("%Y-%m"), "部门", [*lines, ("合计", ledger.totals)])
    return _bytes(book)


def year_workbook(department: str, year: int, months: Sequence[tuple[date, Row]]) -> bytes:
    """A department's months of `year` and their sum."""
    book = Workbook()
    book.remove(book.active)
    lines = [(first.strftime("%Y-%m"), row.figures) for first, row in months]
    total = {key: sum(row.figures[key] for _, row in months) for key in KEYS}
    _sheet(book, f"{department[:20]} {year}", "月份", [*lines, (f"{year} 年合计", total)])
    return _bytes(book)
