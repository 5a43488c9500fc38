"""The CKAN Action API (`/api/3/action/{name}`, also `/api/action/{name}`): the portal answers
in CKAN 2.10's shapes, so CKAN's own clients (ckanapi, harvesters, federating portals) read it
unmodified.

Only reading actions exist. Every action takes its parameters as CKAN does — a GET's query
string, a POST's JSON body or form — and answers in CKAN's envelope (`help`, `success`,
`result`) or CKAN's error shape (`Not Found Error` 404, `Validation Error` 409 naming the
parameter, `Authorization Error` 403; an unknown action or unreadable body is CKAN's plain
400 "Bad request"). Nothing here queries the database itself beyond `catalog`'s functions.

The mapping onto CKAN's model:

- a dataset (PortalDataset) is a package named by its slug, `id` its number as a string;
- a providing department is an organization; an SR§21 domain is a group;
- a table dataset has one resource, `<name>-data`: the CSV download, `datastore_active`,
  whose rows `datastore_search` queries with the item names (the Chinese names) as field ids
  and `_id` the publication order. A conditional dataset's metadata is open, its rows are
  not: `datastore_search` answers them only to an account holding a current entitlement,
  identified by its API key in the `Authorization` header (as CKAN takes it; also
  `X-CKAN-API-Key`), restricted to the entitled fields; anyone else gets 403 pointing to the
  application on the portal (SR§22).

The actions live by topic: `actions` (site, datasets, organizations, groups, tags,
resources), `search` (package_search), `datastore` (datastore_search); `common` holds the
errors, parameter reading and registry, `shapes` CKAN's dictionaries of the records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from govshare.portal.ckan import actions, datastore, search  # each registers its actions
from govshare.portal.ckan.common import ACTIONS, Action, ActionError, Call
from govshare.portal.ckan.shapes import site_url

router = APIRouter(tags=["CKAN Action API"])


@router.api_route("/api/3/action/{name}", methods=["GET", "POST"], summary="CKAN Action API")
@router.api_route("/api/action/{name}", methods=["GET", "POST"], include_in_schema=False)
async def call_action(name: str, request: Request) -> Response:
    """Runs one CKAN action: parameters from the query string (GET) or the body (POST)."""
    site = site_url(request)
    envelope: dict[str, Any] = {"help": f"{site}/api/3/action/help_show?name={quote(name)}"}
    function = ACTIONS.get(name)
    if function is None:
        return _bad_request(f"Action name not known: {name}（没有这个操作）")
    try:
        params = await _request_params(request)
    except ValueError as exc:
        return _bad_request(f"JSON Error: {exc}")
    params.pop("callback", None)  # JSONP is not offered
    try:
        result = await run_in_threadpool(_run, request, function, params, site)
    except ActionError as error:
        envelope |= {"success": False, "error": error.body()}
        return JSONResponse(envelope, status_code=error.status)
    return JSONResponse(envelope | {"success": True, "result": result})


def _bad_request(message: str) -> Response:
    # CKAN answers an unusable request with a bare JSON string, not the envelope.
    return JSONResponse(f"Bad request: {message}", status_code=400)


async def _request_params(request: Request) -> dict[str, Any]:
    """The action's parameters as CKAN reads them; ValueError for a body that is not a JSON
    object. A value given several times in a query string or form becomes a list."""
    if request.method == "GET":
        return _mixed(request.query_params.multi_items())
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        # Old clients post the JSON object itself as the form's only key.
        if len(items) == 1 and items[0][1] in ("", "1") and items[0][0].lstrip().startswith("{"):
            return _object(items[0][0])
        return _mixed(items)
    body = await request.body()
    if not body.strip():
        return _mixed(request.query_params.multi_items())
    return _object(body)


def _object(text: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"请求体不是有效的 JSON（{exc}）") from None
    if not isinstance(data, dict):
        raise ValueError(f"请求体须为 JSON 对象，收到 {type(data).__name__}")
    return data


def _mixed(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in items:
        if key in found:
            previous = found[key]
            found[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            found[key] = value
    return found


def _run(request: Request, function: Action, params: dict[str, Any], site: str) -> Any:
    portal = request.app.state.portal
    with portal.session() as db_session:
        title = request.app.state.settings.site_title
        call = Call(db_session, params, site, request.url.path, title, api_key(request))
        return function(call)


def api_key(request: Request) -> str:
    """The API key a request carries, as CKAN reads it: the `Authorization` header's value
    (with or without "Bearer "), else `X-CKAN-API-Key`."""
    given = request.headers.get("authorization", "").strip()
    if given[:7].lower() == "bearer ":
        given = given[7:].strip()
    return given or request.headers.get("x-ckan-api-key", "").strip()


__all__ = ["ACTIONS", "actions", "datastore", "router", "search"]
