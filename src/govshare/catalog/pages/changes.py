"""Catalog pages: update deadlines after a law change or a change of duties (CAT-5)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from govshare.catalog.models import ChangeCause
from govshare.catalog.schemas import ChangeEventIn
from govshare.catalog.service import changes, common, overview
from govshare.core import clock
from govshare.core.errors import DomainError
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role
from govshare.identity import service as identity_service
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, field_errors, filled, optional_id
from govshare.web.templating import redirect, render

router = APIRouter()


def _list_context(
    request: Request,
    db_session: DB,
    actor: Actor,
    organization_id: int | None = None,
    open_only: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    supervisor = actor.has(*changes.SUPERVISORS)
    rules = runtime_of(request).profile.rules
    today = clock.today()
    return {
        "events": changes.list_change_events(
            db_session,
            actor=actor,
            organization_id=organization_id if supervisor else None,
            open_only=open_only,
        ),
        "overdue": changes.overdue_departments(db_session, actor=actor) if supervisor else [],
        "supervisor": supervisor,
        "can_record": actor.has(*common.COMPILERS, Role.PLATFORM_OPERATOR),
        "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        "organizations": identity_service.list_organizations(db_session, actor=actor),
        "organization_id": organization_id,
        "open_only": open_only,
        "causes": ChangeCause.choices(),
        "days_rule": rules.catalog_update_days,
        "filing_rule": rules.catalog_update_filing_required,
        "today": today,
        "deadline": changes.deadline,
        "is_overdue": lambda e: changes.is_overdue(e, today),
        "form": {"occurred_on": today.isoformat()},
        "errors": {},
        **extra,
    }


@router.get("/catalog/changes", response_class=HTMLResponse)
def change_list(
    request: Request,
    db_session: DB,
    actor: PageActor,
    organization_id: str | None = None,
    open_only: bool = False,
) -> Response:
    context = _list_context(request, db_session, actor, optional_id(organization_id), open_only)
    return render(request, "catalog/changes.html", context)


@router.post("/catalog/changes", response_class=HTMLResponse)
def change_record(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    try:
        data = ChangeEventIn(**filled(form))
        event = changes.record_change_event(
            db_session, actor=actor, data=data, rules=runtime_of(request).profile.rules
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        context = _list_context(request, db_session, actor, form=form, errors=field_errors(exc))
        return render(request, "catalog/changes.html", context, 422)
    label = changes.deadline(event).label
    return redirect(f"/catalog/changes/{event.id}", f"已登记，目录更新期限为 {label}")


def _detail_context(db_session: DB, actor: Actor, event_id: int, **extra: Any) -> dict[str, Any]:
    event = changes.get_change_event(db_session, actor=actor, event_id=event_id)
    can_close = (
        event.closed_at is None
        and actor.has(*common.SUBMITTERS)
        and actor.organization_id == event.organization_id
    )
    own = overview.department_resources(db_session, actor=actor) if can_close else []
    return {
        "event": event,
        "deadline": changes.deadline(event),
        "overdue": changes.is_overdue(event),
        "can_close": can_close,
        "own_resources": own,
        "errors": {},
        "form": {"updated_codes": []},
        **extra,
    }


@router.get("/catalog/changes/{event_id}", response_class=HTMLResponse)
def change_detail(request: Request, db_session: DB, actor: PageActor, event_id: Id) -> Response:
    return render(
        request, "catalog/changes_detail.html", _detail_context(db_session, actor, event_id)
    )


@router.post("/catalog/changes/{event_id}/close", response_class=HTMLResponse)
def change_close(
    request: Request,
    db_session: DB,
    actor: PageActor,
    event_id: Id,
    updated_codes: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        event = changes.close_change_event(
            db_session, actor=actor, event_id=event_id, note=note, updated_codes=updated_codes
        )
    except DomainError as exc:
        db_session.rollback()
        form = {"updated_codes": updated_codes, "note": note}
        context = _detail_context(db_session, actor, event_id, form=form, errors=field_errors(exc))
        return render(request, "catalog/changes_detail.html", context, exc.status)
    done = "已办结" + ("，并已报主管部门备案" if event.filing_required else "")
    return redirect(f"/catalog/changes/{event_id}", done)
