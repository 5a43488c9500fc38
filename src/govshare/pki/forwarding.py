"""The client certificate a TLS terminator verified and forwarded (nginx
`$ssl_client_escaped_cert`), taken only from the addresses the settings trust: shared by the
API's authentication and the gateway."""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Mapping

from govshare.core.settings import Settings

CERTIFICATE_REQUIRED = (
    "本平台要求接入系统使用平台签发的数字证书进行身份认证（统一数字证书），"
    "仅凭接口令牌不能访问；请通过双向 TLS 出示系统证书"
)


def trusted_proxy(settings: Settings, source_ip: str | None) -> bool:
    """Whether `source_ip` is one of the TLS terminators named in client_cert_proxies."""
    if not settings.client_cert_header or not settings.client_cert_proxies or source_ip is None:
        return False
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(entry.strip(), strict=False)
        for entry in settings.client_cert_proxies.split(",")
        if entry.strip()
    )


def forwarded_certificate(
    settings: Settings, source_ip: str | None, headers: Mapping[str, str]
) -> str | None:
    """The forwarded PEM; None when no header is configured, the request did not come from a
    trusted proxy, or the client presented none. From anywhere else the header is ignored."""
    if not trusted_proxy(settings, source_ip):
        return None
    raw = headers.get(settings.client_cert_header.lower(), "").strip()
    if not raw or raw == "(null)":
        return None
    return urllib.parse.unquote(raw)
