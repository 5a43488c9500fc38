"""Jinja2 templates: one loader over the web layout and every domain's `templates/`.

A domain keeps its pages in `<domain>/templates/<domain>/…`, so names never clash."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from govshare.core import clock
from govshare.core.audit.labels import action_label
from govshare.core.permissions import ROLE_LABELS, Role

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [
    PACKAGE / "web" / "templates",
    PACKAGE / "identity" / "templates",
    PACKAGE / "core" / "audit" / "templates",
    PACKAGE / "core" / "calendar" / "templates",
    PACKAGE / "core" / "inbox" / "templates",
    PACKAGE / "catalog" / "templates",
    PACKAGE / "sharing" / "templates",
    PACKAGE / "exchange" / "templates",
    PACKAGE / "opendata" / "templates",
    PACKAGE / "verification" / "templates",
    PACKAGE / "supervision" / "templates",
    PACKAGE / "evaluation" / "templates",
    PACKAGE / "security" / "templates",
    PACKAGE / "systems" / "templates",
    PACKAGE / "pki" / "templates",
    PACKAGE / "federation" / "templates",
]
FLASH_COOKIE = "gs_flash"

templates = Jinja2Templates(directory=str(TEMPLATE_DIRS[0]))
templates.env.loader = ChoiceLoader([FileSystemLoader(str(d)) for d in TEMPLATE_DIRS if d.exists()])


def _city_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else clock.to_city(value).strftime(fmt)


def _role_label(value: str) -> str:
    try:
        return ROLE_LABELS[Role(value)]
    except ValueError:
        return value


templates.env.filters["city_time"] = _city_time
templates.env.filters["role_label"] = _role_label
templates.env.filters["action_label"] = action_label
templates.env.globals["Role"] = Role


def _policy_warning(request: Request, user: Any) -> str | None:
    """The operator is told on every page when the active profile's regulation has expired."""
    if user is None or Role.PLATFORM_OPERATOR not in user.roles:
        return None
    return request.app.state.runtime.profile.expiry_warning(clock.today())


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Renders a page with the layout's context: user, CSRF token, flash message, nav."""
    from govshare.web.nav import active, navigation, section_tabs

    user = getattr(request.state, "user", None)
    path = request.url.path
    nav = navigation(user) if user else []
    section, tabs = section_tabs(user, path) if user else ("", [])
    base = {
        "user": user,
        "csrf": getattr(request.state, "csrf", ""),
        "flash": unquote(request.cookies.get(FLASH_COOKIE, "")),
        "nav": nav,
        "nav_active": active(nav, path),
        "tabs": tabs,
        "section": section,
        "tab_active": active(tabs, path),
        "city": request.app.state.runtime.city_name,
        "path": path,
        "policy_warning": _policy_warning(request, user),
    }
    response = templates.TemplateResponse(
        request, name, base | (context or {}), status_code=status_code
    )
    if base["flash"]:
        response.delete_cookie(FLASH_COOKIE)
    return response


def redirect(url: str, flash: str | None = None) -> RedirectResponse:
    """Post/Redirect/Get, with an optional one-time message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash), max_age=60, httponly=True, samesite="lax")
    return response
