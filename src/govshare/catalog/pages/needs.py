"""Catalog pages: needs and the department's responsibility list (CAT-10)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from govshare.catalog.models import NeedState, ResourceStatus
from govshare.catalog.service import common, needs, overview
from govshare.catalog.service.needs import NeedIn
from govshare.core import clock
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role
from govshare.identity import service as identity_service
from govshare.web.deps import DB, PageActor
from govshare.web.forms import PostedForm, field_errors, filled, optional_id
from govshare.web.templating import redirect, render

router = APIRouter()


def _list_context(
    db_session: DB, actor: Actor, open_only: bool = False, **extra: Any
) -> dict[str, Any]:
    operator = actor.has(Role.PLATFORM_OPERATOR)
    department = actor.has(*common.COMPILERS) and actor.organization_id is not None
    return {
        "is_operator": operator,
        "can_state": department,
        "stated": needs.list_needs(db_session, actor=actor, open_only=open_only),
        "assigned": needs.list_needs(db_session, actor=actor, assigned=True, open_only=open_only)
        if department
        else [],
        "organizations": [
            o
            for o in identity_service.list_organizations(db_session, actor=actor)
            if o.id != actor.organization_id
        ],
        "open_only": open_only,
        "form": {},
        "errors": {},
        **extra,
    }


@router.get("/catalog/needs", response_class=HTMLResponse)
def need_list(
    request: Request,
    db_session: DB,
    actor: PageActor,
    open_only: bool = False,
    resource: str = "",
) -> Response:
    context = _list_context(db_session, actor, open_only, form={"resource_code": resource})
    return render(request, "catalog/needs.html", context)


@router.post("/catalog/needs", response_class=HTMLResponse)
def need_state(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    try:
        need = needs.state_need(db_session, actor=actor, data=NeedIn(**filled(form)))
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        context = _list_context(db_session, actor, form=form, errors=field_errors(exc))
        return render(request, "catalog/needs.html", context, 422)
    return redirect(f"/catalog/needs/{need.id}", "需求已提出，等待平台管理单位分派")


def _detail_context(db_session: DB, actor: Actor, need_id: int, **extra: Any) -> dict[str, Any]:
    need = needs.get_need(db_session, actor=actor, need_id=need_id)
    operator = actor.has(Role.PLATFORM_OPERATOR)
    can_answer = (
        need.state is NeedState.ASSIGNED
        and actor.has(*common.SUBMITTERS)
        and actor.organization_id == need.assignee_id
    )
    published = (
        [
            row
            for row in overview.department_resources(db_session, actor=actor)
            if row.resource.status is ResourceStatus.PUBLISHED
        ]
        if can_answer
        else []
    )
    return {
        "need": need,
        "can_assign": operator and need.state in needs.OPEN_STATES,
        "can_answer": can_answer,
        "organizations": identity_service.list_organizations(db_session, actor=actor)
        if operator
        else [],
        "published": published,
        "errors": {},
        "form": {},
        **extra,
    }


@router.get("/catalog/needs/{need_id}", response_class=HTMLResponse)
def need_detail(request: Request, db_session: DB, actor: PageActor, need_id: Id) -> Response:
    return render(request, "catalog/needs_detail.html", _detail_context(db_session, actor, need_id))


@router.post("/catalog/needs/{need_id}/assign", response_class=HTMLResponse)
def need_assign(
    request: Request,
    db_session: DB,
    actor: PageActor,
    need_id: Id,
    organization_id: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        org_id = optional_id(organization_id)
        if org_id is None:
            raise Invalid("请选择承接部门", field="organization_id")
        need = needs.assign_need(
            db_session, actor=actor, need_id=need_id, organization_id=org_id, note=note
        )
    except DomainError as exc:
        db_session.rollback()
        context = _detail_context(
            db_session, actor, need_id, errors=field_errors(exc), form={"note": note}
        )
        return render(request, "catalog/needs_detail.html", context, exc.status)
    assignee = need.assignee.name if need.assignee else ""
    return redirect(f"/catalog/needs/{need_id}", f"已分派给{assignee}")


@router.post("/catalog/needs/{need_id}/answer", response_class=HTMLResponse)
def need_answer(
    request: Request,
    db_session: DB,
    actor: PageActor,
    need_id: Id,
    outcome: Annotated[str, Form()] = "",
    answer: Annotated[str, Form()] = "",
    resource_code: Annotated[str, Form()] = "",
) -> Response:
    try:
        if outcome not in ("fulfilled", "declined"):
            raise Invalid("请选择“已满足”或“无法满足”", field="outcome")
        needs.answer_need(
            db_session,
            actor=actor,
            need_id=need_id,
            fulfilled=outcome == "fulfilled",
            answer=answer,
            resource_code=resource_code or None,
        )
    except DomainError as exc:
        db_session.rollback()
        form = {"outcome": outcome, "answer": answer, "resource_code": resource_code}
        context = _detail_context(db_session, actor, need_id, errors=field_errors(exc), form=form)
        return render(request, "catalog/needs_detail.html", context, exc.status)
    return redirect(f"/catalog/needs/{need_id}", "已答复，提出需求的部门会收到通知")


@router.get("/catalog/responsibilities", response_class=HTMLResponse)
def responsibilities(
    request: Request, db_session: DB, actor: PageActor, organization_id: str | None = None
) -> Response:
    supervisor = actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY)
    org_id = optional_id(organization_id) if supervisor else None
    shown = org_id or actor.organization_id
    rows = (
        needs.responsibility_list(db_session, actor=actor, organization_id=org_id)
        if shown is not None
        else []
    )
    organizations = identity_service.list_organizations(db_session, actor=actor)
    return render(
        request,
        "catalog/responsibilities.html",
        {
            "rows": rows,
            "supervisor": supervisor,
            "organizations": organizations,
            "shown": next((o for o in organizations if o.id == shown), None),
            "today": clock.today(),
        },
    )
