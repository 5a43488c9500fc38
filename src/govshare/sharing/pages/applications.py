"""Sharing pages: applying for a resource (共享申请, SHR-2) — the application form, its
submission with attachments, resubmission after a return, and the department's list of its
applications.

The posted forms carry checkboxes and repeated rows (data items, row-filter conditions,
masking, a service interface's endpoints), which `read_form` turns into the dicts
`ApplicationIn` and `DecisionIn` take; the review pages (`review`) read theirs with it too."""

from __future__ import annotations

import re
from itertools import zip_longest
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from govshare.core import documents
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor
from govshare.core.policy import VALUE_LABELS
from govshare.sharing.models import USE_RESTRICTIONS, Application, RowOp
from govshare.sharing.pages.common import placed, profile_of, urgencies
from govshare.sharing.pages.scope import CHOICES, split_values
from govshare.sharing.schemas import ApplicationIn, Upload
from govshare.sharing.service import application_views, applications, deadlines
from govshare.sharing.service.common import APPLICANTS, shared_version
from govshare.systems import service as systems_service
from govshare.web.deps import CSRF_FIELD, DB, PageActor
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
    document = documents.received(file.filename or "", file.content_type or "", await file.read())
    return Upload(
        kind=kind,
        filename=document.filename,
        content_type=document.content_type,
        content=document.content,
    )


def application_in(data: dict[str, Any], resource_id: int) -> ApplicationIn:
    """The application the form describes."""
    payload: dict[str, Any] = {
        k: data[k]
        for k in ("purpose", "system_id", "contact", "valid_from", "valid_until")
        if data.get(k)
    }
    payload |= {
        "resource_id": resource_id,
        "fields": data["fields"],
        "row_filter": data["row_filter"],
        "accept_restrictions": data.get("accept_restrictions") == "1",
    }
    return ApplicationIn.model_validate(payload)


def _upload_errors(errors: dict[str, str], uploads: list[Upload]) -> dict[str, str]:
    """The service names a bad file by its position; the page shows it beside its input."""
    out = {}
    for key, message in errors.items():
        found = re.fullmatch(r"attachments\[(\d+)\].*", key)
        if found and int(found.group(1)) < len(uploads):
            key = f"attachment.{uploads[int(found.group(1))].kind}"
        out[key] = message
    return out


# --- the department's list ----------------------------------------------------------------


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


# --- the application form ---------------------------------------------------------------

FORM_FIELDS = (
    "purpose",
    "system_id",
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
        "systems": systems_service.choices(
            db_session,
            actor=actor,
            organization_id=application.consumer_id if application else actor.organization_id,
        )
        if actor.organization_id is not None
        else [],
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
        "system_id": str(application.system_id),
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
