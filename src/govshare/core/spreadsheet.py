"""Text written into files people open in a spreadsheet (CSV, Excel): text starting with a
formula character would run as a formula there (CSV injection), so CSV cells get a leading
apostrophe and Excel cells are typed as text."""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """`value` safe for a CSV cell: text that a spreadsheet would run is quoted."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def text_cells(row: Any) -> None:
    """Types the text cells of an openpyxl row as text, so none runs as a formula."""
    for cell in row:
        if isinstance(cell.value, str):
            cell.data_type = "s"
