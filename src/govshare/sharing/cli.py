"""`govshare sharing …`: the reminder job (for cron) and the overdue queue from the console."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from govshare.core.cli_support import console_actor, fails_cleanly
from govshare.core.runtime import get_runtime
from govshare.sharing import jobs
from govshare.sharing.service import deadlines

out = Console(highlight=False)
app = typer.Typer(help="资源共享：期限提醒、督办队列", no_args_is_help=True)


@app.command("remind")
@fails_cleanly
def remind() -> None:
    """发送临近期限和已超期提醒、授权到期提醒（每日定时执行，可重复执行，每条只发一次）。"""
    result = jobs.send_reminders(get_runtime())
    out.print(
        f"临近期限提醒 {result.reminded} 条，超期通知 {result.overdue} 条，"
        f"授权到期提醒 {result.expiring} 条"
    )


@app.command("queue")
@fails_cleanly
def queue() -> None:
    """列出所有待办环节及其期限（超期的在前）。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        rows = deadlines.queue(db_session, actor=console_actor())
        table = Table("申请编号", "环节", "办理单位", "期限", "剩余工作日", "状态")
        for row in rows:
            table.add_row(
                row.application.number,
                row.step.kind.label,
                row.step.organization.name if row.step.organization else "平台管理单位",
                deadlines.deadline(row.step).label,
                str(row.working_days_left),
                row.urgency.label,
            )
    out.print(table if rows else "没有待办环节")
