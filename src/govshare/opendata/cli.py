"""`govshare opendata …`: publish the open data to the portal, list the releases, and carry
the public's applications and data requests between the portal and the platform."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from govshare.core import clock
from govshare.core.cli_support import console_actor, fails_cleanly
from govshare.core.runtime import get_runtime
from govshare.opendata import jobs, service
from govshare.opendata.service import public, requests

out = Console(highlight=False)
app = typer.Typer(
    help="资源开放：发布到开放门户、开放发布清单、开放申请和数据开放需求", no_args_is_help=True
)


@app.command("publish")
@fails_cleanly
def publish(
    force: bool = typer.Option(False, "--force", help="全部重新发布，不论是否有变化"),
) -> None:
    """把已确认开放的数据发布到开放门户数据库（单向），撤下已撤回或已下架的数据集。"""
    with out.status("正在发布开放数据…") as status:
        report = jobs.publish(
            get_runtime(),
            actor=console_actor(),
            force=force,
            progress=lambda code: status.update(f"正在发布开放数据：{code}…"),
        )
    out.print(
        f"发布 {len(report.published)} 个，撤下 {len(report.removed)} 个，"
        f"无变化 {report.unchanged} 个"
    )
    for problem in report.problems:
        out.print(f"[red]未能发布[/red] {problem}")
    if report.problems:
        raise typer.Exit(1)


@app.command("releases")
@fails_cleanly
def releases() -> None:
    """列出开放发布（开放范围、保密审查、确认情况）。"""
    with get_runtime().transaction() as db_session:
        rows = service.list_releases(db_session, actor=console_actor())
        table = Table("编号", "资源代码", "资源名称", "提供部门", "状态", "开放属性", "已发布行数")
        for r in rows:
            found = service.describe(r)
            table.add_row(
                str(r.id),
                found["resource_code"],
                found["resource_name"],
                found["provider"],
                r.state.label,
                r.open_type.label,
                "" if r.published_rows is None else str(r.published_rows),
            )
    out.print(table)


@app.command("applications")
@fails_cleanly
def applications(
    overdue: bool = typer.Option(False, "--overdue", help="只列出超过答复期限的"),
) -> None:
    """受理开放门户上新提交的有条件开放申请、送达已答复的，并列出开放申请及其答复期限。"""
    runtime = get_runtime()
    done = jobs.applications(runtime)
    out.print(
        f"新受理开放申请 {done.applications_received} 件，送达答复 {done.answers_delivered} 件；"
        f"新受理数据开放需求 {done.requests_received} 件，送达答复 {done.request_answers_delivered} 件"
    )
    with runtime.transaction() as db_session:
        rows = public.list_applications(db_session, actor=console_actor(), overdue=overdue)
        table = Table("编号", "资源代码", "申请人", "提交时间", "答复期限", "状态")
        for a in rows:
            due = a.due_on.isoformat() + ("（暂定）" if a.due_provisional else "")
            table.add_row(
                a.number,
                a.resource.code,
                a.applicant_name,
                clock.to_city(a.submitted_at).strftime("%Y-%m-%d %H:%M"),
                due,
                a.state.label,
            )
    out.print(table)


@app.command("requests")
@fails_cleanly
def data_requests() -> None:
    """受理开放门户上新提出的数据开放需求、送达分派和答复，并列出数据开放需求。"""
    runtime = get_runtime()
    done = jobs.applications(runtime)
    out.print(
        f"新受理数据开放需求 {done.requests_received} 件，送达 {done.request_answers_delivered} 件"
    )
    with runtime.transaction() as db_session:
        rows = requests.list_requests(db_session, actor=console_actor())
        table = Table("编号", "需求", "承办部门", "答复期限", "状态")
        for r in rows:
            due = ""
            if r.due_on is not None:
                due = r.due_on.isoformat() + ("（暂定）" if r.due_provisional else "")
            table.add_row(
                r.number,
                r.title,
                r.organization.name if r.organization else "",
                due,
                r.state.label,
            )
    out.print(table)
