"""`govshare federation …` from the server's console: this platform's identity and peers
(init, identity, peer-add, peers, hello, suspend, resume, messages), the catalogs along the
levels (sync-catalogs, catalog-edition) and requests to the level above (forward, pull)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from govshare.core.cli_support import console_actor, fails_cleanly, read_text
from govshare.core.errors import Conflict, Invalid
from govshare.core.runtime import get_runtime
from govshare.federation import service as federation
from govshare.federation import transport
from govshare.federation.models import KIND_LABELS, PeerState, PlatformLevel
from govshare.pki import service as pki

out = Console(highlight=False, soft_wrap=True)
app = typer.Typer(help="级联对接：本平台身份、上下级对接平台、级联消息", no_args_is_help=True)


@app.command("init")
@fails_cleanly
def init(
    code: Annotated[str, typer.Option(help="本平台所在地的行政区划代码（6 位）")],
    url: Annotated[
        str, typer.Option(help="对接平台访问本平台级联端口的地址，如 https://host:8443")
    ],
    level: Annotated[PlatformLevel, typer.Option(help="本平台层级")] = PlatformLevel.CITY,
    name: Annotated[str, typer.Option(help="平台名称；默认为城市名加“政务数据共享平台”")] = "",
    organization_id: Annotated[
        int | None, typer.Option(help="平台管理单位的组织编号；默认为平台运营账户所在单位")
    ] = None,
) -> None:
    """设置本平台的级联身份，并由本平台证书签发机构签发平台证书（再次运行则更换证书）。"""
    from govshare.supervision.detectors import platform_unit

    runtime = get_runtime()
    with runtime.transaction() as db_session:
        unit = organization_id or platform_unit(db_session)
        if unit is None:
            raise Conflict(
                "找不到平台管理单位：请用 --organization-id 指定，或先建立平台运营账户",
                field="organization_id",
            )
        own = federation.init_identity(
            db_session,
            actor=console_actor(),
            settings=runtime.settings,
            validity_days=runtime.profile.rules.certificate_validity_days.value,
            organization_id=unit,
            code=code,
            name=name or f"{runtime.city_name}政务数据共享平台",
            level=level,
            url=url,
        )
        out.print(
            f"本平台：{own.name}（{own.level.label}，代码 {own.code}），级联地址 {own.url}；"
            f"平台证书 {own.certificate.serial}，有效期至 {own.certificate.not_after:%Y-%m-%d}"
        )
        out.print("请将本平台 CA 证书（govshare federation identity --ca）交对接平台的运营方")


@app.command("identity")
@fails_cleanly
def show_identity(
    ca: Annotated[bool, typer.Option("--ca", help="只输出本平台 CA 证书（信任锚，PEM）")] = False,
) -> None:
    """本平台的级联身份和信任锚（CA 证书）。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        anchor = pki.ca_certificate(db_session)
        if ca:
            if anchor is None:
                raise Conflict("平台尚未建立证书签发机构，请先运行 govshare pki init", field="ca")
            out.print(anchor, end="")
            return
        own = federation.required_identity(db_session)
        out.print(f"{own.name}（{own.level.label}，代码 {own.code}）级联地址 {own.url}")
        out.print(
            f"平台证书序列号 {own.certificate.serial}，有效期至 {own.certificate.not_after:%Y-%m-%d}"
        )


@app.command("peer-add")
@fails_cleanly
def peer_add(
    code: Annotated[str, typer.Option(help="对接平台的行政区划代码")],
    name: Annotated[str, typer.Option(help="对接平台名称")],
    level: Annotated[PlatformLevel, typer.Option(help="对接平台层级")],
    url: Annotated[str, typer.Option(help="对接平台的级联地址，如 https://host:8443")],
    anchor: Annotated[Path, typer.Option(help="对接平台的 CA 证书（信任锚，PEM 文件）")],
    hello: Annotated[bool, typer.Option(help="添加后立即握手并交换证书吊销列表")] = True,
) -> None:
    """与上级或下级平台对接：信任其 CA 证书。对方也须添加本平台，双方才能互通。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        peer = federation.add_peer(
            db_session,
            actor=console_actor(),
            code=code,
            name=name,
            level=level,
            url=url,
            anchor_pem=read_text(anchor, "anchor"),
        )
        peer_id, label = peer.id, f"{peer.name}（{peer.relation.label}，代码 {peer.code}）"
    out.print(f"已对接 {label}")
    if hello:
        _hello(runtime, peer_id)


def _hello(runtime: object, peer_id: int) -> None:
    try:
        reply = transport.greet(runtime, peer_id=peer_id, actor=console_actor())  # type: ignore[arg-type]
    except transport.PeerUnavailable as exc:
        out.print(
            f"[yellow]握手未成功：{exc.message}[/yellow]（对方添加本平台后可再运行 govshare federation hello）"
        )
        return
    out.print(f"握手成功：{reply.body.get('name')}，消息编号 {reply.message_id}")


@app.command("hello")
@fails_cleanly
def hello(code: Annotated[str, typer.Argument(help="对接平台代码")]) -> None:
    """与对接平台握手，交换身份和证书吊销列表。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        peer = federation.peer_by_code(db_session, code)
        if peer is None:
            raise Invalid(f"代码为 {code} 的平台未对接", field="code")
        peer_id = peer.id
    _hello(runtime, peer_id)


@app.command("peers")
@fails_cleanly
def peers() -> None:
    """对接平台清单。"""
    runtime = get_runtime()
    table = Table("编号", "代码", "名称", "关系", "地址", "状态", "最近通信")
    with runtime.transaction() as db_session:
        for peer in federation.list_peers(db_session, actor=console_actor()):
            table.add_row(
                str(peer.id),
                peer.code,
                peer.name,
                peer.relation.label,
                peer.url,
                peer.state.label,
                f"{peer.last_contact_at:%Y-%m-%d %H:%M}" if peer.last_contact_at else "—",
            )
    out.print(table)


def _set_state(code: str, state: PeerState, reason: str) -> None:
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        peer = federation.peer_by_code(db_session, code)
        if peer is None:
            raise Invalid(f"代码为 {code} 的平台未对接", field="code")
        federation.set_peer_state(
            db_session, actor=console_actor(), peer_id=peer.id, state=state, reason=reason
        )
        out.print(f"“{peer.name}”：{state.label}")


@app.command("suspend")
@fails_cleanly
def suspend(
    code: Annotated[str, typer.Argument(help="对接平台代码")],
    reason: Annotated[str, typer.Option(help="原因")],
) -> None:
    """暂停与对接平台的交换（双向消息均被拒绝）。"""
    _set_state(code, PeerState.SUSPENDED, reason)


@app.command("resume")
@fails_cleanly
def resume(
    code: Annotated[str, typer.Argument(help="对接平台代码")],
    reason: Annotated[str, typer.Option(help="原因")],
) -> None:
    """恢复与对接平台的交换。"""
    _set_state(code, PeerState.ACTIVE, reason)


@app.command("messages")
@fails_cleanly
def messages(
    message_id: Annotated[str, typer.Option(help="按消息编号查找")] = "",
    limit: Annotated[int, typer.Option(help="条数")] = 50,
) -> None:
    """级联消息记录（双方以同一消息编号记录）。"""
    runtime = get_runtime()
    table = Table("时间", "消息编号", "方向", "对接平台", "类型", "结果", "说明")
    with runtime.transaction() as db_session:
        for row in federation.list_messages(
            db_session, actor=console_actor(), message_id=message_id, limit=limit
        ):
            table.add_row(
                f"{row.at:%Y-%m-%d %H:%M:%S}",
                row.message_id,
                row.direction.label,
                row.peer.name if row.peer else "—",
                KIND_LABELS.get(row.kind, row.kind),
                row.outcome.label,
                row.error or "",
            )
    out.print(table)


# --- requests to the level above (SHR-8) -----------------------------------------------------


@app.command("forward")
@fails_cleanly
def forward(
    resource: Annotated[str, typer.Option(help="只报送该上级资源代码的申请；默认报送全部")] = "",
) -> None:
    """将预审通过的上级资源申请按上级资源汇总，每个资源一份整体授权申请报送上级平台。"""
    from govshare.federation import requests

    runtime = get_runtime()
    actor = console_actor()
    with runtime.transaction() as db_session:
        groups = [
            (g.peer_id, g.resource_code)
            for g in requests.ready_groups(db_session, actor=actor)
            if not resource or g.resource_code == resource
        ]
    if not groups:
        out.print("没有待报送的上级资源申请")
        return
    for peer_id, code in groups:
        bundle_id = requests.forward(runtime, actor=actor, peer_id=peer_id, resource_code=code)
        with runtime.transaction() as db_session:
            bundle = db_session.get(requests.Bundle, bundle_id)
            assert bundle is not None
            count = len(requests.bundle_requests(db_session, bundle_id))
            out.print(
                f"已报送 {bundle.number}：上级资源 {code}，{count} 项申请，消息编号 {bundle.message_id}"
            )


@app.command("pull")
@fails_cleanly
def pull() -> None:
    """向上级平台同步每份未办结整体授权申请的办理进度，并同步上级授权。"""
    from govshare.federation import requests
    from govshare.federation.request_models import Bundle, BundleState

    runtime = get_runtime()
    with runtime.transaction() as db_session:
        from sqlalchemy import select

        open_ids = list(
            db_session.execute(select(Bundle.id).where(Bundle.state == BundleState.OPEN)).scalars()
        )
    for bundle_id in open_ids:
        changed = requests.pull(runtime, actor=console_actor(), bundle_id=bundle_id)
        out.print(f"整体授权申请 {bundle_id}：{len(changed)} 项申请有新进展")
    if not open_ids:
        out.print("没有未办结的整体授权申请")


@app.command("sync-catalogs")
@fails_cleanly
def sync_catalogs() -> None:
    """从各对接平台同步目录（级联目录）：新增、变更和下架的资源。"""
    from govshare.federation import catalogs

    def progress(result: catalogs.SyncResult) -> None:
        out.print(
            f"  {result.peer_name}（{result.relation.label}）：第 {result.pages} 页，"
            f"已收 {result.received} 条"
        )

    runtime = get_runtime()
    results = catalogs.sync_all(runtime, actor=console_actor(), progress=progress)
    if not results:
        out.print("没有对接中的平台（或本平台尚未设置级联身份）")
    for result in results:
        if result.error:
            out.print(f"[red]{result.peer_name}：同步失败：{result.error}[/red]")
            continue
        out.print(
            f"{result.peer_name}（{result.relation.label}）：新增 {result.added}，"
            f"变更 {result.changed}，下架 {result.retired}"
            + (f"，跳过 {result.skipped}" if result.skipped else "")
        )
    if any(r.error for r in results):
        raise typer.Exit(1)


@app.command("catalog-edition")
@fails_cleanly
def catalog_edition(
    note: Annotated[str, typer.Option(help="编制说明")] = "",
) -> None:
    """发布本平台目录的新版本（含下级平台目录），编制版次按年编号。"""
    from govshare.federation import catalog_editions

    runtime = get_runtime()
    with runtime.transaction() as db_session:
        edition = catalog_editions.publish_edition(db_session, actor=console_actor(), note=note)
        parts = "，".join(f"{p['name']} {p['count']} 项" for p in edition.parts)
        out.print(
            f"已发布《{edition.platform_name}政务信息资源目录》{edition.title}"
            f"（{edition.published_on}）：{parts}"
        )
