"""The portal's ASGI application (`govshare portal`; mounted under /open by `govshare demo`).

It is built from `PortalSettings` alone and opens only the portal database: nothing here
imports the platform's settings, runtime or services (a test checks the imported modules).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from govshare.portal import account_pages, ckan, dcat, downloads, pages, requests_pages
from govshare.portal.db import PortalDatabase
from govshare.portal.settings import PortalSettings
from govshare.web.headers import SecurityHeaders

# The platform's static files (stylesheet, vendored htmx and ECharts), served by the portal too.
STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
# The public pages' own stylesheet.
PORTAL_STATIC = Path(__file__).resolve().parent / "static"


def create_portal_app(
    settings: PortalSettings, *, database: PortalDatabase | None = None
) -> FastAPI:
    """The portal application over its own database (created when missing)."""
    portal = database or PortalDatabase(settings.database_url)
    portal.ensure_schema()
    app = FastAPI(
        title="公共数据开放门户",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.portal = portal
    app.state.settings = settings
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/portal-static", StaticFiles(directory=PORTAL_STATIC), name="portal-static")
    for router in _routers():
        app.include_router(router)
    return app


def _routers() -> list[APIRouter]:
    # Each part of the portal registers its router here, in one place. The CKAN API and the
    # DCAT feeds come first: /dataset/{name}.ttl must not be taken for a page's {name}.
    return [
        ckan.router,
        dcat.router,
        downloads.router,
        account_pages.router,
        pages.router,
        requests_pages.router,
    ]
