"""`govshare catalog …`: the daily job that makes announced catalog changes effective, and
(per topic) import, export and search from the console."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.orm import Session

from govshare.catalog.service import indexing, retirements, spreadsheet_export, spreadsheet_import
from govshare.catalog.workbook import MAX_BYTES
from govshare.core.cli_support import console_actor, err, fails_cleanly
from govshare.core.errors import Invalid
from govshare.core.permissions import Actor
from govshare.core.runtime import get_runtime
from govshare.identity import service as identity_service

out = Console(highlight=False)
app = typer.Typer(help="资源目录：到期变更、导入导出、检索", no_args_is_help=True)


@app.command("apply-due")
@fails_cleanly
def apply_due(
    today: Annotated[
        date | None, typer.Option(help="按此日期执行（默认今天）", formats=["%Y-%m-%d"])
    ] = None,
) -> None:
    """使到期的目录更新和下架生效（每日定时执行，可重复执行；可补执行过去的日期，不能提前）。"""
    day = today.date() if isinstance(today, datetime) else today
    runtime = get_runtime()
    try:
        with runtime.transaction() as db_session:
            result = retirements.apply_due_changes(db_session, actor=console_actor(), today=day)
    except Invalid as exc:  # one line, however narrow the terminal
        err.print(f"错误: {exc.message}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out.print(f"发布新版本 {len(result.published)} 个，下架资源 {len(result.retired)} 个")
    for line in result.published:
        out.print(f"  发布 {line}")
    for code in result.retired:
        out.print(f"  下架 {code}")


# --- spreadsheets (CAT-8) ----------------------------------------------------------------


def _organization_id(db_session: Session, actor: Actor, ref: str | None) -> int | None:
    """The organisation named by its credit code, number or full name."""
    if not ref:
        return None
    ref = ref.strip()
    for org in identity_service.list_organizations(db_session, actor=actor):
        if ref.upper() == org.uscc or ref == str(org.id) or ref in (org.name, org.short_name):
            return org.id
    raise Invalid(f"找不到单位“{ref}”（可填统一社会信用代码、编号或全称）", field="organization")


@app.command("export")
@fails_cleanly
def export(
    file: Annotated[Path, typer.Argument(help="导出到此文件", dir_okay=False)],
    organization: Annotated[
        str | None, typer.Option(help="只导出该部门：统一社会信用代码、编号或全称")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="xlsx、csv 或 json（默认按文件扩展名）")
    ] = None,
) -> None:
    """导出资源目录（已发布资源的现行版本及其信息项）：全市或某一部门。"""
    runtime = get_runtime()
    chosen = (fmt or file.suffix.lstrip(".") or "xlsx").lower()
    with runtime.transaction() as db_session:
        actor = console_actor()
        found = spreadsheet_export.export_catalog(
            db_session,
            actor=actor,
            organization_id=_organization_id(db_session, actor, organization),
            fmt=chosen,
            city_name=runtime.city_name,
        )
        file.write_bytes(found.content)  # inside the transaction: audited only if written
    out.print(f"已导出 {found.resources} 个资源到 {file}")


@app.command("template")
@fails_cleanly
def template(
    file: Annotated[Path, typer.Argument(help="模板保存到此文件", dir_okay=False)],
) -> None:
    """生成资源目录导入模板（Excel）。"""
    file.write_bytes(spreadsheet_import.template())
    out.print(f"已生成导入模板 {file}")


@app.command("import")
@fails_cleanly
def import_(
    file: Annotated[Path, typer.Argument(help="按模板填写的 .xlsx 文件", dir_okay=False)],
    publish: Annotated[
        bool, typer.Option("--publish", help="导入即发布，沿用文件中的资源代码和发布日期")
    ] = False,
    organization: Annotated[
        str | None, typer.Option(help="只导入该部门的资源：统一社会信用代码、编号或全称")
    ] = None,
) -> None:
    """导入资源目录：逐行逐格检查，有任何错误则整份不导入并列出每处错误。"""
    if not file.is_file():
        raise Invalid(f"文件 {file} 不存在", field="file")
    if file.stat().st_size > MAX_BYTES:
        raise Invalid(f"文件超过 {MAX_BYTES // 1024 // 1024} MB，请分批导入", field="file")
    runtime = get_runtime()
    try:
        with runtime.transaction() as db_session, Progress(console=err, transient=True) as bar:
            task = bar.add_task("导入资源", total=None)
            actor = console_actor()
            result = spreadsheet_import.import_catalog(
                db_session,
                actor=actor,
                content=file.read_bytes(),
                rules=runtime.profile.rules,
                organization_id=_organization_id(db_session, actor, organization),
                publish=publish,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except Invalid as exc:
        errors = exc.extra.get("errors")
        if not errors:
            raise
        for e in errors:
            line = f"{e['sheet']} 第 {e['row']} 行 {e['column']}: {e['message']}"
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        err.print(f"错误: {exc.message}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    state = "已发布" if result.published else "草稿，待提交审核"
    out.print(f"已导入 {result.resources} 个资源、{result.items} 个信息项（{state}）")
    for code in result.codes:
        out.print(f"  {code}")


@app.command("reindex")
@fails_cleanly
def reindex() -> None:
    """重建资源目录检索索引（数据库升级后，或检索结果与目录不一致时执行）。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session, Progress(console=err, transient=True) as bar:
        task = bar.add_task("重建检索索引", total=None)
        count = indexing.reindex_all(
            db_session,
            actor=console_actor(),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    out.print(f"已重建检索索引：{count} 个已发布资源")
