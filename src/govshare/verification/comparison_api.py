"""Comparison API (比对, 一数一源, VER-3): the operator's definitions and runs, the results
with their cases, each department's cases to settle, its answer and the operator's
mediation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from govshare.core import clock
from govshare.core.inputs import Id, Page
from govshare.verification.api import Attachments, EvidenceOut, evidence_out
from govshare.verification.comparison_models import (
    Comparison,
    ComparisonRunRecord,
    Mismatch,
    MismatchKind,
    MismatchState,
    RunState,
    RunTrigger,
    Schedule,
    Side,
)
from govshare.verification.comparison_schemas import CaseAnswerIn, ComparisonIn, MediationIn
from govshare.verification.service import comparisons, evidence
from govshare.web.deps import DB, SignedIn, runtime_of
from govshare.web.documents import uploaded

router = APIRouter(prefix="/verification", tags=["比对"])
PAGE_SIZE = 100


class ComparisonOut(BaseModel):
    id: int
    name: str
    description: str
    left_resource_id: int
    left_resource_code: str
    left_department_id: int
    right_resource_id: int
    right_resource_code: str
    right_department_id: int
    keys: list[dict[str, Any]]
    items: list[dict[str, Any]]
    key_authority: Side | None
    schedule: Schedule
    schedule_label: str
    next_run_at: datetime | None
    active: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class RunOut(BaseModel):
    id: int
    comparison_id: int
    trigger: RunTrigger
    state: RunState
    state_label: str
    started_at: datetime
    started_by: str
    finished_at: datetime | None
    left_rows: int
    right_rows: int
    left_blank_keys: int
    right_blank_keys: int
    matched: int
    equal: int
    differing: int
    differing_by_item: dict[str, int]
    only_left: int
    only_right: int
    duplicate_keys_left: int
    duplicate_keys_right: int
    mismatches: int
    cases_opened: int
    cases_gone: int
    cases_live: int
    error: str


class MismatchOut(BaseModel):
    id: int
    comparison_id: int
    comparison_name: str
    key: list[str]
    kind: MismatchKind
    kind_label: str
    items: list[dict[str, Any]]
    side: Side
    department_id: int
    department: str
    state: MismatchState
    state_label: str
    found_run_id: int
    last_seen_run_id: int
    closed_run_id: int | None
    opened_at: datetime
    due_on: date
    due_provisional: bool
    overdue: bool
    answer: str
    evidence: str
    answered_at: datetime | None
    answered_by: str | None
    mediation: str
    mediated_at: datetime | None
    mediated_by: str | None
    closed_at: datetime | None
    attachments: list[EvidenceOut]


def _comparison_out(c: Comparison) -> ComparisonOut:
    return ComparisonOut(
        id=c.id,
        name=c.name,
        description=c.description,
        left_resource_id=c.left_resource_id,
        left_resource_code=c.left_resource.code,
        left_department_id=c.left_resource.provider_id,
        right_resource_id=c.right_resource_id,
        right_resource_code=c.right_resource.code,
        right_department_id=c.right_resource.provider_id,
        keys=c.keys,
        items=c.items,
        key_authority=c.key_authority,
        schedule=c.schedule,
        schedule_label=c.schedule.label,
        next_run_at=c.next_run_at,
        active=c.active,
        created_at=c.created_at,
        created_by=c.created_by,
        updated_at=c.updated_at,
        updated_by=c.updated_by,
    )


def _run_out(r: ComparisonRunRecord) -> RunOut:
    return RunOut(
        id=r.id,
        comparison_id=r.comparison_id,
        trigger=r.trigger,
        state=r.state,
        state_label=r.state.label,
        started_at=r.started_at,
        started_by=r.started_by,
        finished_at=r.finished_at,
        left_rows=r.left_rows,
        right_rows=r.right_rows,
        left_blank_keys=r.left_blank_keys,
        right_blank_keys=r.right_blank_keys,
        matched=r.matched,
        equal=r.equal,
        differing=r.differing,
        differing_by_item=r.differing_by_item,
        only_left=r.only_left,
        only_right=r.only_right,
        duplicate_keys_left=r.duplicate_keys_left,
        duplicate_keys_right=r.duplicate_keys_right,
        mismatches=r.mismatches,
        cases_opened=r.cases_opened,
        cases_gone=r.cases_gone,
        cases_live=r.cases_live,
        error=r.error,
    )


def _mismatch_out(m: Mismatch) -> MismatchOut:
    return MismatchOut(
        id=m.id,
        comparison_id=m.comparison_id,
        comparison_name=m.comparison.name,
        key=m.key,
        kind=m.kind,
        kind_label=m.kind.label,
        items=m.items,
        side=m.side,
        department_id=m.department_id,
        department=m.department.name,
        state=m.state,
        state_label=m.state.label,
        found_run_id=m.found_run_id,
        last_seen_run_id=m.last_seen_run_id,
        closed_run_id=m.closed_run_id,
        opened_at=m.opened_at,
        due_on=m.due_on,
        due_provisional=m.due_provisional,
        overdue=comparisons.is_overdue(m, clock.today()),
        answer=m.answer,
        evidence=m.evidence,
        answered_at=m.answered_at,
        answered_by=m.answered_by,
        mediation=m.mediation,
        mediated_at=m.mediated_at,
        mediated_by=m.mediated_by,
        closed_at=m.closed_at,
        attachments=evidence_out(m.attachments),
    )


@router.get("/comparisons", summary="比对清单（管理单位看全部，部门看涉及本部门资源的）")
def list_comparisons(db_session: DB, actor: SignedIn) -> list[ComparisonOut]:
    return [_comparison_out(c) for c in comparisons.list_comparisons(db_session, actor=actor)]


@router.post(
    "/comparisons",
    status_code=201,
    summary="定义比对：两个部门已绑定的库表资源、主键映射、比对项及其规范化与权威来源",
)
def define(request: Request, db_session: DB, actor: SignedIn, data: ComparisonIn) -> ComparisonOut:
    center = runtime_of(request).center
    return _comparison_out(comparisons.define(db_session, actor=actor, center=center, data=data))


@router.get("/comparisons/{comparison_id}", summary="比对定义")
def get_comparison(db_session: DB, actor: SignedIn, comparison_id: Id) -> ComparisonOut:
    found = comparisons.get_comparison(db_session, actor=actor, comparison_id=comparison_id)
    return _comparison_out(found)


@router.put("/comparisons/{comparison_id}", summary="修改比对（已产生的不一致事项不受影响）")
def update(
    request: Request, db_session: DB, actor: SignedIn, comparison_id: Id, data: ComparisonIn
) -> ComparisonOut:
    updated = comparisons.update(
        db_session,
        actor=actor,
        center=runtime_of(request).center,
        comparison_id=comparison_id,
        data=data,
    )
    return _comparison_out(updated)


@router.post(
    "/comparisons/{comparison_id}/runs",
    status_code=201,
    summary="立即执行比对（失败时记录原因，不报错）",
)
def run_now(request: Request, db_session: DB, actor: SignedIn, comparison_id: Id) -> RunOut:
    runtime = runtime_of(request)
    run = comparisons.run_now(
        db_session,
        actor=actor,
        profile=runtime.profile,
        center=runtime.center,
        comparison_id=comparison_id,
    )
    return _run_out(run)


@router.get(
    "/comparisons/{comparison_id}/runs",
    summary="比对历次执行结果（由早到晚，最近 60 次），用于不一致数量趋势图",
)
def history(db_session: DB, actor: SignedIn, comparison_id: Id) -> list[RunOut]:
    runs = comparisons.history(db_session, actor=actor, comparison_id=comparison_id)
    return [_run_out(r) for r in runs]


@router.get(
    "/mismatches",
    summary="比对不一致事项（部门看待本部门处理的；管理单位看全部，可只看逾期的）",
)
def list_mismatches(
    db_session: DB,
    actor: SignedIn,
    comparison_id: Id | None = None,
    state: MismatchState | None = None,
    kind: MismatchKind | None = None,
    item: Annotated[str | None, Query(max_length=200, description="只看该数据项不一致的")] = None,
    overdue: bool = False,
    page: Page = 1,
) -> list[MismatchOut]:
    found = comparisons.list_mismatches(
        db_session,
        actor=actor,
        comparison_id=comparison_id,
        state=state,
        kind=kind,
        item=item,
        overdue=overdue,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return [_mismatch_out(m) for m in found]


@router.get("/mismatches/{mismatch_id}", summary="比对不一致事项详情")
def get_mismatch(db_session: DB, actor: SignedIn, mismatch_id: Id) -> MismatchOut:
    return _mismatch_out(comparisons.get_mismatch(db_session, actor=actor, mismatch_id=mismatch_id))


@router.post(
    "/mismatches/{mismatch_id}/answer",
    summary="部门答复：已在源头更正，或附证明材料提出异议",
)
def answer_case(
    db_session: DB, actor: SignedIn, mismatch_id: Id, data: CaseAnswerIn
) -> MismatchOut:
    answered = comparisons.answer_case(db_session, actor=actor, mismatch_id=mismatch_id, data=data)
    return _mismatch_out(answered)


@router.post(
    "/mismatches/{mismatch_id}/evidence",
    status_code=201,
    summary="上传证明材料扫描件（multipart 表单字段 attachments，处理部门，办结前；可先上传再提出异议）",
)
async def attach_to_mismatch(
    db_session: DB, actor: SignedIn, mismatch_id: Id, attachments: Attachments
) -> list[EvidenceOut]:
    found = await uploaded(attachments)
    mismatch = comparisons.get_mismatch(db_session, actor=actor, mismatch_id=mismatch_id)
    return evidence_out(
        evidence.attach_to_mismatch(db_session, actor=actor, mismatch=mismatch, documents=found)
    )


@router.post(
    "/mismatches/{mismatch_id}/mediation",
    summary="平台管理单位协调：办结，或退回部门重新处理（新的期限）",
)
def mediate(
    request: Request, db_session: DB, actor: SignedIn, mismatch_id: Id, data: MediationIn
) -> MismatchOut:
    mediated = comparisons.mediate(
        db_session,
        actor=actor,
        profile=runtime_of(request).profile,
        mismatch_id=mismatch_id,
        data=data,
    )
    return _mismatch_out(mediated)
