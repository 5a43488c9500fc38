"""Text that people put into the platform stays text in the spreadsheets it exports: a name
starting with "=" is never run as a formula (CSV injection)."""

from __future__ import annotations

import csv
import io
from datetime import date

from openpyxl import load_workbook

from govshare.core.spreadsheet import csv_cell
from govshare.supervision import ledger_export
from govshare.supervision.service import ledgers

ATTACK = '=HYPERLINK("http://evil.example/","点此")'


def test_a_csv_cell_that_would_run_is_quoted_and_others_are_kept() -> None:
    assert [csv_cell(v) for v in (ATTACK, "+1", "-1", "@SUM(A1)", "市公安局", 3, None)] == [
        "'" + ATTACK,
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "市公安局",
        3,
        None,
    ]
    out = io.StringIO()
    csv.writer(out).writerow([csv_cell(ATTACK)])
    assert next(csv.reader(io.StringIO(out.getvalue())))[0].startswith("'=")


def test_a_department_named_like_a_formula_stays_text_in_the_ledger_workbook() -> None:
    ledger = ledgers.Ledger(date(2026, 9, 1), date(2026, 10, 1), [ledgers.Row(1, ATTACK)])
    content = ledger_export.month_workbook(ledger)
    book = load_workbook(io.BytesIO(content))
    labels = [c for c in book.active["A"] if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert labels and all(c.data_type == "s" for c in labels)
