"""`govshare catalog …`: the daily job that makes announced catalog changes effective, and
(per topic) import, export and search from the console."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console

from govshare.catalog.service import resources
from govshare.cli import fails_cleanly
from govshare.core.cli import console_actor
from govshare.core.runtime import get_runtime

out = Console(highlight=False)
app = typer.Typer(help="资源目录：到期变更、导入导出、检索", no_args_is_help=True)


@app.command("apply-due")
@fails_cleanly
def apply_due(
    today: Annotated[
        date | None, typer.Option(help="按此日期执行（默认今天）", formats=["%Y-%m-%d"])
    ] = None,
) -> None:
    """使到期的目录更新和下架生效（每日定时执行，可重复执行）。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        result = resources.apply_due_changes(
            db_session, actor=console_actor(), today=today.date() if today else None
        )
    out.print(f"发布新版本 {len(result.published)} 个，下架资源 {len(result.retired)} 个")
    for line in result.published:
        out.print(f"  发布 {line}")
    for code in result.retired:
        out.print(f"  下架 {code}")
