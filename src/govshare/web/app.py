"""The FastAPI application: JSON API under /api/v1, pages, static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from govshare import __version__
from govshare.core.runtime import Runtime, get_runtime
from govshare.web import errors, limits
from govshare.web.headers import SecurityHeaders

STATIC = Path(__file__).resolve().parent / "static"


def create_app(runtime: Runtime | None = None) -> FastAPI:
    """Builds the application; every router is registered here, in one place."""
    from govshare.catalog import api as catalog_api
    from govshare.catalog import pages as catalog_pages
    from govshare.core.audit import api as audit_api
    from govshare.core.audit import pages as audit_pages
    from govshare.core.calendar import api as calendar_api
    from govshare.core.calendar import pages as calendar_pages
    from govshare.core.inbox import api as inbox_api
    from govshare.core.inbox import pages as inbox_pages
    from govshare.evaluation import api as evaluation_api
    from govshare.evaluation import pages as evaluation_pages
    from govshare.exchange import api as exchange_api
    from govshare.exchange import gateway as exchange_gateway
    from govshare.exchange import gateway_auth as exchange_gateway_auth
    from govshare.exchange import pages as exchange_pages
    from govshare.exchange.api import lookup_route
    from govshare.federation import api as federation_api
    from govshare.federation import catalog_api as federation_catalog_api
    from govshare.federation import catalog_pages as federation_catalog_pages
    from govshare.federation import pages as federation_pages
    from govshare.federation import request_api as federation_request_api
    from govshare.federation import request_pages as federation_request_pages
    from govshare.identity import api as identity_api
    from govshare.identity import pages as identity_pages
    from govshare.opendata import api as opendata_api
    from govshare.opendata import pages as opendata_pages
    from govshare.pki import api as pki_api
    from govshare.pki import pages as pki_pages
    from govshare.security import api as security_api
    from govshare.security import pages as security_pages
    from govshare.sharing import api as sharing_api
    from govshare.sharing import pages as sharing_pages
    from govshare.supervision import api as supervision_api
    from govshare.supervision import ledger_pages as supervision_ledger_pages
    from govshare.supervision import pages as supervision_pages
    from govshare.systems import api as systems_api
    from govshare.systems import pages as systems_pages
    from govshare.verification import api as verification_api
    from govshare.verification import comparison_api as verification_comparison_api
    from govshare.verification import comparison_pages as verification_comparison_pages
    from govshare.verification import pages as verification_pages
    from govshare.web import api as web_api
    from govshare.web import pages as web_pages

    app = FastAPI(
        title="govshare 政务信息资源共享交换平台",
        version=__version__,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        dependencies=[Depends(limits.refuse_nul)],
        responses=errors.PROBLEM_RESPONSES,
    )
    app.state.runtime = runtime or get_runtime()
    errors.install(app)
    settings = app.state.runtime.settings
    app.add_middleware(
        limits.BodyLimit,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_upload_bytes,
    )
    app.add_middleware(SecurityHeaders)  # outermost: every answer carries the headers, a 413 too
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.router.routes.append(exchange_gateway.route)  # /gateway/{code}/…: service interfaces
    app.router.routes.append(exchange_gateway_auth.route)  # the nginx data plane's auth_request
    # The keyed lookup of a system with a bearer token, without FastAPI's dependencies; every
    # other request to that path goes on to the FastAPI route below (the one documented).
    app.router.routes.append(lookup_route.route)
    # The router tries routes in order, one by one: the exchange API (the keyed lookup, the
    # busiest call) comes first; no other API path starts with /api/v1/exchange.
    for router in (
        exchange_api.router,
        web_api.router,
        identity_api.router,
        audit_api.router,
        calendar_api.router,
        inbox_api.router,
        catalog_api.router,
        sharing_api.router,
        opendata_api.router,
        verification_api.router,
        verification_comparison_api.router,
        supervision_api.router,
        evaluation_api.router,
        security_api.router,
        systems_api.router,
        pki_api.router,
        federation_api.router,
        federation_request_api.router,
        federation_catalog_api.router,
    ):
        app.include_router(router, prefix="/api/v1")
    for router in (
        web_pages.router,
        identity_pages.router,
        audit_pages.router,
        calendar_pages.router,
        inbox_pages.router,
        catalog_pages.router,
        sharing_pages.router,
        exchange_pages.router,
        opendata_pages.router,
        verification_pages.router,
        verification_comparison_pages.router,
        supervision_pages.router,
        supervision_ledger_pages.router,
        evaluation_pages.router,
        security_pages.router,
        systems_pages.router,
        pki_pages.router,
        federation_pages.router,
        pki_api.public,
        federation_request_pages.router,
        federation_catalog_pages.router,
    ):
        app.include_router(router)
    return app
