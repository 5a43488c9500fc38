"""Exchange pages: a consumer's view of a table resource's data under its grant (EXC-5) — a
query form on the granted fields, the first page of masked results, download buttons, and
the API address with an example call for the department's systems."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govshare.exchange.api import delivery as delivery_api  # registers the resource_code path
from govshare.exchange.masking import text_form
from govshare.exchange.pages.connections import type_label
from govshare.exchange.service import delivery
from govshare.sharing.models import Grant, MaskRule
from govshare.sharing.service.common import load_filter
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.templating import render

router = APIRouter()

PAGE_ROWS = 20
API_PREFIX = "/api/v1" + delivery_api.router.prefix


def _filters(request: Request) -> list[tuple[str, str]]:
    """The form's filled-in fields (empty inputs are no filter)."""
    return [
        (k, v.strip())
        for k, v in request.query_params.multi_items()
        if k not in delivery.RESERVED and v.strip()
    ]


def _examples(
    request: Request, code: str, fields: tuple[delivery.Field, ...], keys: tuple[str, ...]
) -> dict[str, str]:
    """The API addresses and a curl line for the consumer's systems."""
    base = str(request.base_url).rstrip("/") + API_PREFIX + "/" + code
    by_column = {f.column: f for f in fields}
    key = by_column.get(keys[0]) if len(keys) == 1 else None
    example = key or (fields[0] if fields else None)
    query = f"{base}?{example.column}=…&limit=100" if example else f"{base}?limit=100"
    lookup = f"{base}/<{key.item}>" if key else ""
    return {
        "query": query,
        "lookup": lookup,
        "download": f"{base}/download?format=csv",
        "curl": f'curl -H "Authorization: Bearer <接口令牌>" "{lookup or query}"',
    }


def _conditions(grant: Grant | None) -> list[str]:
    """The grant's row filter in words: which rows the page can ever show."""
    return [c.describe() for c in load_filter(grant.row_filter)] if grant is not None else []


@router.get("/exchange/data/{resource_code:resource_code}", response_class=HTMLResponse)
def data(
    request: Request, db_session: DB, actor: PageActor, resource_code: str, cursor: str = ""
) -> Response:
    """The query page: its refusal (with the reason, logged) is shown, not raised."""
    runtime = runtime_of(request)
    filters = _filters(request)
    result = delivery.query(
        db_session,
        actor=actor,
        settings=runtime.settings,
        center=runtime.center,
        resource_code=resource_code,
        request=delivery.DataRequest(filters=filters),
        limit=PAGE_ROWS,
        cursor=cursor or None,
        total=not cursor,  # "共 N 条" above the first page; later pages go by the cursor
    )
    context: dict[str, Any] = {
        "code": resource_code,
        "filters": dict(filters),
        "query_string": urlencode(filters),
        "download_prefix": f"{API_PREFIX}/{resource_code}/download",
        "text": lambda v: "" if (t := text_form(v)) is None else t,
        "rule_labels": {r.value: r.label for r in MaskRule},
        "type_label": type_label,
    }
    if isinstance(result, delivery.Rejected):
        context |= {
            "error": result.error,
            "grant": result.grant,
            "conditions": _conditions(result.grant),
            "fields": result.fields,
        }
        return render(request, "exchange/delivery/data.html", context, result.error.status)
    next_link = ""
    if result.next_cursor:
        next_link = "?" + urlencode([*filters, ("cursor", result.next_cursor)])
    context |= {
        "page": result,
        "grant": result.grant,
        "conditions": _conditions(result.grant),
        "fields": result.fields,
        "next_link": next_link,
        "first_page": not cursor,
        "api": _examples(request, resource_code, result.fields, result.key_columns),
    }
    return render(request, "exchange/delivery/data.html", context)
