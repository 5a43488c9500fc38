"""Pages of the public's requests for data not open yet (数据开放需求, SR§7, CAT-10): the list
(the operator, authority and auditors see all; a department what was assigned to it), and a
request's page with the operator's assignment form and the department's answer form. What
is decided is delivered to the portal at once, in the request's transaction."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govshare.catalog.models import Domain
from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role
from govshare.identity import service as identity_service
from govshare.opendata.models import PublicDataRequest, PublicRequestState
from govshare.opendata.pages.common import deliver_now, due
from govshare.opendata.service import requests
from govshare.portal.requests_pages import masked_name
from govshare.sharing.pages.common import placed
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, field_errors, optional_id, validated
from govshare.web.templating import redirect, render

router = APIRouter(include_in_schema=False)

SHOWS = {
    "all": "全部",
    "received": "待分派",
    "assigned": "待答复",
    "overdue": "已超期",
    "answered": "已答复",
}
FORMS = ("assign", "answer")
KNOWN = {"assign": ("organization_id", "note"), "answer": ("will_open", "planned_on", "answer")}


def _show(value: str) -> str:
    if value not in ("", *SHOWS):
        raise Invalid("请从筛选项中选择", field="show")
    return value or "all"


def _requester(actor: Actor, found: PublicDataRequest) -> str:
    """The operator and overseers see who asked; a department needs only the request."""
    if actor.has(*requests.OVERSEERS):
        return found.requester_name
    return masked_name(found.requester_name)


def _domain(value: str | None) -> str:
    return Domain(value).label if value else ""


@router.get("/opendata/requests", response_class=HTMLResponse)
def request_list(request: Request, db_session: DB, actor: PageActor, show: str = "") -> Response:
    chosen = _show(show)
    every = requests.list_requests(db_session, actor=actor)
    today = clock.today()
    calendar = working_days.load(db_session)
    shown: dict[str, list[PublicDataRequest]] = {
        "all": every,
        "received": [r for r in every if r.state is PublicRequestState.RECEIVED],
        "assigned": [r for r in every if r.state is PublicRequestState.ASSIGNED],
        "overdue": [r for r in every if requests.is_overdue(r, today)],
        "answered": [r for r in every if r.state is PublicRequestState.ANSWERED],
    }
    return render(
        request,
        "opendata/requests.html",
        {
            "rows": [
                {
                    "request": r,
                    "domain": _domain(r.domain),
                    "due": due(
                        calendar, today, r.due_on, r.due_provisional, requests.is_overdue(r, today)
                    )
                    if r.state is PublicRequestState.ASSIGNED and r.due_on is not None
                    else None,
                }
                for r in shown[chosen]
            ],
            "show": chosen,
            "shows": [(key, label, len(shown[key])) for key, label in SHOWS.items()],
            "operator": actor.has(Role.PLATFORM_OPERATOR),
        },
    )


def _history(found: PublicDataRequest) -> list[tuple[Any, str, str]]:
    r = found
    rows = [
        (r.submitted_at, "在开放门户提出需求", "公众"),
        (r.received_at, f"平台受理，编号 {r.number}", "平台"),
    ]
    if r.assigned_at:
        org = r.organization.name if r.organization else ""
        rows.append((r.assigned_at, f"分派给{org}，答复期限 {r.due_on}", r.assigned_by or ""))
    if r.answered_at:
        what = f"计划于 {r.planned_on} 前开放" if r.will_open else "无法开放"
        rows.append((r.answered_at, f"答复：{what}", r.answered_by or ""))
    if r.delivered_at and r.delivered_state == PublicRequestState.ANSWERED.value:
        rows.append((r.delivered_at, "答复已送达开放门户", "平台"))
    return sorted(rows, key=lambda row: row[0])


def _detail_context(
    request: Request,
    db_session: DB,
    actor: Actor,
    request_id: int,
    failed: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    found = requests.get_request(db_session, actor=actor, request_id=request_id)
    allowed = requests.permitted(actor, found)
    organizations = (
        identity_service.list_organizations(db_session, actor=actor) if allowed.assign else []
    )
    named = found.department.strip()
    suggested = next(
        (o.id for o in organizations if named and named in (o.name, o.short_name)), None
    )
    forms: dict[str, dict[str, Any]] = {
        "assign": {"organization_id": str(found.organization_id or suggested or ""), "note": ""},
        "answer": {"will_open": "", "planned_on": "", "answer": ""},
    }
    shown: dict[str, dict[str, str]] = {name: {} for name in FORMS}
    if failed:
        forms[failed] = form or {}
        shown[failed] = errors or {}
    today = clock.today()
    offered = {"assign": allowed.assign, "answer": allowed.answer}
    return {
        "r": found,
        "requester": _requester(actor, found),
        "domain": _domain(found.domain),
        "due": due(
            working_days.load(db_session),
            today,
            found.due_on,
            found.due_provisional,
            requests.is_overdue(found, today),
        )
        if found.state is PublicRequestState.ASSIGNED and found.due_on is not None
        else None,
        "allowed": allowed,
        "organizations": organizations,
        "suggested": suggested,
        "days": runtime_of(request).profile.rules.catalog_update_days.value,
        "forms": forms,
        "errors": shown,
        "top_error": next(iter(shown[failed].values()), "")
        if failed and not offered[failed]
        else "",
        "today": today.isoformat(),
        "history": _history(found),
    }


@router.get("/opendata/requests/{request_id}", response_class=HTMLResponse)
def request_detail(request: Request, db_session: DB, actor: PageActor, request_id: Id) -> Response:
    context = _detail_context(request, db_session, actor, request_id)
    return render(request, "opendata/request.html", context)


def _failed(
    request: Request,
    db_session: DB,
    actor: Actor,
    request_id: int,
    which: str,
    exc: DomainError,
    form: dict[str, Any],
) -> Response:
    db_session.rollback()
    errors = placed(field_errors(exc), KNOWN[which])
    context = _detail_context(request, db_session, actor, request_id, which, form, errors)
    return render(request, "opendata/request.html", context, exc.status)


@router.post("/opendata/requests/{request_id}/assignment", response_class=HTMLResponse)
def assign(
    request: Request, db_session: DB, actor: PageActor, request_id: Id, form: PostedForm
) -> Response:
    try:
        org_id = optional_id(form.get("organization_id", ""))
        if org_id is None:
            raise Invalid("请选择承办部门", field="organization_id")
        data = validated(
            requests.RequestAssignmentIn,
            {"organization_id": org_id, "note": form.get("note", "")},
        )
        found = requests.assign_request(
            db_session,
            actor=actor,
            request_id=request_id,
            data=data,
            rules=runtime_of(request).profile.rules,
        )
    except DomainError as exc:
        return _failed(request, db_session, actor, request_id, "assign", exc, form)
    org = found.organization.name if found.organization else ""
    delivered = deliver_now(request, db_session, requests.deliver_requests)
    return redirect(requests.link(found), f"已分派给{org}，答复期限 {found.due_on}。{delivered}")


@router.post("/opendata/requests/{request_id}/answer", response_class=HTMLResponse)
def answer(
    request: Request, db_session: DB, actor: PageActor, request_id: Id, form: PostedForm
) -> Response:
    choice = form.get("will_open", "")
    try:
        if choice not in ("yes", "no"):
            raise Invalid("请选择“计划开放”或“无法开放”", field="will_open")
        will_open = choice == "yes"
        data = validated(
            requests.RequestAnswerIn,
            {
                "will_open": will_open,
                "planned_on": (form.get("planned_on") or None) if will_open else None,
                "answer": form.get("answer", ""),
            },
        )
        found = requests.answer_request(db_session, actor=actor, request_id=request_id, data=data)
    except DomainError as exc:
        return _failed(request, db_session, actor, request_id, "answer", exc, form)
    delivered = deliver_now(request, db_session, requests.deliver_requests)
    return redirect(requests.link(found), f"已答复。{delivered}")
