"""Sharing pages: an application under review (共享申请办理, SHR-3) — the detail page with its
review steps and deadlines, the operator's pre-review, the provider's answer (approval with
its scope, or refusal), withdrawal, the attachments' download, and the provider's list of
applications to answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor
from govshare.core.policy import VALUE_LABELS
from govshare.exchange.service import interfaces
from govshare.sharing.models import (
    Application,
    ApplicationKind,
    ApplicationState,
    ApplicationStep,
)
from govshare.sharing.pages.applications import _status, read_form, scope_errors, typed_filters
from govshare.sharing.pages.common import placed, profile_of, scope_of, urgencies
from govshare.sharing.pages.scope import CHOICES
from govshare.sharing.schemas import RATE_LIMIT_MAX, DecisionIn, PreReviewIn
from govshare.sharing.service import application_views, applications, deadlines, decisions
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.documents import document_response
from govshare.web.forms import field_errors
from govshare.web.templating import redirect, render

router = APIRouter()


# --- the decision form --------------------------------------------------------------------


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


# --- the provider's list ------------------------------------------------------------------


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
    return document_response(found)
