"""CLI commands of the core: database, policy profile, audit log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.table import Table

from govshare.core import clock, migrate, policy
from govshare.core.audit import sequencer, signing
from govshare.core.audit import service as audit_service
from govshare.core.cli_support import console_actor, fails_cleanly, parse_date
from govshare.core.errors import Invalid
from govshare.core.runtime import get_runtime

out = Console(highlight=False)
db_app = typer.Typer(help="数据库结构迁移", no_args_is_help=True)
policy_app = typer.Typer(help="政策配置（各市规则参数）", no_args_is_help=True)
audit_app = typer.Typer(help="审计日志：校验、导出、清理", no_args_is_help=True)


@db_app.command("upgrade")
@fails_cleanly
def db_upgrade() -> None:
    """把数据库结构升级到最新版本。"""
    runtime = get_runtime()
    before = migrate.current(runtime.engine)
    migrate.upgrade(runtime.engine)
    after = migrate.current(runtime.engine)
    out.print(f"数据库 {runtime.engine.url.render_as_string()}: {before or '空'} → {after}")


@policy_app.command("show")
@fails_cleanly
def policy_show(
    code: Annotated[str | None, typer.Argument(help="配置代码；不填则显示当前生效的配置")] = None,
) -> None:
    """显示政策配置的每条规则及其出处。"""
    runtime = get_runtime()
    profile = policy.load_profile(code) if code else runtime.profile
    out.print(f"[bold]{profile.city}[/bold]（{profile.province}）  配置代码: {profile.code}")
    out.print(
        f"依据: {profile.regulation}" + (f"（{profile.issued_on}）" if profile.issued_on else "")
    )
    if period := profile.period_label():
        out.print(f"施行期间: {period}")
    if warning := profile.expiry_warning(clock.today()):
        Console(stderr=True).print(f"[bold red]警告：[/bold red]{warning}", highlight=False)
    table = Table("规则", "取值", "出处")
    for key, rule in profile.rules:
        shown = policy.describe_value(rule.value)
        source = "默认值" if rule.default else (rule.article or "")
        if rule.note:
            source += f"（{rule.note}）"
        table.add_row(policy.RULE_LABELS.get(key, key), shown, source)
    out.print(table)
    evaluation = profile.evaluation
    source = "默认值" if evaluation.default else (evaluation.article or "")
    indicators = Table(
        "考核指标",
        "权重",
        "计算方法",
        "出处",
        title=f"考核评价：{evaluation.evaluator}（{source}）",
    )
    for indicator in evaluation.indicators:
        cited = "默认值" if indicator.default else (indicator.article or "")
        if indicator.note:
            cited += f"（{indicator.note}）"
        indicators.add_row(indicator.name, f"{indicator.weight:g}", indicator.describe(), cited)
    out.print(indicators)


@policy_app.command("list")
@fails_cleanly
def policy_list() -> None:
    """列出随平台提供的政策配置。"""
    for code in policy.available_profiles():
        profile = policy.load_profile(code)
        out.print(f"{code:10} {profile.city}  {profile.regulation}")


@audit_app.command("verify")
@fails_cleanly
def audit_verify(
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            help="外部保存的检查点文件（govshare audit checkpoint 的输出），可发现链被回退或改写"
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="审计日志公钥文件（govshare audit public-key 的输出），用于核验签名检查点；"
            "不指定时使用本平台的公钥",
        ),
    ] = None,
) -> None:
    """校验审计链：完整则退出码 0，否则指出第一条被修改、删除、插入或久未排序的记录。"""
    points = _read_checkpoints(checkpoints) if checkpoints else ()
    runtime = get_runtime()
    # Without a key file, this platform's own public key checks the signatures.
    key = (
        _read_public_key(public_key)
        if public_key
        else signing.key_of(runtime.settings).public_key()
    )
    with runtime.transaction() as session:
        result = audit_service.verify(session, points, public_key=key)
    if result.ok:
        out.print(result.describe())
        return
    Console(stderr=True).print(result.describe(), markup=False)
    raise typer.Exit(1)


@audit_app.command("checkpoint")
@fails_cleanly
def audit_checkpoint(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="追加写入的文件（应存放在数据库主机之外）")
    ] = None,
) -> None:
    """输出当前审计链头的签名检查点（序号 哈希值 时间 密钥标识 签名）。

    定期保存到数据库之外，校验时用 --checkpoints 与 --public-key 比对。"""
    runtime = get_runtime()
    with runtime.transaction() as session:
        point = sequencer.signed_checkpoint(session, signing.key_of(runtime.settings))
    if output:
        with output.open("a", encoding="utf-8") as fh:
            fh.write(point.line() + "\n")
    out.print(point.line(), soft_wrap=True)


@audit_app.command("public-key")
@fails_cleanly
def audit_public_key(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="写入的文件")] = None,
) -> None:
    """输出审计日志的 Ed25519 公钥（PEM）：持有者无需数据库即可核验签名检查点。"""
    pem = signing.public_pem(signing.key_of(get_runtime().settings).public_key())
    if output:
        output.write_text(pem, encoding="utf-8")
    out.print(pem.rstrip(), soft_wrap=True)


@audit_app.command("sequence")
@fails_cleanly
def audit_sequence() -> None:
    """把已提交但尚未排序的审计记录立即排入审计链并签署检查点（通常由 govshare worker 持续进行）。"""
    runtime = get_runtime()
    with runtime.sessions() as session:
        count = sequencer.sequence_all(session, key=signing.key_of(runtime.settings))
        head = audit_service.checkpoint(session)
        session.commit()
    out.print(f"已排序 {count} 条审计记录；链头第 {head.seq} 条")


def _read_checkpoints(path: Path) -> tuple[audit_service.Checkpoint, ...]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise Invalid(f"无法读取检查点文件 {path}: {exc.strerror}", field="checkpoints") from None
    return tuple(
        audit_service.Checkpoint.parse(line, where=f"{path.name} 第 {n} 行")
        for n, line in enumerate(lines, 1)
        if line.strip() and not line.startswith("#")
    )


def _read_public_key(path: Path) -> Ed25519PublicKey:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise Invalid(f"无法读取公钥文件 {path}: {exc.strerror}", field="public_key") from None
    return signing.load_public_key(pem)


@audit_app.command("prune")
@fails_cleanly
def audit_prune(
    before: Annotated[
        str | None, typer.Option(help="只清理该日期（YYYY-MM-DD）之前的记录，不得晚于保留期起点")
    ] = None,
) -> None:
    """清理超过保留期的审计记录，保留锚点以便继续校验。"""
    runtime = get_runtime()
    months = runtime.profile.rules.audit_retention_months.value
    with runtime.transaction() as session:
        result = audit_service.prune(
            session,
            actor=console_actor(),
            retention_months=months,
            before=parse_date(before, "--before") if before else None,
        )
    out.print(f"已清理 {result.cutoff_on} 之前的审计记录 {result.removed} 条")


@audit_app.command("export")
@fails_cleanly
def audit_export(
    fmt: Annotated[str, typer.Option("--format", help="csv 或 jsonl")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="输出文件；默认标准输出")
    ] = None,
    since: Annotated[str | None, typer.Option(help="起始日期 YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="结束日期 YYYY-MM-DD")] = None,
    action: Annotated[str | None, typer.Option(help="操作，或以 . 结尾的前缀")] = None,
) -> None:
    """导出审计日志（CSV 或 JSON Lines）。"""
    criteria = audit_service.AuditFilter(
        action=action,
        since=parse_date(since, "--since") if since else None,
        until=parse_date(until, "--until") if until else None,
    )
    runtime = get_runtime()
    with runtime.transaction() as session:
        audit_service.start_export(session, actor=console_actor(), criteria=criteria, fmt=fmt)
    target = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        with runtime.transaction() as session:
            for chunk in audit_service.iter_export(session, criteria=criteria, fmt=fmt):
                target.write(chunk)
    finally:
        if output:
            target.close()
