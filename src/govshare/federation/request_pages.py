"""Pages for requests to the level above (SHR-8): a department's upper requests (new, list,
detail with the upper's decision and deadline), its mirrored upper grants with the relayed
query, the operator's pre-review and bundle/forward page, and at the upper platform the
bundles received from below.

A page that talks to the peer commits the request's transaction first and runs the
(blocking) exchange in the thread pool."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from govshare.core import clock, documents
from govshare.core.errors import DomainError
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role
from govshare.federation import inbound, relay, requests
from govshare.federation.request_models import RequestState
from govshare.federation.request_schemas import RelayQueryIn, ReviewIn, UpperRequestIn
from govshare.sharing.models import MaskRule, RowOp
from govshare.sharing.schemas import Upload
from govshare.sharing.service.applications import period_default
from govshare.systems import service as systems_service
from govshare.web.deps import CSRF_FIELD, DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, field_errors
from govshare.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

ATTACHMENT_INPUT = "attachment_"
FILTER_ROWS = 3


def _status(exc: ValidationError | DomainError) -> int:
    return exc.status if isinstance(exc, DomainError) else 422


def _errors(exc: ValidationError | DomainError) -> dict[str, str]:
    return field_errors(exc)


async def _read(request: Request) -> tuple[dict[str, Any], list[Upload]]:
    form = await request.form()
    data: dict[str, Any] = {}
    uploads: list[Upload] = []
    for key in form:
        if key == CSRF_FIELD:
            continue
        if key.startswith(ATTACHMENT_INPUT):
            for value in form.getlist(key):
                if isinstance(value, UploadFile) and value.filename:
                    document = documents.received(
                        value.filename, value.content_type or "", await value.read()
                    )
                    uploads.append(
                        Upload(
                            kind=key.removeprefix(ATTACHMENT_INPUT),
                            filename=document.filename,
                            content_type=document.content_type,
                            content=document.content,
                        )
                    )
            continue
        values = [v.strip() for v in form.getlist(key) if isinstance(v, str)]
        data[key] = values if key in ("fields", "filter_field", "filter_value") else values[0]
    return data, uploads


# --- a department's requests ---------------------------------------------------------------------


@router.get("/federation/upper-requests", response_class=HTMLResponse)
def request_list(request: Request, db_session: DB, actor: PageActor, state: str = "") -> Response:
    chosen = RequestState(state) if state in {s.value for s in RequestState} else None
    found = requests.list_requests(db_session, actor=actor, state=chosen)
    return render(
        request,
        "federation/upper_requests.html",
        {
            "requests": found,
            "states": list(RequestState),
            "state": state,
            "may_file": actor.has(*requests.APPLICANTS),
            "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        },
    )


def _form_context(
    db_session: DB,
    actor: Actor,
    resource: requests.UpperResource | None,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    systems = (
        systems_service.choices(db_session, actor=actor, organization_id=actor.organization_id)
        if actor.organization_id is not None
        else []
    )
    return {"resource": resource, "form": form, "errors": errors or {}, "systems": systems}


def _blank(code: str) -> dict[str, Any]:
    start, end = period_default()
    return {
        "resource_code": code,
        "fields": [],
        "valid_from": start.isoformat(),
        "valid_until": end.isoformat(),
    }


@router.get("/federation/upper-requests/new", response_class=HTMLResponse)
async def request_new(
    request: Request, db_session: DB, actor: PageActor, code: str = ""
) -> Response:
    code = code.strip()[:40]
    resource, errors = None, {}
    if code:
        db_session.commit()
        try:
            resource = await run_in_threadpool(
                requests.describe, runtime_of(request), actor=actor, code=code
            )
        except DomainError as exc:
            errors = {"resource_code": exc.message}
    context = _form_context(db_session, actor, resource, _blank(code), errors)
    return render(request, "federation/upper_request_form.html", context, 422 if errors else 200)


@router.post("/federation/upper-requests", response_class=HTMLResponse)
async def request_file(request: Request, db_session: DB, actor: PageActor) -> Response:
    data, uploads = await _read(request)
    data.setdefault("fields", [])
    db_session.commit()
    runtime = runtime_of(request)
    try:
        payload = {k: v for k, v in data.items() if v not in ("", None)}
        payload["accept_restrictions"] = data.get("accept_restrictions") == "on"
        request_id = await run_in_threadpool(
            requests.file_request,
            runtime,
            actor=actor,
            data=UpperRequestIn.model_validate(payload),
            uploads=uploads,
        )
    except (ValidationError, DomainError) as exc:
        resource = None
        code = str(data.get("resource_code") or "")
        if code:
            try:
                resource = await run_in_threadpool(
                    requests.describe, runtime, actor=actor, code=code
                )
            except DomainError:
                resource = None
        context = _form_context(db_session, actor, resource, data, _errors(exc))
        return render(request, "federation/upper_request_form.html", context, _status(exc))
    found = requests.get_request(db_session, actor=actor, request_id=request_id)
    return redirect(requests.link(found), f"上级资源申请已提交，编号 {found.number}，待本级预审")


def _detail_context(
    db_session: DB, actor: Actor, request_id: int, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    found = requests.get_request(db_session, actor=actor, request_id=request_id)
    return {
        "req": found,
        "grants": requests.mirrored_of(db_session, found.id),
        "may_review": actor.has(Role.PLATFORM_OPERATOR) and found.state is RequestState.PRE_REVIEW,
        "errors": errors or {},
        "today": clock.today(),
    }


@router.get("/federation/upper-requests/{request_id}", response_class=HTMLResponse)
def request_detail(request: Request, db_session: DB, actor: PageActor, request_id: Id) -> Response:
    context = _detail_context(db_session, actor, request_id)
    return render(request, "federation/upper_request.html", context)


@router.post("/federation/upper-requests/{request_id}/review", response_class=HTMLResponse)
def request_review(
    request: Request, db_session: DB, actor: PageActor, request_id: Id, form: PostedForm
) -> Response:
    try:
        data = ReviewIn(approve=form.get("approve") == "yes", comment=form.get("comment", ""))
        found = requests.review(db_session, actor=actor, request_id=request_id, data=data)
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        context = _detail_context(db_session, actor, request_id, _errors(exc))
        return render(request, "federation/upper_request.html", context, _status(exc))
    message = "预审通过，待报送上级" if data.approve else "已退回申请单位"
    return redirect(requests.link(found), message)


@router.get("/federation/upper-requests/attachments/{attachment_id}")
def request_attachment(db_session: DB, actor: PageActor, attachment_id: Id) -> Response:
    from govshare.web.documents import document_response

    found = requests.get_attachment(db_session, actor=actor, attachment_id=attachment_id)
    return document_response(found)


# --- mirrored grants and the relayed query ---------------------------------------------------------


@router.get("/federation/upper-grants", response_class=HTMLResponse)
def grant_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    found = requests.list_mirrored(db_session, actor=actor)
    return render(
        request, "federation/upper_grants.html", {"grants": found, "today": clock.today()}
    )


def _grant_context(
    db_session: DB,
    actor: Actor,
    grant_id: int,
    form: dict[str, Any] | None = None,
    page: relay.RelayedPage | None = None,
    error: str = "",
) -> dict[str, Any]:
    grant = requests.get_mirrored(db_session, actor=actor, grant_id=grant_id)
    form = form or {}
    filters = list(zip(form.get("filter_field", []), form.get("filter_value", []), strict=False))
    filters += [("", "")] * max(0, FILTER_ROWS - len(filters))
    return {
        "grant": grant,
        "form": form,
        "filters": filters,
        "page": page,
        "error": error,
        "may_query": actor.organization_id == grant.organization_id,
        "unusable": grant.usable(clock.today()),
        "download_rows": relay.DOWNLOAD_ROWS,
        "mask_labels": {rule.value: rule.label for rule in MaskRule},
        "op_labels": {op.value: op.label for op in RowOp},
    }


@router.get("/federation/upper-grants/{grant_id}", response_class=HTMLResponse)
def grant_detail(request: Request, db_session: DB, actor: PageActor, grant_id: Id) -> Response:
    context = _grant_context(db_session, actor, grant_id)
    return render(request, "federation/upper_grant.html", context)


def _query_in(form: dict[str, Any]) -> RelayQueryIn:
    filters = {
        f: v
        for f, v in zip(form.get("filter_field", []), form.get("filter_value", []), strict=False)
        if f and v
    }
    fields = [f for f in form.get("fields", []) if f]
    return RelayQueryIn(filters=filters, fields=fields, limit=100)


@router.post("/federation/upper-grants/{grant_id}/query", response_class=HTMLResponse)
async def grant_query(request: Request, db_session: DB, actor: PageActor, grant_id: Id) -> Response:
    form, _ = await _read(request)
    for key in ("fields", "filter_field", "filter_value"):
        form.setdefault(key, [])
    db_session.commit()
    page, error, status = None, "", 200
    try:
        data = _query_in(form)
        if form.get("format") == "csv":
            found, chunks = await run_in_threadpool(
                relay.download_csv, runtime_of(request), actor=actor, grant_id=grant_id, data=data
            )
            return StreamingResponse(
                chunks,
                media_type="text/csv; charset=utf-8",
                headers={
                    "Content-Disposition": f'attachment; filename="{found.grant}.csv"',
                    "X-Govshare-Message-Id": found.message_id,
                },
            )
        page = await run_in_threadpool(
            relay.query, runtime_of(request), actor=actor, grant_id=grant_id, data=data
        )
    except (ValidationError, DomainError) as exc:
        error, status = next(iter(_errors(exc).values()), "查询失败"), _status(exc)
    context = _grant_context(db_session, actor, grant_id, form, page, error)
    return render(request, "federation/upper_grant.html", context, status)


# --- the operator: bundles ------------------------------------------------------------------------


def _bundles_context(db_session: DB, actor: Actor, error: str = "") -> dict[str, Any]:
    bundles = requests.list_bundles(db_session, actor=actor)
    return {
        "ready": requests.ready_groups(db_session, actor=actor),
        "bundles": [(b, requests.bundle_requests(db_session, b.id)) for b in bundles],
        "pending": requests.list_requests(db_session, actor=actor, state=RequestState.PRE_REVIEW),
        "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        "error": error,
    }


@router.get("/federation/upper-bundles", response_class=HTMLResponse)
def bundle_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    return render(request, "federation/upper_bundles.html", _bundles_context(db_session, actor))


@router.post("/federation/upper-bundles", response_class=HTMLResponse)
async def bundle_forward(request: Request, db_session: DB, actor: PageActor) -> Response:
    form, _ = await _read(request)
    db_session.commit()
    try:
        peer_id = int(form.get("peer_id") or 0)
        bundle_id = await run_in_threadpool(
            requests.forward,
            runtime_of(request),
            actor=actor,
            peer_id=peer_id,
            resource_code=str(form.get("resource_code") or ""),
        )
    except (ValueError, DomainError) as exc:
        message = exc.message if isinstance(exc, DomainError) else "参数无效"
        context = _bundles_context(db_session, actor, message)
        return render(
            request,
            "federation/upper_bundles.html",
            context,
            exc.status if isinstance(exc, DomainError) else 422,
        )
    return redirect("/federation/upper-bundles", f"已报送整体授权申请（编号 {bundle_id}）")


@router.post("/federation/upper-bundles/{bundle_id}/pull", response_class=HTMLResponse)
async def bundle_pull(
    request: Request, db_session: DB, actor: PageActor, bundle_id: Id
) -> Response:
    db_session.commit()
    try:
        changed = await run_in_threadpool(
            requests.pull, runtime_of(request), actor=actor, bundle_id=bundle_id
        )
    except DomainError as exc:
        context = _bundles_context(db_session, actor, exc.message)
        return render(request, "federation/upper_bundles.html", context, exc.status)
    return redirect(
        "/federation/upper-bundles", f"已同步上级办理进度：{len(changed)} 项申请有新进展"
    )


# --- the upper platform: bundles received --------------------------------------------------------


@router.get("/federation/inbound-bundles", response_class=HTMLResponse)
def inbound_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    found = inbound.list_inbound(db_session, actor=actor)
    return render(request, "federation/inbound_bundles.html", {"bundles": found})
