"""`govshare supervision …`: the supervision jobs, for cron or by hand, and the notices from
the console."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from govshare.core.cli_support import console_actor, fails_cleanly
from govshare.core.runtime import get_runtime
from govshare.supervision import jobs
from govshare.supervision.service import notices

out = Console(highlight=False)
app = typer.Typer(help="监督考核：可用性探测、违规监测、整改通知和通报", no_args_is_help=True)


@app.command("probe")
@fails_cleanly
def probe() -> None:
    """探测已登记的服务接口和数据库连接是否可用（每小时定时执行）。"""
    out.print(jobs.probe(get_runtime(), actor=console_actor()))


@app.command("detect")
@fails_cleanly
def detect() -> None:
    """监测违规情形，对新发现的下发整改通知（每小时定时执行，可重复执行）。"""
    result = jobs.detect(get_runtime(), actor=console_actor())
    out.print(
        f"新发现违规 {len(result.found)} 项，仍存在 {result.kept} 项，已消除 {len(result.resolved)} 项；"
        f"下发整改通知 {len(result.issued)} 份"
    )


@app.command("escalate")
@fails_cleanly
def escalate() -> None:
    """对逾期未整改的整改通知予以通报（每小时定时执行，每份只通报一次）。"""
    out.print(jobs.escalate(get_runtime(), actor=console_actor()))


@app.command("notices")
@fails_cleanly
def list_notices(
    overdue: bool = typer.Option(False, "--overdue", help="只列逾期未整改的"),
) -> None:
    """列出整改通知及其期限。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        rows = notices.list_notices(db_session, actor=console_actor(), overdue=overdue)
        table = Table("通知编号", "部门", "违规情形", "期限", "状态", "通报编号")
        for notice in rows:
            table.add_row(
                notice.number,
                notice.department.name,
                notice.finding.kind.label,
                notices.deadline(notice).label,
                notice.state.label,
                notice.circular_number or "",
            )
    out.print(table if rows else "没有整改通知")
