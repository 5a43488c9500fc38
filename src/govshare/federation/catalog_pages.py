"""Pages of the catalogs along the levels (级联目录): the resources of the platforms above and
below, searchable, with their provider and provenance; one resource with its data items; the
dated editions of this platform's catalog (目录版本). Every signed-in clerk reads them; the
operator pulls the peers' catalogs at once and publishes editions."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govshare.catalog.models import DataType, OpenType, ShareType, UpdateFrequency
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import MAX_PAGE, Id
from govshare.core.permissions import Role
from govshare.federation import catalog_editions, catalogs, requests
from govshare.federation.catalog_editions import chain_text, label
from govshare.federation.models import Relation
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.documents import document_response
from govshare.web.forms import PostedForm
from govshare.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

PAGE = "/catalog/federation"
PARAMS = ("q", "side", "origin", "via", "state", "page")
SHARE_TAGS = {"unconditional": "green", "conditional": "amber", "not_shared": "red"}
LEVELS = catalog_editions.LEVELS


def _url(params: dict[str, str], **changes: str | None) -> str:
    merged = {**params, **changes}
    if "page" not in changes:
        merged.pop("page", None)
    kept = {k: v for k in PARAMS if (v := merged.get(k)) not in (None, "")}
    return PAGE + ("?" + urlencode(kept) if kept else "")


def _query(params: dict[str, str]) -> catalogs.RemoteQuery:
    side = params.get("side") or None
    if side not in (None, "upper", "lower"):
        raise Invalid("来源参数无效", field="side")
    page = params.get("page") or "1"
    if not (page.isascii() and page.isdigit() and 1 <= int(page) <= MAX_PAGE):
        raise Invalid(f"页码应为 1 至 {MAX_PAGE} 之间的整数", field="page")
    origin, via = params.get("origin") or None, params.get("via") or None
    for name, value in (("origin", origin), ("via", via)):
        if value is not None and not (value.isascii() and value.isdigit() and len(value) <= 12):
            raise Invalid("来源平台参数无效", field=name)
    return catalogs.RemoteQuery(
        text=params.get("q", "")[:200],
        relation=Relation(side) if side else None,
        origin=origin,
        via=via,
        include_retired=params.get("state") != "current",
        page=int(page),
    )


def view(row: catalogs.RemoteResource) -> dict[str, object]:
    """What a page shows of a mirrored resource."""
    entry = row.entry
    return {
        "row": row,
        "chain": chain_text(row.chain),
        "provider_level": LEVELS.get(row.provider_level, ""),
        "summary": entry.get("summary") or "",
        "share_type": label(ShareType, entry.get("share_type")),
        "share_tag": SHARE_TAGS.get(str(entry.get("share_type")), ""),
        "open_type": label(OpenType, entry.get("open_type")),
        "is_open": entry.get("open_type") not in (None, "not_open"),
        "frequency": label(UpdateFrequency, entry.get("update_frequency")),
        "published_on": entry.get("published_on") or "",
        "items": [
            {**item, "type_label": label(DataType, item.get("data_type"))}
            for item in entry.get("items") or []
            if isinstance(item, dict)
        ],
    }


@router.get(PAGE, response_class=HTMLResponse)
def remote_catalog(request: Request, db_session: DB, actor: PageActor) -> HTMLResponse:
    params = {k: v.strip() for k in PARAMS if (v := request.query_params.get(k))}
    error = None
    try:
        query = _query(params)
    except Invalid as exc:
        error, params = exc.message, {"q": params.get("q", "")[:200]}
        query = catalogs.RemoteQuery(text=params["q"])
    result = catalogs.search_remote(db_session, actor=actor, query=query)
    sides = [("", "全部"), ("upper", "上级平台"), ("lower", "下级平台")]
    context = {
        "params": params,
        "error": error,
        "result": result,
        "rows": [view(r) for r in result.rows],
        "peers": catalogs.peer_catalogs(db_session, actor=actor),
        "may_sync": catalogs.may_sync(actor),
        "sides": [
            (label_, _url(params, side=value or None), params.get("side", "") == value)
            for value, label_ in sides
        ],
        "origins": [
            (
                name,
                relation.label,
                count,
                _url(params, origin=None if params.get("origin") == code else code),
                params.get("origin") == code,
            )
            for code, name, relation, count in result.origins
        ],
        "state_url": _url(params, state=None if params.get("state") == "current" else "current"),
        "current_only": params.get("state") == "current",
        "prev_url": _url(params, page=str(result.page - 1)) if result.page > 1 else None,
        "next_url": _url(params, page=str(result.page + 1)) if result.page < result.pages else None,
    }
    return render(request, "federation/catalog.html", context)


@router.post(PAGE + "/sync", response_class=HTMLResponse)
def sync_now(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    # The pull sends messages that commit on their own, so the request's session holds nothing.
    db_session.rollback()
    results = catalogs.sync_now(runtime_of(request), actor=actor)
    if not results:
        return redirect(PAGE, "没有对接中的平台")
    parts = [
        f"{r.peer_name}：同步失败（{r.error}）"
        if r.error
        else f"{r.peer_name}：新增 {r.added}，变更 {r.changed}，下架 {r.retired}"
        for r in results
    ]
    return redirect(PAGE, "；".join(parts))


@router.get(PAGE + "/editions", response_class=HTMLResponse)
def editions(request: Request, db_session: DB, actor: PageActor) -> HTMLResponse:
    context = {
        "editions": catalog_editions.list_editions(db_session, actor=actor),
        "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        "errors": {},
        "form": {},
    }
    return render(request, "federation/editions.html", context)


@router.post(PAGE + "/editions", response_class=HTMLResponse)
def edition_publish(
    request: Request, db_session: DB, actor: PageActor, form: PostedForm
) -> Response:
    try:
        edition = catalog_editions.publish_edition(
            db_session, actor=actor, note=str(form.get("note", ""))
        )
    except DomainError as exc:
        db_session.rollback()
        context = {
            "editions": catalog_editions.list_editions(db_session, actor=actor),
            "is_operator": actor.has(Role.PLATFORM_OPERATOR),
            "errors": {exc.field or "_": exc.message},
            "form": form,
        }
        return render(request, "federation/editions.html", context, exc.status)
    return redirect(PAGE + "/editions", f"已发布目录{edition.title}（{edition.total} 项资源）")


@router.get(PAGE + "/editions/{edition_id}/download")
def edition_download(
    db_session: DB, actor: PageActor, edition_id: Id, fmt: str = "xlsx", origin: str = ""
) -> Response:
    found = catalog_editions.edition_file(
        db_session, actor=actor, edition_id=edition_id, fmt=fmt, origin=origin or None
    )
    return document_response(found)


@router.get(PAGE + "/{remote_id}", response_class=HTMLResponse)
def remote_resource(
    request: Request, db_session: DB, actor: PageActor, remote_id: Id
) -> HTMLResponse:
    row = catalogs.get_remote(db_session, actor=actor, remote_id=remote_id)
    may_apply = actor.has(*requests.APPLICANTS)  # a department's people file upper requests
    return render(request, "federation/catalog_resource.html", view(row) | {"may_apply": may_apply})
