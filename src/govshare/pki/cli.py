"""`govshare pki init|issue|revoke|crl`: the certificate authority from the server's console."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from govshare.core.cli_support import console_actor, fails_cleanly, read_text
from govshare.core.errors import Invalid
from govshare.core.runtime import get_runtime
from govshare.pki import service as pki_service
from govshare.pki.models import HandOver, RevocationReason

out = Console(highlight=False, soft_wrap=True)
app = typer.Typer(help="证书管理：证书签发机构、系统证书、证书吊销列表", no_args_is_help=True)


@app.command("init")
@fails_cleanly
def init(
    name: Annotated[str, typer.Option(help="证书签发机构名称（自建时）")] = "",
    import_cert: Annotated[
        Path | None, typer.Option("--import-cert", help="导入市级 CA：CA 证书（PEM）")
    ] = None,
    import_key: Annotated[
        Path | None, typer.Option("--import-key", help="导入市级 CA：CA 私钥（未加密的 PEM）")
    ] = None,
) -> None:
    """建立平台证书签发机构（ECDSA P-256），或导入市级证书签发机构的证书和私钥；私钥加密保存。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        if import_cert or import_key:
            if not (import_cert and import_key):
                raise Invalid("导入须同时给出 --import-cert 和 --import-key", field="import_key")
            authority = pki_service.import_authority(
                db_session,
                actor=console_actor(),
                settings=runtime.settings,
                certificate_pem=read_text(import_cert, "import_cert"),
                key_pem=read_text(import_key, "import_key"),
            )
        else:
            authority = pki_service.init_authority(
                db_session,
                actor=console_actor(),
                settings=runtime.settings,
                name=name or f"{runtime.city_name}政务数据共享平台 CA",
            )
        out.print(f"证书签发机构：{authority.subject}，有效期至 {authority.not_after:%Y-%m-%d}")


@app.command("issue")
@fails_cleanly
def issue(
    system_id: Annotated[int, typer.Argument(help="信息系统编号（信息系统目录中的编号）")],
    csr: Annotated[
        Path | None, typer.Option(help="证书签名请求（PEM）；不给时由平台生成密钥")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="写入证书（或私钥和证书）的文件；默认输出到屏幕")
    ] = None,
    p12: Annotated[
        bool,
        typer.Option(
            "--p12",
            help="平台生成密钥时以 PKCS#12 文件（.p12）交付，口令一次性显示；须同时给出 --out",
        ),
    ] = False,
) -> None:
    """为登记的信息系统签发客户端证书。平台生成的私钥（及 .p12 口令）只输出这一次，平台不保存。"""
    runtime = get_runtime()
    days = runtime.profile.rules.certificate_validity_days.value
    if p12 and csr is not None:
        raise Invalid("按证书签名请求签发时私钥在申请方，不能以 --p12 交付", field="p12")
    if p12 and out_file is None:
        raise Invalid("--p12 须同时给出 --out（.p12 文件的保存路径）", field="out")
    password = ""
    with runtime.transaction() as db_session:
        if csr is not None:
            cert = pki_service.issue_from_csr(
                db_session,
                actor=console_actor(),
                settings=runtime.settings,
                validity_days=days,
                system_id=system_id,
                csr_pem=read_text(csr, "csr"),
            )
            text = cert.certificate_pem
        else:
            issued = pki_service.issue_generated(
                db_session,
                actor=console_actor(),
                settings=runtime.settings,
                validity_days=days,
                system_id=system_id,
                hand_over=HandOver.PKCS12 if p12 else HandOver.PEM,
            )
            cert, text = issued.certificate, issued.bundle or ""
            password = issued.pkcs12_password or ""
        serial, until = cert.serial, cert.not_after
    if out_file is not None:
        out_file.touch(mode=0o600)
        if p12:
            out_file.write_bytes(issued.pkcs12 or b"")
        else:
            out_file.write_text(text, encoding="utf-8")
        out.print(f"已签发证书 {serial}，有效期至 {until:%Y-%m-%d}，已写入 {out_file}")
        if password:
            out.print(f"PKCS#12 文件口令（只显示这一次，平台不保存）：{password}")
    else:
        out.print(text, end="")
        out.print(f"已签发证书 {serial}，有效期至 {until:%Y-%m-%d}")


@app.command("revoke")
@fails_cleanly
def revoke(
    certificate_id: Annotated[int, typer.Argument(help="证书编号")],
    reason: Annotated[RevocationReason, typer.Option(help="吊销原因")] = (
        RevocationReason.UNSPECIFIED
    ),
    note: Annotated[str, typer.Option(help="说明")] = "",
) -> None:
    """吊销系统证书，并立即更新证书吊销列表。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        cert = pki_service.revoke_certificate(
            db_session,
            actor=console_actor(),
            settings=runtime.settings,
            certificate_id=certificate_id,
            reason=reason,
            note=note,
        )
        out.print(f"已吊销证书 {cert.serial}（{reason.label}），证书吊销列表已更新")


@app.command("crl")
@fails_cleanly
def crl() -> None:
    """重新生成证书吊销列表（下次更新时间为 7 天后；作业进程在有效期过半时自动更新）。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        authority = pki_service.publish_crl(
            db_session, actor=console_actor(), settings=runtime.settings
        )
        out.print(f"证书吊销列表第 {authority.crl_number} 版已发布：/pki/crl.pem、/pki/crl.der")
