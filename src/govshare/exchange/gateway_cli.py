"""`govshare gateway …`: the gateway's (服务网关) data plane on nginx — its configuration,
its reload, and the ingestion of its access log (`exchange.gateway_nginx`,
`exchange.gateway_ingest`)."""

from __future__ import annotations

import getpass
import signal
import time
from pathlib import Path

import typer
from rich.console import Console

from govshare.core.cli_support import console_actor, fails_cleanly
from govshare.core.errors import ConfigError
from govshare.core.runtime import Runtime, get_runtime
from govshare.exchange import gateway_ingest, gateway_nginx
from govshare.exchange.gateway_auth import plane_key
from govshare.exchange.service import gateway_plane

out = Console(highlight=False)
app = typer.Typer(
    help="服务网关数据面（nginx）：生成配置、检查并重新加载、把访问日志记入调用日志和审计日志",
    no_args_is_help=True,
)


def _configure(runtime: Runtime, output: Path | None, site: bool) -> tuple[Path, str, int]:
    """Writes the configuration; (its path, its SHA-256, the interfaces it routes)."""
    settings = runtime.settings
    directory = gateway_ingest.plane_directory(runtime)
    with runtime.transaction() as db_session:
        plane = gateway_plane.data_plane(
            db_session, actor=console_actor(), default_rate_limit=settings.gateway_rate_limit
        )
    options = gateway_nginx.NginxOptions(
        listen=settings.gateway_nginx_listen,
        platform_url=settings.gateway_nginx_platform_url,
        key=plane_key(settings),
        directory=directory,
        access_log=gateway_ingest.access_log(runtime),
        default_rate_limit=settings.gateway_rate_limit,
        standalone=not site,
        user=getpass.getuser(),
    )
    target = output or directory / ("govshare-gateway.conf" if site else "nginx.conf")
    digest = gateway_nginx.write(gateway_nginx.render(plane, options), target, directory)
    return target, digest, len(plane.interfaces)


@app.command("config")
@fails_cleanly
def config(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="写入的文件（默认数据面目录下的 nginx.conf）"
    ),
    site: bool = typer.Option(
        False, "--site", help="只生成 http {} 内的部分，供系统 nginx 的 conf.d 引用"
    ),
) -> None:
    """按已登记的服务接口生成 nginx 数据面配置。"""
    target, digest, count = _configure(get_runtime(), output, site)
    out.print(f"已生成 {target}：{count} 个服务接口（SHA-256 {digest[:12]}…）")


@app.command("reload")
@fails_cleanly
def reload(
    output: Path | None = typer.Option(None, "--output", "-o", help="配置文件（同 config）"),
    site: bool = typer.Option(False, "--site", help="只生成 http {} 内的部分"),
) -> None:
    """重新生成配置，用 nginx -t 检查后重新加载 nginx（记入审计日志）。"""
    runtime = get_runtime()
    target, digest, count = _configure(runtime, output, site)
    directory = gateway_ingest.plane_directory(runtime)
    test, apply = gateway_nginx.reload_commands(
        runtime.settings.gateway_nginx_command, target, directory
    )
    for argv in (test, apply):
        try:
            done = gateway_nginx.run(argv)
        except FileNotFoundError:
            raise ConfigError(f"找不到 nginx 命令：{argv[0]}（请安装 nginx）") from None
        if done.returncode != 0:
            said = " ".join(done.stderr.split())  # nginx's lines, as one line
            if "-s" in argv and "nginx.pid" in said:
                raise ConfigError(
                    f"nginx 未在运行，无法重新加载：请先启动 {' '.join(test[: test.index('-t')])}"
                )
            raise ConfigError(f"{' '.join(argv)} 失败：{said[-500:]}")
    with runtime.transaction() as db_session:
        gateway_plane.record_reload(
            db_session,
            actor=console_actor(),
            config_path=str(target),
            digest=digest,
            interfaces=count,
        )
    out.print(f"nginx 已重新加载：{count} 个服务接口")


@app.command("ingest")
@fails_cleanly
def ingest(
    log: Path | None = typer.Option(
        None, "--log", help="访问日志（默认数据面目录下的 access.log）"
    ),
    batch: int = typer.Option(gateway_ingest.BATCH, "--batch", min=1, max=10000, help="每批行数"),
    follow: bool = typer.Option(False, "--follow", help="持续读取新写入的日志，按 Ctrl+C 停止"),
    interval: float = typer.Option(1.0, "--interval", min=0.05, help="持续读取时的间隔秒数"),
) -> None:
    """把 nginx 数据面访问日志中尚未记录的调用写入调用日志和审计日志（从上次停下的位置继续）。"""
    runtime = get_runtime()
    stop = {"now": False}

    def interrupted(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, interrupted)
    total = 0
    while True:
        try:
            done = gateway_ingest.ingest(runtime, log, batch=batch)
        except KeyboardInterrupt:
            break
        total += done.calls
        if done.malformed:
            out.print(f"跳过 {done.malformed} 行无法识别的日志")
        if not follow or stop["now"]:
            break
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            break
    out.print(f"已记录 {total} 次调用")
