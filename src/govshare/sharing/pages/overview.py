"""Sharing pages: the overview (共享概览) — a department's applications, answers due, grants
and any restriction on new grants; the overseers' queue summary and department records —
and the operator's queue of waiting steps with their deadlines (督办队列)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from govshare.core.permissions import Actor, Role
from govshare.core.policy import Profile
from govshare.sharing.models import ApplicationState, GrantState
from govshare.sharing.pages.common import profile_of, urgencies
from govshare.sharing.service import application_views, deadlines, feedback, freshness, grants
from govshare.sharing.service.applications import OPEN_STATES
from govshare.sharing.service.common import APPLICANTS, oversees
from govshare.web.deps import DB, PageActor
from govshare.web.templating import render

router = APIRouter()
QUEUE_READERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY)


def _department(db_session: Session, actor: Actor, profile: Profile) -> dict[str, Any]:
    """The department's side of sharing, in counts with where to act."""
    assert actor.organization_id is not None
    mine = application_views.my_applications(db_session, actor=actor)
    answers = application_views.to_decide(db_session, actor=actor)
    waiting = [a for a in answers if a.state is ApplicationState.DECIDING]
    nearest = deadlines.open_step(waiting[0]) if waiting else None
    held = grants.my_grants(db_session, actor=actor)
    given = [g for u in feedback.usage(db_session, actor=actor) for g in u.grants]
    return {
        "open_applications": [a for a in mine if a.state in OPEN_STATES],
        "returned": [a for a in mine if a.state is ApplicationState.RETURNED],
        "waiting": waiting,
        "nearest": nearest,
        "nearest_label": deadlines.deadline(nearest).label if nearest else "",
        "nearest_urgency": urgencies(db_session, waiting[:1]).get(waiting[0].id)
        if waiting
        else None,
        "held": held,
        "held_active": [g for g in held if g.state is GrantState.ACTIVE],
        "held_suspended": [g for g in held if g.state is GrantState.SUSPENDED],
        "given": [g for g in given if g.state is not GrantState.ENDED],
        "stale": freshness.restriction(db_session, profile.rules, actor.organization_id),
        "stale_article": profile.rules.stale_provider_restriction.article or "",
    }


@router.get("/sharing", response_class=HTMLResponse)
def overview(request: Request, db_session: DB, actor: PageActor) -> Response:
    department = (
        _department(db_session, actor, profile_of(request))
        if actor.has(*APPLICANTS) and actor.organization_id is not None
        else None
    )
    queue = deadlines.queue(db_session, actor=actor) if actor.has(*QUEUE_READERS) else None
    records = deadlines.department_records(db_session, actor=actor) if oversees(actor) else []
    return render(
        request,
        "sharing/overview.html",
        {
            "department": department,
            "oversight": oversees(actor),
            "queue": queue,
            "overdue": [r for r in queue or [] if r.urgency is deadlines.Urgency.OVERDUE],
            "due_soon": [r for r in queue or [] if r.urgency is deadlines.Urgency.DUE_SOON],
            "records": records,
        },
    )


@router.get("/sharing/queue", response_class=HTMLResponse)
def queue(request: Request, db_session: DB, actor: PageActor) -> Response:
    rows = deadlines.queue(db_session, actor=actor)
    return render(
        request,
        "sharing/queue.html",
        {
            "rows": rows,
            "deadline": deadlines.deadline,
            "records": deadlines.department_records(db_session, actor=actor),
        },
    )
