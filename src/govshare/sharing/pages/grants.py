"""Sharing pages: grants (授权, SHR-1/3/5/7) — the department's grants, a grant's exact scope
and history, suspension, resumption and ending, renewal requests, use feedback, direct
access to unconditional resources, and who uses a provider's data."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import ValidationError

from govshare.catalog.pages.resources import resource_context
from govshare.core import clock
from govshare.core.errors import DomainError, Invalid, NotFound
from govshare.core.inputs import Id, Page
from govshare.core.permissions import Actor, Role
from govshare.exchange.service import interfaces
from govshare.exchange.service import usage as usage_service
from govshare.identity import service as identity_service
from govshare.sharing.models import USE_RESTRICTIONS, Grant, GrantState, Rating
from govshare.sharing.pages.common import placed, profile_of, scope_of
from govshare.sharing.schemas import DirectAccessIn, FeedbackIn, GrantActionIn, RenewalIn
from govshare.sharing.service import applications, feedback, grants
from govshare.sharing.service.common import ANSWERERS, APPLICANTS, oversees
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, field_errors, optional_id
from govshare.web.templating import redirect, render

router = APIRouter()

# The grant page's forms and the fields each shows its errors beside.
GRANT_FORMS: dict[str, tuple[str, ...]] = {
    "suspend": ("reason",),
    "resume": ("reason",),
    "end": ("reason",),
    "renew": ("valid_until", "reason"),
    "feedback": ("rating", "cases_handled", "effect"),
}
DONE = {
    "suspend": "授权已暂停，使用部门已收到通知",
    "resume": "授权已恢复",
    "end": "授权已终止",
}


def _status(grant: Grant) -> str:
    return grants.status_label(grant, clock.today())


@router.get("/sharing/grants", response_class=HTMLResponse)
def my_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    rows = grants.my_grants(db_session, actor=actor)
    return render(request, "sharing/grant_list.html", {"rows": rows, "status": _status})


@router.get("/sharing/all-grants", response_class=HTMLResponse)
def all_list(request: Request, db_session: DB, actor: PageActor) -> Response:
    rows = grants.all_grants(db_session, actor=actor)
    return render(request, "sharing/grant_all.html", {"rows": rows, "status": _status})


def _detail_context(
    request: Request, db_session: DB, actor: Actor, grant_id: int, **extra: Any
) -> dict[str, Any]:
    grant = grants.get_grant(db_session, actor=actor, grant_id=grant_id)
    # The gateway's terms matter where the resource is shared as a service interface.
    service = (
        interfaces.offers_service(grant.version)
        or bool(grant.endpoints)
        or grant.rate_limit is not None
    )
    default_rate_limit = runtime_of(request).settings.gateway_rate_limit
    org = actor.organization_id
    manager = actor.has(Role.PLATFORM_OPERATOR) or (
        actor.has(*ANSWERERS) and org == grant.provider_id
    )
    consumer = actor.has(*APPLICANTS) and org == grant.consumer_id
    live = grant.state is not GrantState.ENDED
    return {
        "grant": grant,
        "status": _status(grant),
        "scope": scope_of(grant),
        "gateway": grants.grant_out(grant, default_rate_limit=default_rate_limit)
        if service
        else None,
        "restrictions": USE_RESTRICTIONS,
        "feedback": feedback.feedback_of(db_session, actor=actor, grant_id=grant_id),
        "uses": usage_service.uses_of_grants(db_session, actor=actor, grants=[grant], latest=20).of(
            grant.id
        ),
        "manager": manager,
        "can_suspend": manager and grant.state is GrantState.ACTIVE,
        "can_resume": manager and grant.state is GrantState.SUSPENDED,
        "can_end": live and (manager or (consumer and actor.has(*ANSWERERS))),
        "can_renew": consumer and live and grant.valid_until is not None,
        "can_feedback": consumer,
        "ratings": Rating.choices(),
        "failed": extra.pop("failed", ""),
        "form": extra.pop("form", {}),
        "errors": extra.pop("errors", {}),
        **extra,
    }


@router.get("/sharing/grants/{grant_id}", response_class=HTMLResponse)
def detail(request: Request, db_session: DB, actor: PageActor, grant_id: Id) -> Response:
    return render(
        request, "sharing/grant_detail.html", _detail_context(request, db_session, actor, grant_id)
    )


def _failed(
    request: Request,
    db_session: DB,
    actor: Actor,
    grant_id: int,
    exc: ValidationError | DomainError,
    failed: str,
    form: dict[str, Any],
) -> Response:
    """The grant page again, with the failed form as typed and its errors beside the fields."""
    db_session.rollback()
    errors = placed(field_errors(exc), GRANT_FORMS[failed])
    context = _detail_context(
        request, db_session, actor, grant_id, failed=failed, form=form, errors=errors
    )
    status = exc.status if isinstance(exc, DomainError) else 422
    return render(request, "sharing/grant_detail.html", context, status)


def _action_in(form: dict[str, Any]) -> GrantActionIn:
    return GrantActionIn(
        reason=form.get("reason", ""), report_to_authority=form.get("report_to_authority") == "1"
    )


@router.post("/sharing/grants/{grant_id}/{action}", response_class=HTMLResponse)
def act(
    request: Request, db_session: DB, actor: PageActor, grant_id: Id, action: str, form: PostedForm
) -> Response:
    """Suspend, resume or end a grant (SHR-5), ask to renew it, or report use feedback."""
    if action not in GRANT_FORMS:
        raise NotFound(f"授权没有“{action}”操作", field="action")
    target = f"/sharing/grants/{grant_id}"
    try:
        if action == "renew":
            renewal = applications.request_renewal(
                db_session,
                actor=actor,
                profile=profile_of(request),
                grant_id=grant_id,
                data=RenewalIn.model_validate(
                    {k: v for k, v in form.items() if k in ("valid_until", "reason") and v}
                ),
            )
            return redirect(
                applications.link(renewal), f"续期申请 {renewal.number} 已提交，等待办理"
            )
        if action == "feedback":
            data = FeedbackIn.model_validate(
                {k: v for k, v in form.items() if k in ("rating", "cases_handled", "effect") and v}
            )
            feedback.record_feedback(db_session, actor=actor, grant_id=grant_id, data=data)
            return redirect(target, "使用成效已反馈，提供部门可以看到")
        call = {
            "suspend": grants.suspend_grant,
            "resume": grants.resume_grant,
            "end": grants.end_grant,
        }[action]
        call(db_session, actor=actor, grant_id=grant_id, data=_action_in(form))
    except (ValidationError, DomainError) as exc:
        return _failed(request, db_session, actor, grant_id, exc, action, form)
    return redirect(target, DONE[action])


@router.post("/sharing/direct", response_class=HTMLResponse)
def direct(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    """Direct access to an unconditional resource (SHR-1), from the resource page's form."""
    resource_id = optional_id(form.get("resource_id"))
    if resource_id is None:
        raise Invalid("请从资源目录中选择资源", field="resource_id")
    try:
        data = DirectAccessIn.model_validate(
            {
                "resource_id": resource_id,
                "purpose": form.get("purpose", ""),
                "system_id": optional_id(form.get("system_id")),
                "accept_restrictions": form.get("accept_restrictions") == "1",
            }
        )
        grant = grants.request_direct_access(
            db_session, actor=actor, rules=profile_of(request).rules, data=data
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        context = resource_context(db_session, actor, resource_id, None)
        errors = placed(field_errors(exc), ("purpose", "system_id", "accept_restrictions"))
        if context.get("sharing"):
            context["sharing"] |= {"form": form, "errors": errors}
        status = exc.status if isinstance(exc, DomainError) else 422
        return render(request, "catalog/resource.html", context, status)
    return redirect(grants.link(grant), f"已获得授权 {grant.number}，请在授权范围内使用")


EVERY = "all"  # the usage page's choice of every provider, for those who oversee sharing


def _usage_choice(actor: Actor, organization_id: str) -> tuple[int | None, bool]:
    """The provider the usage page shows (None: the actor's own), or every provider."""
    if not oversees(actor):
        return None, False
    if organization_id == EVERY:
        return None, True
    return optional_id(organization_id), False


@router.get("/sharing/usage", response_class=HTMLResponse)
def usage(
    request: Request, db_session: DB, actor: PageActor, organization_id: str = "", page: Page = 1
) -> Response:
    """Who uses the provider's data, how often and how, and what they report (SHR-7, SR§25);
    overseers choose a provider or all of them (BZ§27). A page at a time, by resource."""
    chosen, every = _usage_choice(actor, organization_id)
    result = (
        feedback.usage_page(
            db_session, actor=actor, organization_id=chosen, every_provider=every, page=page
        )
        if every or chosen is not None or actor.organization_id is not None
        else feedback.UsagePage(rows=[], page=1, pages=1, resources=0)
    )
    rows = result.rows
    uses = usage_service.uses_of_grants(
        db_session, actor=actor, grants=[g for row in rows for g in row.grants]
    )
    organizations = (
        identity_service.list_organizations(db_session, actor=actor) if oversees(actor) else []
    )
    shown = None if every else (chosen or actor.organization_id)
    return render(
        request,
        "sharing/usage.html",
        {
            "rows": rows,
            "uses": uses,
            "every": every,
            "organizations": organizations,
            "shown": next((o for o in organizations if o.id == shown), None),
            "shown_id": shown,
            "export": f"/sharing/usage/export.csv?organization_id={EVERY if every else shown or ''}",
            "result": result,
            "page_url": f"/sharing/usage?organization_id={EVERY if every else shown or ''}&page=",
            "status": _status,
            "scope_of": scope_of,
        },
    )


@router.get("/sharing/usage/export.csv")
def usage_export(
    request: Request, db_session: DB, actor: PageActor, organization_id: str = ""
) -> StreamingResponse:
    """Every use of the provider's data as CSV (every provider's, for overseers who ask)."""
    chosen, every = _usage_choice(actor, organization_id)
    scope = usage_service.export_scope(
        db_session,
        actor=actor,
        side="provider",
        organization_id=None if every else (chosen or actor.organization_id),
    )
    lines = usage_service.export_uses(scope, transaction=runtime_of(request).transaction)
    name = quote(f"数据使用记录-{clock.today().isoformat()}.csv")
    return StreamingResponse(
        (line.encode() for line in lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )
