"""Catalog API: update deadlines after a law change or a change of duties (CAT-5)."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from govshare.catalog.models import ChangeEvent
from govshare.catalog.schemas import ChangeEventIn
from govshare.catalog.service import changes
from govshare.core.inputs import Code, Id
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/catalog", tags=["资源目录"])


class ChangeEventOut(BaseModel):
    id: int
    organization_id: int
    organization: str
    cause: str
    cause_label: str
    description: str
    occurred_on: date
    due_on: date
    due_provisional: bool
    due_label: str
    overdue: bool
    filing_required: bool
    recorded_at: datetime
    recorded_by: str
    closed_on: date | None
    closed_by: str | None
    closure_note: str | None
    updated_codes: list[str] | None


def _out(event: ChangeEvent) -> ChangeEventOut:
    return ChangeEventOut(
        id=event.id,
        organization_id=event.organization_id,
        organization=event.organization.name,
        cause=event.cause.value,
        cause_label=event.cause.label,
        description=event.description,
        occurred_on=event.occurred_on,
        due_on=event.due_on,
        due_provisional=event.due_provisional,
        due_label=changes.deadline(event).label,
        overdue=changes.is_overdue(event),
        filing_required=event.filing_required,
        recorded_at=event.recorded_at,
        recorded_by=event.recorded_by,
        closed_on=event.closed_on,
        closed_by=event.closed_by,
        closure_note=event.closure_note,
        updated_codes=event.updated_codes,
    )


@router.post("/change-events", status_code=201, summary="登记法规或职能变化（目录更新事项）")
def record_event(
    request: Request, db_session: DB, actor: SignedIn, data: ChangeEventIn
) -> ChangeEventOut:
    event = changes.record_change_event(
        db_session, actor=actor, data=data, rules=runtime_of(request).profile.rules
    )
    return _out(event)


@router.get("/change-events", summary="目录更新事项")
def list_events(
    db_session: DB, actor: SignedIn, organization_id: Id | None = None, open_only: bool = False
) -> list[ChangeEventOut]:
    rows = changes.list_change_events(
        db_session, actor=actor, organization_id=organization_id, open_only=open_only
    )
    return [_out(e) for e in rows]


@router.get("/change-events/overdue", summary="逾期未更新目录的部门")
def overdue(db_session: DB, actor: SignedIn) -> list[dict[str, object]]:
    rows = changes.overdue_departments(db_session, actor=actor)
    return [
        {
            "organization_id": r.organization_id,
            "organization": r.name,
            "overdue": r.overdue,
            "oldest_due_on": r.oldest_due_on.isoformat(),
            "working_days_late": r.working_days_late,
        }
        for r in rows
    ]


@router.get("/change-events/{event_id}", summary="目录更新事项详情")
def get_event(db_session: DB, actor: SignedIn, event_id: Id) -> ChangeEventOut:
    return _out(changes.get_change_event(db_session, actor=actor, event_id=event_id))


class CloseIn(BaseModel):
    updated_codes: list[Code] = Field(default_factory=list, max_length=500)
    note: str = Field(default="", max_length=2000)


@router.post("/change-events/{event_id}/close", summary="办结目录更新事项（需备案的同时报备案）")
def close_event(db_session: DB, actor: SignedIn, event_id: Id, data: CloseIn) -> ChangeEventOut:
    event = changes.close_change_event(
        db_session,
        actor=actor,
        event_id=event_id,
        note=data.note,
        updated_codes=data.updated_codes,
    )
    return _out(event)
