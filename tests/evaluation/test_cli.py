"""`govshare evaluation compute|publish|export` from the console."""

from __future__ import annotations

from openpyxl import load_workbook

from govshare.core import clock
from govshare.core.runtime import get_runtime
from tests.builders import organization
from tests.conftest import Cli


def test_compute_publish_and_export_from_the_console(govshare_cli: Cli) -> None:
    with get_runtime().transaction() as db:
        organization(db, "市统计局")
    computed = govshare_cli("evaluation", "compute", "--period", "2026-Q4")
    assert computed.exit_code == 0, computed.output
    assert "市统计局" in computed.output and "未发布" in computed.output
    bad = govshare_cli("evaluation", "compute", "--period", "2026-Q5")
    assert bad.exit_code == 2 and "考核期格式" in bad.output
    early = govshare_cli("evaluation", "publish", "2026")
    assert early.exit_code == 2 and "尚未结束" in early.output
    with clock.frozen("2027-01-11T10:00:00+08:00"):
        published = govshare_cli("evaluation", "publish", "2026")
        assert published.exit_code == 0, published.output
        again = govshare_cli("evaluation", "publish", "2026")
        assert again.exit_code == 2 and "已经发布" in again.output
    target = govshare_cli.data_dir / "report.xlsx"
    written = govshare_cli("evaluation", "export", str(target), "--period", "2026")
    assert written.exit_code == 0, written.output
    book = load_workbook(target)
    assert "市统计局" in [row[1] for row in book["市直部门"].iter_rows(min_row=4, values_only=True)]
    wrong = govshare_cli("evaluation", "export", str(govshare_cli.data_dir / "report.doc"))
    assert wrong.exit_code == 2 and ".xlsx 或 .pdf" in wrong.output
