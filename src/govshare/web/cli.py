"""`govshare serve` and `govshare demo`."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from govshare.core import migrate
from govshare.core.cli_support import fails_cleanly
from govshare.core.errors import ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from govshare.core.policy import Profile
    from govshare.core.runtime import Runtime
    from govshare.demo.levels import Plan

out = Console(highlight=False)


@fails_cleanly
def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
    workers: Annotated[int, typer.Option(help="进程数（多进程共用同一数据库）")] = 1,
) -> None:
    """启动平台（网页和接口）。定时任务（库表同步、目录变更生效、共享提醒）由 govshare worker 执行。"""
    from govshare.core.runtime import get_runtime

    runtime = get_runtime()
    _require_current_schema(runtime.engine)
    warn_if_expired(runtime.profile)
    out.print(
        "定时任务（库表同步与推送、目录变更生效、共享提醒）由 govshare worker 执行，请另行启动"
    )
    with contextlib.ExitStack() as stack:
        if runtime.settings.federation_port:
            from govshare.federation.listener import listening

            settings = runtime.settings
            stack.enter_context(
                listening(runtime, settings.federation_host, settings.federation_port)
            )
            out.print(
                f"级联端口（双向 TLS）：{settings.federation_host}:{settings.federation_port}"
            )
        _run(host, port, workers)


def warn_if_expired(profile: Profile) -> None:
    """A log warning at start when the active profile's regulation is no longer in force."""
    from govshare.core import clock

    if warning := profile.expiry_warning(clock.today()):
        logging.getLogger("govshare.policy").warning(warning)


def _require_current_schema(engine: object) -> None:
    if not migrate.is_current(engine):  # type: ignore[arg-type]
        raise ConfigError("数据库结构不是最新版本，请先运行 govshare db upgrade")


def _run(host: str, port: int, workers: int, app: str | FastAPI = "govshare.web.main:app") -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
    )


@fails_cleanly
def demo(
    data_dir: Annotated[Path, typer.Option(help="示范城市的数据目录")] = Path("demo-city"),
    port: Annotated[int, typer.Option(help="端口")] = 8000,
    service_port: Annotated[
        int, typer.Option(help="演示企业信息服务（经网关发布的上游接口）的端口，0 为任一空闲端口")
    ] = 8001,
    build_only: Annotated[
        bool, typer.Option("--build-only", help="只创建示范数据，不启动服务")
    ] = False,
    no_levels: Annotated[
        bool,
        typer.Option("--no-levels", help="不创建、不启动与本市级联的省级和县级平台"),
    ] = False,
) -> None:
    """创建（仅首次）并启动示范城市：一个市、一个县、二十多个部门和各角色用户，以及数据交换和开放门户。

    另以独立进程启动与本市平台级联对接的省级平台和县级平台（--no-levels 则不启动）。"""
    if not os.environ.get("GOVSHARE_DATA_DIR"):
        os.environ["GOVSHARE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("GOVSHARE_POLICY_PROFILE", "shangrao")
    os.environ.setdefault("GOVSHARE_CITY_NAME", "江州市")
    from govshare import demo as demo_city
    from govshare.core.runtime import get_runtime
    from govshare.demo import exchange as exchange_demo
    from govshare.demo import levels as levels_demo
    from govshare.demo.identity import SIGN_INS

    levels = None
    if not no_levels:
        # The ports are remembered from the first build; the city's federation port is its
        # setting, as `govshare serve` would have it.
        levels = levels_demo.plan(
            Path(os.environ["GOVSHARE_DATA_DIR"]).expanduser().resolve(),
            free=port == 0,
            taken={port, service_port or exchange_demo.SERVICE_PORT},
        )
        os.environ["GOVSHARE_FEDERATION_PORT"] = str(levels.city_federation_port)
        os.environ["GOVSHARE_FEDERATION_HOST"] = levels_demo.HOST
    runtime = get_runtime()
    migrate.upgrade(runtime.engine)
    with out.status("正在创建示范城市…") as status:
        created = demo_city.build_city(
            runtime,
            service_url=exchange_demo.service_url(service_port or exchange_demo.SERVICE_PORT),
            progress=lambda label: status.update(f"正在创建示范城市：{label}…"),
        )
        if levels is not None:
            created |= levels_demo.build(
                runtime,
                levels,
                progress=lambda label: status.update(f"正在创建示范城市：{label}…"),
            )
    out.print(
        ("已创建" if created else "已存在") + f"示范城市，数据目录 {runtime.settings.data_dir}"
    )
    out.print(
        f"政策配置：{runtime.profile.city}（{runtime.profile.code}），可用 GOVSHARE_POLICY_PROFILE 切换"
    )
    if build_only:
        return
    from govshare.exchange.jobs import background_worker

    with contextlib.ExitStack() as stack:
        service_url = _start_demo_service(stack, service_port)
        stack.enter_context(background_worker(runtime))  # 立即同步 and the schedule, in-process
        exchange_demo.use_service(runtime, service_url)
        with runtime.transaction() as session:
            gateway_path = exchange_demo.gateway_path(session)
        out.print(
            f"\n打开 [bold]http://127.0.0.1:{port}/[/bold]  （接口文档 http://127.0.0.1:{port}/api/docs）"
        )
        out.print(f"示范账户（密码均为 [bold]{demo_city.DEMO_PASSWORD}[/bold]）：")
        for username, label in SIGN_INS:
            out.print(f"  {username:14} {label}")
        if gateway_path is not None:
            out.print("数据交换示范（数据已同步到数据资源中心）：")
            out.print(f"  {'mzj_officer':14} 市民政局：在线查询人口基础信息")
            out.print(f"  {'jyj_officer':14} 市教育局：查询流动人口居住登记（按授权筛选、脱敏）")
            out.print(
                f"  {'swj_officer':14} 市税务局：经网关调用企业信息服务（上游 {service_url}），如",
                soft_wrap=True,
            )
            out.print(f"  http://127.0.0.1:{port}{gateway_path}", soft_wrap=True)
        out.print(f"开放门户（公众，无需登录）：http://127.0.0.1:{port}{PORTAL_PATH}/")
        if levels is not None:
            stack.enter_context(levels_demo.serving(runtime, levels, report=out.print))
            _print_levels(levels, port)
        out.print("按 Ctrl+C 停止。\n")
        _run("127.0.0.1", port, 1, demo_app(runtime, port))


def _print_levels(levels: Plan, port: int) -> None:
    from govshare.demo import DEMO_PASSWORD
    from govshare.demo import levels as levels_demo

    out.print("省级和县级平台（各为独立进程和数据目录，与本市平台级联对接，启动后握手）：")
    out.print(
        f"  本市平台级联端口 {levels.city_federation_url}，"
        f"对接平台和级联消息见 http://127.0.0.1:{port}/federation",
        soft_wrap=True,
    )
    for node in levels.nodes.values():
        accounts = "、".join(f"{u} {label}" for u, label in levels_demo.sign_ins(node))
        out.print(
            f"  {node.name}：{node.url}/ 级联端口 {node.federation_url}，"
            f"数据目录 {node.data_dir}，日志 {node.log_file.name}",
            soft_wrap=True,
        )
        out.print(f"    账户（密码 {DEMO_PASSWORD}）：{accounts}", soft_wrap=True)


PORTAL_PATH = "/open"  # where the demo serves the open portal beside the platform


def demo_app(runtime: Runtime, port: int) -> FastAPI:
    """The platform with the open portal mounted under /open, as `govshare demo` serves them
    on one port. Only the demo does this: the platform's own app never imports the portal,
    and in production `govshare portal` serves it apart, on the internet side."""
    from govshare.portal.app import create_portal_app
    from govshare.portal.settings import PortalSettings
    from govshare.web.app import create_app

    app = create_app(runtime)
    portal = create_portal_app(
        PortalSettings(
            database_url=runtime.settings.portal_database_url,
            base_url=f"http://127.0.0.1:{port}{PORTAL_PATH}",
        )
    )
    app.mount(PORTAL_PATH, portal)
    return app


def _start_demo_service(stack: contextlib.ExitStack, port: int) -> str:
    """The demo company service in a background thread until the stack closes; its URL."""
    from govshare.exchange.demo_service import running_demo_service

    try:
        return stack.enter_context(running_demo_service(port=port))
    except RuntimeError:
        raise ConfigError(
            f"演示企业信息服务无法在端口 {port} 启动（可能已被占用），请用 --service-port 另选端口"
        ) from None
