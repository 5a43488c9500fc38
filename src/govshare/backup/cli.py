"""`govshare backup [--to DIR]`, `govshare backup verify PATH` and `govshare restore`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from govshare.backup import archive
from govshare.backup.archive import PART_LABELS, size_text
from govshare.core.cli_support import console_actor, err, fails_cleanly, say
from govshare.core.errors import ConfigError, Invalid

if TYPE_CHECKING:
    from govshare.core.runtime import Runtime

out = Console(highlight=False, soft_wrap=True)
app = typer.Typer(no_args_is_help=False, invoke_without_command=True)


@contextmanager
def _progress() -> Iterator[archive.Progress]:
    """A bar on stderr whose label follows the step under way."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # a bar, not lines of it in a cron job's mail
    ) as bar:
        task = bar.add_task("准备", total=None)
        yield lambda step, done, total: bar.update(
            task, description=step, completed=done, total=total
        )


@app.callback(invoke_without_command=True)
@fails_cleanly
def backup(
    ctx: typer.Context,
    to: Annotated[
        Path | None,
        typer.Option(
            "--to", help="写入备份的目录（应在另一块磁盘或另一台主机上）；默认 GOVSHARE_BACKUP_DIR"
        ),
    ] = None,
    keep: Annotated[
        int | None, typer.Option(help="写完后只保留该目录中最近的若干份备份，删除更早的")
    ] = None,
) -> None:
    """备份：平台数据库、数据资源中心、开放门户数据库、文件存储和密钥文件，附清单和校验和；校验备份。"""
    if ctx.invoked_subcommand is not None:
        return
    from govshare.backup.create import create, summary
    from govshare.core.runtime import get_runtime

    runtime = get_runtime()
    directory = to or runtime.settings.backup_dir
    if directory is None:
        raise Invalid("请用 --to 指定备份目录，或设置 GOVSHARE_BACKUP_DIR", field="to")
    with _progress() as progress:
        taken = create(runtime, actor=console_actor(), to=directory, keep=keep, progress=progress)
    out.print(f"已写入备份 {taken.path}", markup=False)
    for part, line in summary(taken.manifest).items():
        shown = f"  {PART_LABELS[part]}（{line['kind']}）："
        if "tables" in line:
            shown += f"{line['tables']} 张表 {line['rows']:,} 行，"
        out.print(shown + f"{line['files']} 个文件 {size_text(line['bytes'])}", markup=False)
    out.print(f"清单 SHA-256：{taken.manifest_sha256}（已记入审计日志）")
    for name in taken.removed:
        out.print(f"已删除较早的备份 {name}", markup=False)
    for warning in taken.warnings:
        say(f"注意：{warning}")


@app.command("verify")
@fails_cleanly
def verify(
    path: Annotated[Path, typer.Argument(help="备份目录（govshare-backup-…）")],
) -> None:
    """校验备份：清单是否完整，每个文件的大小和 SHA-256 是否相符；完整则退出码 0，否则指出第一个有问题的部分。"""
    with _progress() as progress:
        result = archive.verify(path, progress=progress)
    runtime = _platform_at_hand()
    if runtime is not None:
        from govshare.backup.audit import record_verification

        with runtime.transaction() as db_session:
            result = record_verification(
                db_session, actor=console_actor(), archive=path, result=result
            )
    if not result.ok:
        err.print(result.message, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(result.message, markup=False)


def _platform_at_hand() -> Runtime | None:
    """The configured platform, when its database is there and current (a verification is
    then recorded in its audit log); None where there is none, as on a bare machine."""
    from sqlalchemy.exc import DBAPIError

    from govshare.core import embedded, migrate
    from govshare.core.runtime import get_runtime
    from govshare.core.settings import get_settings

    try:
        path = embedded.database_file(get_settings())
    except ConfigError:
        return None
    if path is not None and not embedded.has_schema(path):
        return None
    runtime = get_runtime()
    try:
        return runtime if migrate.is_current(runtime.engine) else None
    except DBAPIError:
        return None


@fails_cleanly
def restore(
    path: Annotated[Path, typer.Argument(help="备份目录（govshare-backup-…）")],
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="恢复到的数据目录：须为空或尚不存在")
    ],
    database_url: Annotated[
        str | None,
        typer.Option(help="平台数据库：空的 PostgreSQL 数据库；默认数据目录中的 govshare.db"),
    ] = None,
    center_database_url: Annotated[
        str | None,
        typer.Option(
            help="数据资源中心：PostgreSQL 数据库（可与平台数据库相同）；默认数据目录中的 center.db"
        ),
    ] = None,
    portal_database_url: Annotated[
        str | None,
        typer.Option(
            help="开放门户数据库：另一个空的 PostgreSQL 数据库；默认数据目录中的 portal.db"
        ),
    ] = None,
) -> None:
    """从备份恢复到空的数据目录和空数据库：先校验备份，再恢复各部分，核对各表行数和审计链。"""
    from govshare.backup.restore import Target
    from govshare.backup.restore import restore as restore_backup

    target = Target.of(
        data_dir,
        database_url=database_url,
        center_database_url=center_database_url,
        portal_database_url=portal_database_url,
    )
    with _progress() as progress:
        done = restore_backup(path, target, actor=console_actor(), progress=progress)
    manifest = done.manifest
    out.print(f"已从备份 {manifest['name']}（创建于 {manifest['created_at']}）恢复", markup=False)
    for part in ("platform", "center", "portal"):
        tables = manifest["parts"][part]["tables"]
        out.print(
            f"  {PART_LABELS[part]}：{len(tables)} 张表 {sum(tables.values()):,} 行", markup=False
        )
    files = manifest["parts"]["files"]["files"]
    out.print(f"  {PART_LABELS['files']}：{len(files)} 个文件", markup=False)
    for note in done.notes:
        say(f"注意：{note}")
    out.print("以如下设置启动平台：")
    for name, value in target.settings(manifest).items():
        out.print(f"  {name}={value}", markup=False)
    if not done.audit_ok:
        err.print(done.audit, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(done.audit, markup=False)
