"""Sharing API: coordination cases (协调, SHR-4)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from govshare.core.inputs import Id
from govshare.sharing.schemas import (
    TEXT_MAX,
    CaseIn,
    CaseMessageOut,
    CaseOut,
    MessageIn,
    SettlementIn,
)
from govshare.sharing.service import cases
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/sharing", tags=["资源共享"])


@router.post("/cases", status_code=201, summary="发起协调（不予共享的资源，或被拒绝的申请）")
def open_case(db_session: DB, actor: SignedIn, data: CaseIn) -> CaseOut:
    return cases.case_out(cases.open_case(db_session, actor=actor, data=data))


@router.get("/cases", summary="协调事项：本单位作为使用或提供部门的；平台管理单位、主管部门看全部")
def list_cases(db_session: DB, actor: SignedIn, open_only: bool = False) -> list[CaseOut]:
    rows = cases.list_cases(db_session, actor=actor, open_only=open_only)
    return [cases.case_out(c) for c in rows]


@router.get("/cases/{case_id}", summary="协调事项详情，含协商记录")
def get_case(db_session: DB, actor: SignedIn, case_id: Id) -> CaseOut:
    return cases.case_out(cases.get_case(db_session, actor=actor, case_id=case_id))


@router.post("/cases/{case_id}/messages", status_code=201, summary="在协调事项中发表意见")
def post_message(db_session: DB, actor: SignedIn, case_id: Id, data: MessageIn) -> CaseMessageOut:
    return cases.message_out(
        cases.post_message(db_session, actor=actor, case_id=case_id, data=data)
    )


class EscalationIn(BaseModel):
    reason: str = Field(default="", max_length=TEXT_MAX)


@router.post("/cases/{case_id}/escalate", summary="提请主管部门协调（平台管理单位）")
def escalate(db_session: DB, actor: SignedIn, case_id: Id, data: EscalationIn) -> CaseOut:
    found = cases.escalate_case(db_session, actor=actor, case_id=case_id, reason=data.reason)
    return cases.case_out(found)


@router.post(
    "/cases/{case_id}/settle",
    summary="协调结案：达成一致的写明提供范围，备案并生成授权；未达成一致的记录结果",
)
def settle(
    request: Request, db_session: DB, actor: SignedIn, case_id: Id, data: SettlementIn
) -> CaseOut:
    found = cases.settle_case(
        db_session,
        actor=actor,
        profile=runtime_of(request).profile,
        case_id=case_id,
        data=data,
    )
    return cases.case_out(found)
