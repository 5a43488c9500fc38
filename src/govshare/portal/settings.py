"""The portal's settings: its own database and how it is reached, and nothing of the
platform's. `load_portal_settings` reads only GOVSHARE_PORTAL_* variables, so a portal process
on the internet side holds no connection setting for the platform's database (OPN-5, BZ§8)."""

from __future__ import annotations

import os
from dataclasses import dataclass


class PortalConfigError(ValueError):
    """A portal setting is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class PortalSettings:
    database_url: str  # GOVSHARE_PORTAL_DATABASE_URL: sqlite:///… or postgresql+psycopg://…
    base_url: str = ""  # GOVSHARE_PORTAL_BASE_URL: the public address, for links in DCAT feeds
    site_title: str = "公共数据开放门户"  # shown after the city's name


PREFIX = "GOVSHARE_PORTAL_"


def load_portal_settings(environ: dict[str, str] | None = None) -> PortalSettings:
    env = os.environ if environ is None else environ
    url = env.get(PREFIX + "DATABASE_URL", "").strip()
    if not url:
        raise PortalConfigError(
            "GOVSHARE_PORTAL_DATABASE_URL: 请设置开放门户数据库地址（sqlite:///路径 或 postgresql://…）"
        )
    if not url.startswith(("sqlite:///", "postgresql")):
        raise PortalConfigError(
            f"GOVSHARE_PORTAL_DATABASE_URL: 只支持 sqlite:///路径 或 postgresql://…，收到 {url!r}"
        )
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    base = env.get(PREFIX + "BASE_URL", "").strip().rstrip("/")
    if base and not base.startswith(("http://", "https://")):
        raise PortalConfigError(
            f"GOVSHARE_PORTAL_BASE_URL: 须以 http:// 或 https:// 开头，收到 {base!r}"
        )
    return PortalSettings(database_url=url, base_url=base)
