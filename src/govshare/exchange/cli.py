"""`govshare worker` and `govshare exchange …`: the job worker, and syncs from the console
with a progress bar."""

from __future__ import annotations

import threading

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from govshare.catalog.models import Resource
from govshare.core.cli_support import console_actor, fails_cleanly
from govshare.core.errors import NotFound
from govshare.core.runtime import get_runtime
from govshare.exchange import jobs
from govshare.exchange.models import RunKind, RunState, SyncRun
from govshare.exchange.service import bindings, run_execution, run_views, runs, source_directories

out = Console(highlight=False)
app = typer.Typer(help="数据交换：库表同步、同步记录", no_args_is_help=True)


@fails_cleanly
def worker(
    workers: int = typer.Option(2, "--workers", min=1, max=32, help="并行执行的任务数"),
) -> None:
    """启动任务工作进程：按更新周期同步库表、推送前置库，执行目录变更生效、共享提醒等定时任务（可在多台服务器上各启动一个）。"""
    out.print(f"工作进程启动，并行任务数 {workers}；按 Ctrl+C 停止")
    jobs.run_worker(get_runtime(), workers=workers)


@app.command("sync")
@fails_cleanly
def sync(
    code: str = typer.Argument(..., help="资源代码"),
    kind: RunKind = typer.Option(
        RunKind.INCREMENTAL, "--kind", help="full / incremental / compare"
    ),
) -> None:
    """立即在本进程中同步一个库表资源到数据资源中心，显示进度。"""
    runtime = get_runtime()
    actor = console_actor()
    with runtime.transaction() as db_session:
        resource = db_session.execute(
            select(Resource).where(Resource.code == code)
        ).scalar_one_or_none()
        binding = bindings.binding_of_resource(db_session, resource.id) if resource else None
        if binding is None:
            raise NotFound(f"资源 {code} 没有绑定源表")
        run = runs.request_run(db_session, actor=actor, binding_id=binding.id, kind=kind)
        run_id = run.id
    done = threading.Event()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} 行"),
        TimeElapsedColumn(),
        console=out,
    ) as progress:
        task = progress.add_task(f"同步 {code}", total=None)

        def watch() -> None:
            while not done.wait(0.5):
                with runtime.transaction() as db_session:
                    read = db_session.get(SyncRun, run_id)
                    progress.update(task, completed=read.rows_read if read else 0)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        result = run_execution.execute_run(
            runtime.sessions, settings=runtime.settings, center=runtime.center, run_id=run_id
        )
        done.set()
        watcher.join()
        if result is not None:
            progress.update(task, completed=result.rows_read)
    if result is None or result.state is not RunState.SUCCEEDED:
        raise typer.Exit(_failed(result))
    out.print(
        f"{result.kind.label}完成：读取 {result.rows_read:,} 行，写入 {result.rows_written:,} 行，"
        f"删除 {result.rows_deleted:,} 行，拒收 {result.rows_rejected:,} 行，"
        f"用时 {result.seconds or 0:.1f} 秒，校验和 {result.checksum[:16]}…"
    )


def _failed(run: SyncRun | None) -> int:
    message = "同步任务已被其他工作进程领取" if run is None else f"同步失败：{run.error}"
    Console(stderr=True, highlight=False).print(message, markup=False)
    return 1


@app.command("source-dir")
@fails_cleanly
def source_dir(
    organization_id: int = typer.Argument(..., help="单位编号（govshare org list）"),
    path: str = typer.Argument(..., help="平台数据目录之下的相对路径，如 sources/gaj"),
) -> None:
    """为单位分配源库目录：该单位登记的 SQLite 源库文件只能放在其中。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        assigned = source_directories.assign_source_directory(
            db_session,
            actor=console_actor(),
            settings=runtime.settings,
            organization_id=organization_id,
            path=path,
        )
        out.print(
            f"已为 {assigned.organization.name} 分配源库目录 "
            f"{runtime.settings.data_dir / assigned.path}",
            markup=False,
        )


@app.command("runs")
@fails_cleanly
def list_runs(limit: int = typer.Option(20, "--limit", min=1, max=500)) -> None:
    """最近的同步记录。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        found = run_views.list_runs(db_session, actor=console_actor(), limit=limit)
        table = Table("编号", "对象", "方式", "状态", "读取", "写入", "删除", "拒收", "用时(秒)")
        for run in found:
            target = run.binding.resource.code if run.binding else f"推送 #{run.push_id}"
            table.add_row(
                str(run.id),
                target,
                run.kind.label,
                run.state.label,
                f"{run.rows_read:,}",
                f"{run.rows_written:,}",
                f"{run.rows_deleted:,}",
                f"{run.rows_rejected:,}",
                f"{run.seconds:.1f}" if run.seconds is not None else "",
            )
    out.print(table if found else "还没有同步记录")
