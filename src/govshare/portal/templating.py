"""The portal's own Jinja2 environment and page rendering.

The portal runs on the internet side without the platform's code (OPN-5), so it has its own
templates (`portal/templates/portal/…`), its own filters and its own layout; it shares only
the vendored static files. Links are written under the app's root path, so the same pages
work when the portal is mounted under /open by `govshare demo`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.portal.catalog import FACET_LABELS, OPEN_TYPE_LABELS, SORTS
from govshare.portal.models import PortalMeta
from govshare.portal.settings import PortalSettings

TEMPLATES = Path(__file__).resolve().parent / "templates"

environment = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

# A field's type as the public reads it in the data dictionary.
FIELD_TYPE_LABELS = {
    "text": "文本",
    "integer": "整数",
    "numeric": "数值",
    "double": "小数",
    "date": "日期",
    "timestamp": "日期时间",
    "boolean": "是/否",
}


def city_date(value: datetime | date | None, fmt: str = "%Y-%m-%d") -> str:
    """A stored instant (or a calendar date) as the city's calendar date or time."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return clock.to_city(value).strftime(fmt)
    return value.strftime(fmt)


def plain(value: Any) -> str:
    """A cell value as plain text: ISO dates, numbers without exponent, 是/否, empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        # Without the trailing zeros a backend may add (30.5 read back as 30.5000000000), and
        # every digit kept (normalize() would round to the context's 28).
        if not value.is_finite():
            return str(value)
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, float):
        # As short as round-trips, without an exponent: 1e-05 → 0.00001.
        return format(Decimal(repr(value)), "f") if math.isfinite(value) else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """`text` escaped, with every occurrence of `terms` (longest first) marked."""
    wanted = sorted({t for t in terms if t}, key=lambda t: (-len(t), t))
    if not wanted:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in wanted), re.IGNORECASE)
    parts: list[str] = []
    last = 0
    for found in pattern.finditer(text):
        parts.append(str(escape(text[last : found.start()])))
        parts.append(f"<mark>{escape(found.group())}</mark>")
        last = found.end()
    parts.append(str(escape(text[last:])))
    return Markup("".join(parts))


environment.filters["city_date"] = city_date
environment.filters["plain"] = plain
environment.filters["highlight"] = highlight
environment.filters["field_type"] = lambda value: FIELD_TYPE_LABELS.get(value, value)
environment.filters["open_type"] = lambda value: OPEN_TYPE_LABELS.get(value, value)
environment.globals["FACET_LABELS"] = FACET_LABELS
environment.globals["SORTS"] = SORTS


def root_path(request: Request) -> str:
    """Where the portal is mounted ("" at the top, "/open" in the demo)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def base_url(request: Request) -> str:
    """The portal's public address: the configured one, else the one the request came to."""
    settings: PortalSettings = request.app.state.settings
    if settings.base_url:
        return settings.base_url.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}{root_path(request)}"


def site(db_session: Session, settings: PortalSettings) -> dict[str, str]:
    """The site's own facts for the layout: its title (city + site title) and publisher."""
    meta = db_session.get(PortalMeta, 1)
    city = meta.city_name if meta else ""
    return {
        "title": f"{city}{settings.site_title}",
        "city": city,
        "publisher": meta.publisher_name if meta else "",
        "licence_title": meta.licence_title if meta else "",
        "licence_url": meta.licence_url if meta else "",
    }


def render(
    request: Request,
    db_session: Session,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A portal page with the layout's context (site facts, root path, current path)."""
    settings: PortalSettings = request.app.state.settings
    page = {
        "request": request,
        "site": site(db_session, settings),
        "root": root_path(request),
        "path": request.url.path,
        **(context or {}),
    }
    html = environment.get_template(name).render(page)
    return HTMLResponse(html, status_code=status_code)
