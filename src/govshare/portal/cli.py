"""`govshare portal`: the open portal on the internet side, on its own database."""

from __future__ import annotations

from typing import Annotated

import typer

from govshare.core.cli_support import fails_cleanly


@fails_cleanly
def portal(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8080,
    workers: Annotated[int, typer.Option(help="进程数")] = 1,
) -> None:
    """启动开放门户（面向公众，部署在互联网区）：只连接开放门户数据库 GOVSHARE_PORTAL_DATABASE_URL。"""
    import uvicorn

    from govshare.portal.settings import PortalConfigError, load_portal_settings

    try:
        load_portal_settings()
    except PortalConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    uvicorn.run(
        "govshare.portal.main:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
    )
