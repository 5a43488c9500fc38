"""Catalog API: needs and responsibility lists (CAT-10)."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from govshare.catalog.models import Need
from govshare.catalog.service import needs
from govshare.catalog.service.needs import NeedIn
from govshare.core.inputs import Id
from govshare.web.deps import DB, SignedIn

router = APIRouter(prefix="/catalog", tags=["资源目录"])


class NeedOut(BaseModel):
    id: int
    state: str
    state_label: str
    title: str
    description: str
    requester_id: int
    requester: str
    resource_code: str | None
    expected_provider_id: int | None
    assignee_id: int | None
    assignee: str | None
    created_at: datetime
    assigned_at: datetime | None
    answered_at: datetime | None
    answer: str | None
    fulfilled_by_code: str | None


def _out(need: Need) -> NeedOut:
    return NeedOut(
        id=need.id,
        state=need.state.value,
        state_label=need.state.label,
        title=need.title,
        description=need.description,
        requester_id=need.requester_id,
        requester=need.requester.name,
        resource_code=need.resource.code if need.resource else None,
        expected_provider_id=need.expected_provider_id,
        assignee_id=need.assignee_id,
        assignee=need.assignee.name if need.assignee else None,
        created_at=need.created_at,
        assigned_at=need.assigned_at,
        answered_at=need.answered_at,
        answer=need.answer,
        fulfilled_by_code=need.fulfilled_by.code if need.fulfilled_by else None,
    )


@router.post("/needs", status_code=201, summary="提出数据需求")
def state(db_session: DB, actor: SignedIn, data: NeedIn) -> NeedOut:
    return _out(needs.state_need(db_session, actor=actor, data=data))


@router.get("/needs", summary="本单位提出的（或分派给本单位的）数据需求；平台管理单位看全部")
def list_all(
    db_session: DB, actor: SignedIn, assigned: bool = False, open_only: bool = False
) -> list[NeedOut]:
    rows = needs.list_needs(db_session, actor=actor, assigned=assigned, open_only=open_only)
    return [_out(n) for n in rows]


@router.get("/needs/{need_id}", summary="数据需求详情")
def get(db_session: DB, actor: SignedIn, need_id: Id) -> NeedOut:
    return _out(needs.get_need(db_session, actor=actor, need_id=need_id))


class AssignIn(BaseModel):
    organization_id: Id
    note: str = Field(default="", max_length=2000)


@router.post("/needs/{need_id}/assign", summary="分派数据需求")
def assign(db_session: DB, actor: SignedIn, need_id: Id, data: AssignIn) -> NeedOut:
    found = needs.assign_need(
        db_session,
        actor=actor,
        need_id=need_id,
        organization_id=data.organization_id,
        note=data.note,
    )
    return _out(found)


class AnswerIn(BaseModel):
    fulfilled: bool
    answer: str = Field(default="", max_length=2000)
    resource_code: str | None = None


@router.post("/needs/{need_id}/answer", summary="答复数据需求（已满足或无法满足）")
def answer(db_session: DB, actor: SignedIn, need_id: Id, data: AnswerIn) -> NeedOut:
    found = needs.answer_need(
        db_session,
        actor=actor,
        need_id=need_id,
        fulfilled=data.fulfilled,
        answer=data.answer,
        resource_code=data.resource_code,
    )
    return _out(found)


class ResponsibilityOut(BaseModel):
    kind: str
    kind_label: str
    title: str
    since: date
    due_on: date | None
    due_label: str | None
    overdue: bool
    link: str


@router.get("/responsibilities", summary="责任清单：本单位应办事项")
def responsibilities(
    db_session: DB, actor: SignedIn, organization_id: Id | None = None
) -> list[ResponsibilityOut]:
    rows = needs.responsibility_list(db_session, actor=actor, organization_id=organization_id)
    return [
        ResponsibilityOut(
            kind=r.kind,
            kind_label=r.kind_label,
            title=r.title,
            since=r.since,
            due_on=r.due.on if r.due else None,
            due_label=r.due.label if r.due else None,
            overdue=r.overdue,
            link=r.link,
        )
        for r in rows
    ]
