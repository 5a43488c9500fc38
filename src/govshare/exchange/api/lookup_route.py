"""The keyed lookup's lean route: `GET /api/v1/exchange/data/{code}/{key}` answered by a
plain Starlette route, registered before the API routers, without FastAPI's dependency
machinery (the DB and SignedIn dependencies, parameter validation, response model).

It serves the common case of a department system calling with a bearer token and no client
certificate; any other request (a certificate forwarded, a profile requiring certificates, a
signed-in user's cookie, another method) does not match it and goes on to the FastAPI route
of `exchange.api.delivery`, which the OpenAPI document describes. Both answer through
`delivery.answer_lookup`, so the JSON, the problem documents and the status codes are the
same, and both run `exchange.service.delivery.lookup`, so every check and entry is the same.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from govshare.core.db import unit_of_work
from govshare.exchange.api.delivery import answer_lookup, requested_fields
from govshare.exchange.service import delivery
from govshare.identity import service as identity_service
from govshare.pki import forwarding
from govshare.web import limits

PATH = "/api/v1/exchange/data/{resource_code:resource_code}/{key}"
DOWNLOAD = "download"  # /{code}/download is the batch download's route, not a key


class LookupRoute(Route):
    """Matches only what the lean endpoint answers exactly as the FastAPI route would."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.FULL or scope["method"] != "GET":
            return Match.NONE, {}
        if child["path_params"]["key"] == DOWNLOAD or not _token_only(scope):
            return Match.NONE, {}
        return match, child


def _token_only(scope: Scope) -> bool:
    """A bearer token and no client certificate, under a profile that does not require one."""
    request = Request(scope)
    if not request.headers.get("authorization", "").lower().startswith("bearer "):
        return False
    runtime = scope["app"].state.runtime
    if runtime.profile.rules.certificate_required.value:
        return False
    ip = request.client.host if request.client else None
    return forwarding.forwarded_certificate(runtime.settings, ip, request.headers) is None


def lookup(request: Request) -> Response:
    """Runs in Starlette's thread pool, like a FastAPI `def` route. A DomainError raised here
    (a bad token, a NUL) is rendered by the application's handler as a problem document."""
    for name, value in request.path_params.items():
        limits._check(name, value)
    for name, value in request.query_params.multi_items():
        limits._check(name, name)
        limits._check(name, value)
    runtime = request.app.state.runtime
    bearer = request.headers["authorization"][7:].strip()
    ip = request.client.host if request.client else None
    with unit_of_work(runtime.sessions) as db_session:  # commits before the answer is sent
        actor = identity_service.resolve_api_token(db_session, token=bearer, source_ip=ip)
        page = delivery.lookup(
            db_session,
            actor=actor,
            settings=runtime.settings,
            center=runtime.center,
            resource_code=request.path_params["resource_code"],
            key=request.path_params["key"],
            fields=requested_fields(request.query_params.get("fields")),
        )
        return answer_lookup(request, page)


route = LookupRoute(PATH, lookup, methods=["GET"], include_in_schema=False)
