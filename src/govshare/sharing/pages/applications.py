"""Sharing pages: applications (共享申请, SHR-2/3) — the form, the detail page with its review
steps and deadlines, the operator's pre-review, the provider's answer, withdrawal and
resubmission, attachments, and the provider's list of applications to answer.

The posted forms carry checkboxes and repeated rows (data items, row-filter conditions,
masking, a service interface's endpoints), which `read_form` turns into the dicts
`ApplicationIn` and `DecisionIn` take."""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor
from govshare.core.policy import VALUE_LABELS, Profile
from govshare.exchange.service import interfaces
from govshare.sharing.models import (
    USE_RESTRICTIONS,
    Application,
    ApplicationKind,
    ApplicationState,
    ApplicationStep,
    Grant,
    RowOp,
)
from govshare.sharing.pages.scope import CHOICES, split_values
from govshare.sharing.schemas import (
    RATE_LIMIT_MAX,
    ApplicationIn,
    DecisionIn,
    PreReviewIn,
    Upload,
)
from govshare.sharing.service import application_views, applications, deadlines, decisions
from govshare.sharing.service.applications import ATTACHMENT_TYPES
from govshare.sharing.service.common import (
    APPLICANTS,
    load_filter,
    load_masking,
    shared_version,
)
from govshare.web.deps import CSRF_FIELD, DB, PageActor, runtime_of
from govshare.web.forms import field_errors, optional_id
from govshare.web.templating import redirect, render

router = APIRouter()

# Posted names that repeat: item checkboxes, row-filter rows, masking rows (the names of
# `sharing/_scope_macros.html`, which the case pages share) and the decision's endpoints.
LISTS = (
    "endpoints",
    "fields",
    "filter_field",
    "filter_op",
    "filter_values",
    "mask_field",
    "mask_rule",
    "mask_n",
)
ATTACHMENT_INPUT = "attachment_"  # file inputs are named attachment_<kind>


# --- shared by the sharing pages ----------------------------------------------------------


def profile_of(request: Request) -> Profile:
    return runtime_of(request).profile


def placed(errors: dict[str, str], known: tuple[str, ...]) -> dict[str, str]:
    """The errors with those a form has no place for moved to the form's top ("_")."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        if key == "_" or key.split(".")[0] in known:
            out.setdefault(key, message)
        else:
            out["_"] = f"{out['_']}；{message}" if "_" in out else message
    return out


@dataclass(frozen=True)
class Scope:
    """A requested or granted scope as the pages show it."""

    whole: bool
    fields: list[str]
    conditions: list[str]
    masks: list[str] | None  # None: an application, which requests no masking


def scope_of(item: Application | Grant) -> Scope:
    whole, masks = False, None
    if isinstance(item, Grant):
        whole, masks = item.whole_resource, [m.describe() for m in load_masking(item.masking)]
    return Scope(
        whole=whole,
        fields=list(item.fields),
        conditions=[c.describe() for c in load_filter(item.row_filter)],
        masks=masks,
    )


def urgencies(db_session: Session, items: list[Application]) -> dict[int, deadlines.Urgency]:
    """The open step's urgency (the queue's colours) per application id."""
    calendar, today = working_days.load(db_session), clock.today()
    out = {}
    for application in items:
        step = deadlines.open_step(application)
        if step is not None:
            out[application.id] = deadlines.urgency(step, calendar, today)
    return out


# --- the posted form --------------------------------------------------------------------


async def read_form(request: Request) -> tuple[dict[str, Any], list[Upload]]:
    """The posted form and the uploaded files. The dict holds single fields as stripped
    strings and the scope twice: as typed, for showing the form again (`fields`, `filters`
    with their values as text, `masks` by data item), and as `ApplicationIn` and `DecisionIn`
    take it (`row_filter` and `masking` as lists of dicts)."""
    form = await request.form()
    data: dict[str, Any] = {}
    uploads: list[Upload] = []
    for key in form:
        if key == CSRF_FIELD or key in LISTS:
            continue
        if key.startswith(ATTACHMENT_INPUT):
            for value in form.getlist(key):
                if isinstance(value, UploadFile) and value.filename:
                    uploads.append(await _upload(key.removeprefix(ATTACHMENT_INPUT), value))
            continue
        value = form.get(key)
        data[key] = value.strip() if isinstance(value, str) else ""
    lists = {k: [v.strip() for v in form.getlist(k) if isinstance(v, str)] for k in LISTS}
    data["fields"] = [f for f in lists["fields"] if f]
    data["endpoints"] = [e for e in lists["endpoints"] if e]
    data["filters"] = [
        {"field": field, "op": op, "values": values}
        for field, op, values in zip_longest(
            lists["filter_field"], lists["filter_op"], lists["filter_values"], fillvalue=""
        )
        if field or values
    ]
    data["row_filter"] = [
        {
            "field": row["field"],
            "op": row["op"] or RowOp.EQ.value,
            "values": split_values(row["values"]),
        }
        for row in data["filters"]
    ]
    data["masks"] = {  # a rule on an item left unchecked has nothing to mask
        field: {"rule": rule, "n": n}
        for field, rule, n in zip_longest(
            lists["mask_field"], lists["mask_rule"], lists["mask_n"], fillvalue=""
        )
        if field and rule and field in data["fields"]
    }
    data["masking"] = [
        {"field": field, "rule": mask["rule"], "n": mask["n"] or None}
        for field, mask in data["masks"].items()
    ]
    return data, uploads


def scope_errors(errors: dict[str, str], data: dict[str, Any]) -> dict[str, str]:
    """Errors keyed as the scope inputs show them: a filter row's by its row number
    (`row_filter.N`), a masking rule's by its data item (`masking.<name>`)."""
    masked = [m["field"] for m in data.get("masking", [])]
    out: dict[str, str] = {}
    for key, message in errors.items():
        parts = key.split(".")
        if parts[0] == "row_filter" and len(parts) > 2:
            key = ".".join(parts[:2])
        elif parts[0] == "masking" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1]) - 1
            key = f"masking.{masked[index]}" if index < len(masked) else "masking"
        out.setdefault(key, message)
    return out


def typed_filters(stored: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Stored conditions as the filter rows show them, values as typed text."""
    return [{"field": c["field"], "op": c["op"], "values": ",".join(c["values"])} for c in stored]


async def _upload(kind: str, file: UploadFile) -> Upload:
    filename = file.filename or ""
    content_type = file.content_type or ""
    if content_type not in ATTACHMENT_TYPES:  # some browsers send octet-stream for scans
        content_type = mimetypes.guess_type(filename)[0] or content_type
    return Upload(
        kind=kind, filename=filename[-200:], content_type=content_type, content=await file.read()
    )


def application_in(data: dict[str, Any], resource_id: int) -> ApplicationIn:
    """The application the form describes."""
    payload: dict[str, Any] = {
        k: data[k]
        for k in ("purpose", "system_name", "contact", "valid_from", "valid_until")
        if data.get(k)
    }
    payload |= {
        "resource_id": resource_id,
        "fields": data["fields"],
        "row_filter": data["row_filter"],
        "accept_restrictions": data.get("accept_restrictions") == "1",
    }
    return ApplicationIn.model_validate(payload)


def decision_in(data: dict[str, Any], application: Application) -> DecisionIn:
    """The answer the decision form describes; an approval names its whole scope."""
    choice = data.get("decision")
    if choice not in ("approve", "refuse"):
        raise Invalid("请选择“同意”或“不予共享”", field="decision")
    if choice == "refuse":
        return DecisionIn.model_validate(
            {"approve": False, "reason": data.get("reason", ""), "basis": data.get("basis", "")}
        )
    payload: dict[str, Any] = {
        "approve": True,
        "conditions": data.get("conditions", ""),
        "valid_until": data.get("valid_until") or None,
    }
    if application.kind is ApplicationKind.NEW:
        if not data["fields"]:  # the service reads an empty list as "as requested"
            raise Invalid("请至少选择一个信息项", field="fields")
        payload |= {
            "fields": data["fields"],
            "row_filter": data["row_filter"],
            "masking": data["masking"],
            "valid_from": data.get("valid_from") or None,
            "endpoints": data["endpoints"],
            "rate_limit": data.get("rate_limit") or None,
        }
    return DecisionIn.model_validate(payload)


def _upload_errors(errors: dict[str, str], uploads: list[Upload]) -> dict[str, str]:
    """The service names a bad file by its position; the page shows it beside its input."""
    out = {}
    for key, message in errors.items():
        found = re.fullmatch(r"attachments\[(\d+)\].*", key)
        if found and int(found.group(1)) < len(uploads):
            key = f"attachment.{uploads[int(found.group(1))].kind}"
        out[key] = message
    return out


# --- lists ------------------------------------------------------------------------------


@router.get("/sharing/applications", response_class=HTMLResponse)
def my_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    rows = application_views.my_applications(db_session, actor=actor)
    return render(
        request,
        "sharing/application_list.html",
        {
            "rows": rows,
            "open_step": deadlines.open_step,
            "deadline": deadlines.deadline,
            "urgency": urgencies(db_session, rows),
        },
    )


@router.get("/sharing/decide", response_class=HTMLResponse)
def to_decide(request: Request, db_session: DB, actor: PageActor) -> Response:
    rows = application_views.to_decide(db_session, actor=actor)
    waiting = [a for a in rows if a.state is ApplicationState.DECIDING]
    return render(
        request,
        "sharing/decide.html",
        {
            "waiting": waiting,
            "answered": [a for a in rows if a.state is not ApplicationState.DECIDING],
            "open_step": deadlines.open_step,
            "deadline": deadlines.deadline,
            "urgency": urgencies(db_session, waiting),
        },
    )


# --- the application form ---------------------------------------------------------------

FORM_FIELDS = (
    "purpose",
    "system_name",
    "fields",
    "row_filter",
    "valid_from",
    "valid_until",
    "contact",
    "accept_restrictions",
    "attachment",
    "resource_id",
)


def _form_context(
    request: Request,
    db_session: DB,
    actor: Actor,
    resource_id: int,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    application: Application | None = None,
) -> dict[str, Any]:
    rules = profile_of(request).rules
    if application is None:
        resource, version = shared_version(db_session, actor, resource_id)
        required = [a.value for a in rules.application_attachments.value]
        pre_review_days = rules.application_pre_review_days.value
        decision_days = rules.application_decision_days.value
    else:  # a resubmission keeps its version, its day counts and the files already sent
        resource, version = application.resource, application.version
        stored = {a.kind for a in application.attachments}
        required = [k for k in application.required_attachments if k not in stored]
        pre_review_days, decision_days = application.pre_review_days, application.decision_days
    return {
        "resource": resource,
        "version": version,
        "application": application,
        "items": version.items,
        "choices": CHOICES,
        "attachments": [(kind, VALUE_LABELS.get(kind, kind)) for kind in required],
        "restrictions": USE_RESTRICTIONS,
        "pre_review_days": pre_review_days,
        "decision_days": decision_days,
        "return_comment": next((s.comment for s in reversed(application.steps) if s.comment), "")
        if application is not None
        else "",
        "own": actor.organization_id == resource.provider_id,
        "can_apply": actor.has(*APPLICANTS) and actor.organization_id is not None,
        "form": form,
        "errors": placed(errors or {}, FORM_FIELDS),
    }


def _blank_form() -> dict[str, Any]:
    start, end = applications.period_default()
    return {
        "fields": [],
        "filters": [],
        "valid_from": start.isoformat(),
        "valid_until": end.isoformat(),
    }


@router.get("/sharing/applications/new", response_class=HTMLResponse)
def new(request: Request, db_session: DB, actor: PageActor, resource: str = "") -> Response:
    resource_id = optional_id(resource)
    if resource_id is None:
        raise Invalid("请从资源目录中选择要申请的资源", field="resource")
    context = _form_context(request, db_session, actor, resource_id, _blank_form())
    return render(request, "sharing/application_form.html", context)


@router.post("/sharing/applications", response_class=HTMLResponse)
async def submit(request: Request, db_session: DB, actor: PageActor) -> Response:
    data, uploads = await read_form(request)
    resource_id = optional_id(data.get("resource_id"))
    if resource_id is None:
        raise Invalid("请从资源目录中选择要申请的资源", field="resource_id")
    try:
        application = applications.submit_application(
            db_session,
            actor=actor,
            profile=profile_of(request),
            data=application_in(data, resource_id),
            uploads=uploads,
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        errors = scope_errors(_upload_errors(field_errors(exc), uploads), data)
        context = _form_context(request, db_session, actor, resource_id, data, errors)
        return render(request, "sharing/application_form.html", context, _status(exc))
    return redirect(
        applications.link(application), f"申请已提交，编号 {application.number}，请留意办理期限"
    )


def _status(exc: ValidationError | DomainError) -> int:
    return exc.status if isinstance(exc, DomainError) else 422


@router.get("/sharing/applications/{application_id}/resubmit", response_class=HTMLResponse)
def resubmit_form(
    request: Request, db_session: DB, actor: PageActor, application_id: Id
) -> Response:
    application = applications.get_application(
        db_session, actor=actor, application_id=application_id
    )
    form = {
        "purpose": application.purpose,
        "system_name": application.system_name,
        "fields": list(application.fields),
        "filters": typed_filters(application.row_filter),
        "valid_from": application.valid_from.isoformat(),
        "valid_until": application.valid_until.isoformat(),
        "contact": application.contact,
    }
    context = _form_context(
        request, db_session, actor, application.resource_id, form, application=application
    )
    return render(request, "sharing/application_form.html", context)


@router.post("/sharing/applications/{application_id}/resubmit", response_class=HTMLResponse)
async def resubmit(
    request: Request, db_session: DB, actor: PageActor, application_id: Id
) -> Response:
    data, uploads = await read_form(request)
    application = applications.get_application(
        db_session, actor=actor, application_id=application_id
    )
    resource_id = application.resource_id
    try:
        applications.resubmit_application(
            db_session,
            actor=actor,
            application_id=application_id,
            data=application_in(data, resource_id),
            uploads=uploads,
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        application = applications.get_application(
            db_session, actor=actor, application_id=application_id
        )
        errors = scope_errors(_upload_errors(field_errors(exc), uploads), data)
        context = _form_context(
            request, db_session, actor, resource_id, data, errors, application=application
        )
        return render(request, "sharing/application_form.html", context, _status(exc))
    return redirect(f"/sharing/applications/{application_id}", "已重新提交，办理期限重新计算")


# --- detail and actions -------------------------------------------------------------------

DECIDE_FIELDS = ("decision", "reason", "basis", "fields", "row_filter", "masking", "valid_from")
DECIDE_FIELDS += ("valid_until", "conditions", "endpoints", "rate_limit")


def _default_rate_limit(request: Request) -> int:
    return runtime_of(request).settings.gateway_rate_limit


@dataclass(frozen=True)
class StepView:
    """One review step as the timeline shows it."""

    step: ApplicationStep
    answerer: str
    deadline: str
    urgency: deadlines.Urgency | None  # None: projected, not started yet


def _detail_context(
    db_session: DB, actor: Actor, application_id: int, default_rate_limit: int, **extra: Any
) -> dict[str, Any]:
    application = applications.get_application(
        db_session, actor=actor, application_id=application_id
    )
    calendar, today = working_days.load(db_session), clock.today()
    step = deadlines.open_step(application)
    org = actor.organization_id
    allowed = applications.permitted(actor, application)
    decision_form = {
        "decision": "",
        "fields": list(application.fields),
        "filters": typed_filters(application.row_filter),
        "masks": {},
        "valid_from": application.valid_from.isoformat(),
        "valid_until": application.valid_until.isoformat(),
        "endpoints": [],
        "rate_limit": "",
    }
    # A new grant on a resource with a registered service interface may name its endpoints
    # and rate limit; None: the resource has none, so the form offers neither.
    service_endpoints = (
        interfaces.endpoints_of_resource(
            db_session, actor=actor, resource_id=application.resource_id
        )
        if allowed.decide and application.kind is ApplicationKind.NEW
        else None
    )
    failed = extra.pop("failed", "")
    form = extra.pop("form", {})
    errors = extra.pop("errors", {})
    return {
        "application": application,
        "scope": scope_of(application),
        "steps": [
            StepView(
                s,
                s.organization.name if s.organization else "平台管理单位",
                deadlines.deadline(s).label,
                deadlines.urgency(s, calendar, today) if s.started else None,
            )
            for s in application.steps
        ],
        "open_step": step,
        "open_deadline": deadlines.deadline(step).label if step else "",
        "is_consumer": org == application.consumer_id,
        "attachment_label": lambda kind: VALUE_LABELS.get(kind, kind),
        "is_renewal": application.kind is ApplicationKind.RENEWAL,
        "can_pre_review": allowed.pre_review,
        "can_decide": allowed.decide,
        "can_withdraw": allowed.withdraw,
        "can_resubmit": allowed.resubmit,
        "items": application.version.items,
        "requested_items": [i for i in application.version.items if i.name in application.fields],
        "choices": CHOICES,
        "service_endpoints": service_endpoints,
        "default_rate_limit": default_rate_limit,
        "rate_limit_max": RATE_LIMIT_MAX,
        "failed": failed,
        "form": form if failed == "decide" else decision_form,
        "posted": form,
        "errors": errors,
        **extra,
    }


@router.get("/sharing/applications/{application_id}", response_class=HTMLResponse)
def detail(request: Request, db_session: DB, actor: PageActor, application_id: Id) -> Response:
    context = _detail_context(db_session, actor, application_id, _default_rate_limit(request))
    return render(request, "sharing/application_detail.html", context)


def _failed(
    request: Request,
    db_session: DB,
    actor: Actor,
    application_id: int,
    exc: ValidationError | DomainError,
    failed: str,
    form: dict[str, Any],
    known: tuple[str, ...],
) -> Response:
    """The detail page again, with the failed form as typed and its errors beside the fields."""
    db_session.rollback()
    errors = placed(scope_errors(field_errors(exc), form), known)
    context = _detail_context(
        db_session,
        actor,
        application_id,
        _default_rate_limit(request),
        failed=failed,
        form=form,
        errors=errors,
    )
    return render(request, "sharing/application_detail.html", context, _status(exc))


@router.post("/sharing/applications/{application_id}/pre-review", response_class=HTMLResponse)
async def pre_review(
    request: Request, db_session: DB, actor: PageActor, application_id: Id
) -> Response:
    data, _ = await read_form(request)
    forward = data.get("outcome") == "forward"
    try:
        if data.get("outcome") not in ("forward", "return"):
            raise Invalid("请选择“预审通过，转提供部门”或“退回补正”", field="outcome")
        data_in = PreReviewIn(forward=forward, comment=data.get("comment", ""))
        application = decisions.pre_review(
            db_session, actor=actor, application_id=application_id, data=data_in
        )
    except (ValidationError, DomainError) as exc:
        return _failed(
            request,
            db_session,
            actor,
            application_id,
            exc,
            "pre_review",
            data,
            ("outcome", "comment"),
        )
    if forward:
        step = deadlines.open_step(application)
        due = deadlines.deadline(step).label if step else ""
        return redirect(applications.link(application), f"已转提供部门答复，答复期限 {due}")
    return redirect(applications.link(application), "已退回申请部门补正")


@router.post("/sharing/applications/{application_id}/decide", response_class=HTMLResponse)
async def decide(
    request: Request, db_session: DB, actor: PageActor, application_id: Id
) -> Response:
    data, _ = await read_form(request)
    application = applications.get_application(
        db_session, actor=actor, application_id=application_id
    )
    try:
        application = decisions.decide(
            db_session,
            actor=actor,
            profile=profile_of(request),
            application_id=application_id,
            data=decision_in(data, application),
        )
    except (ValidationError, DomainError) as exc:
        return _failed(
            request, db_session, actor, application_id, exc, "decide", data, DECIDE_FIELDS
        )
    if application.state is ApplicationState.APPROVED:
        return redirect(applications.link(application), "已同意，授权已生效并通知申请部门")
    return redirect(applications.link(application), "已答复不予共享，申请部门可发起协调")


@router.post("/sharing/applications/{application_id}/withdraw", response_class=HTMLResponse)
async def withdraw(
    request: Request, db_session: DB, actor: PageActor, application_id: Id
) -> Response:
    data, _ = await read_form(request)
    try:
        applications.withdraw_application(
            db_session, actor=actor, application_id=application_id, reason=data.get("reason", "")
        )
    except DomainError as exc:
        return _failed(
            request, db_session, actor, application_id, exc, "withdraw", data, ("reason",)
        )
    return redirect(f"/sharing/applications/{application_id}", "申请已撤回")


@router.get("/sharing/attachments/{attachment_id}")
def attachment(db_session: DB, actor: PageActor, attachment_id: Id) -> Response:
    found = applications.get_attachment(db_session, actor=actor, attachment_id=attachment_id)
    fallback = "attachment" + (mimetypes.guess_extension(found.content_type) or "")
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(found.filename)}"
    return Response(
        found.content, media_type=found.content_type, headers={"Content-Disposition": disposition}
    )
