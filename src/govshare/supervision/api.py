"""Supervision API: violations found (违规发现), rectification notices (整改通知) answered and
decided, circulated notices (通报), evidence, availability (SUP-2, SR§30)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from govshare.core import clock, documents
from govshare.core.inputs import Id, Page
from govshare.core.policy import Violation
from govshare.supervision.models import (
    Finding,
    Notice,
    NoticeState,
    NoticeStep,
    ProbeTarget,
    RectificationEvidence,
)
from govshare.supervision.schemas import NoticeAnswerIn, NoticeDecisionIn
from govshare.supervision.service import evidence, findings, ledgers, notices, probes
from govshare.web.deps import DB, SignedIn, runtime_of
from govshare.web.documents import document_response, uploaded

router = APIRouter(prefix="/supervision", tags=["监督考核"])
PAGE_SIZE = 100


class FindingOut(BaseModel):
    id: int
    kind: Violation
    kind_label: str
    department_id: int
    department: str
    subject_type: str
    subject_id: int | None
    subject_label: str
    link: str
    summary: str
    facts: dict[str, Any]
    article: str
    citation: str
    first_found_at: datetime
    last_found_at: datetime
    resolved_at: datetime | None


class EvidenceOut(BaseModel):
    """A scanned document attached to an answer; its bytes at `url`."""

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str
    url: str


class StepOut(BaseModel):
    step: NoticeStep
    step_label: str
    at: datetime
    by: str
    note: str
    due_on: date | None


class NoticeOut(BaseModel):
    id: int
    number: str
    finding: FindingOut
    department_id: int
    department: str
    state: NoticeState
    state_label: str
    issued_at: datetime
    issued_on: date
    rectify_days: int
    due_on: date
    due_provisional: bool
    overdue: bool
    answer: str
    answered_at: datetime | None
    answered_by: str | None
    decision_note: str
    decided_at: datetime | None
    closed_at: datetime | None
    circular_number: str | None
    escalated_at: datetime | None
    circular_issuer: str
    circular_title: str
    circular_text: str
    steps: list[StepOut]
    attachments: list[EvidenceOut]


def finding_out(finding: Finding) -> FindingOut:
    return FindingOut(
        id=finding.id,
        kind=finding.kind,
        kind_label=finding.kind.label,
        department_id=finding.department_id,
        department=finding.department.name,
        subject_type=finding.subject_type,
        subject_id=finding.subject_id,
        subject_label=finding.subject_label,
        link=finding.link,
        summary=str(finding.facts.get("summary", "")),
        facts={k: v for k, v in finding.facts.items() if k != "summary"},
        article=finding.article,
        citation=finding.citation,
        first_found_at=finding.first_found_at,
        last_found_at=finding.last_found_at,
        resolved_at=finding.resolved_at,
    )


def evidence_out(found: Sequence[RectificationEvidence]) -> list[EvidenceOut]:
    return [
        EvidenceOut(
            id=e.id,
            filename=e.filename,
            content_type=e.content_type,
            size=e.size,
            sha256=e.sha256,
            uploaded_at=e.uploaded_at,
            uploaded_by=e.uploaded_by,
            url=f"/api/v1/supervision/evidence/{e.id}",
        )
        for e in found
    ]


def notice_out(notice: Notice) -> NoticeOut:
    return NoticeOut(
        id=notice.id,
        number=notice.number,
        finding=finding_out(notice.finding),
        department_id=notice.department_id,
        department=notice.department.name,
        state=notice.state,
        state_label=notice.state.label,
        issued_at=notice.issued_at,
        issued_on=notice.issued_on,
        rectify_days=notice.rectify_days,
        due_on=notice.due_on,
        due_provisional=notice.due_provisional,
        overdue=notices.is_overdue(notice, clock.today()),
        answer=notice.answer,
        answered_at=notice.answered_at,
        answered_by=notice.answered_by,
        decision_note=notice.decision_note,
        decided_at=notice.decided_at,
        closed_at=notice.closed_at,
        circular_number=notice.circular_number,
        escalated_at=notice.escalated_at,
        circular_issuer=notice.circular_issuer,
        circular_title=notice.circular_title,
        circular_text=notice.circular_text,
        steps=[
            StepOut(
                step=s.step, step_label=s.step.label, at=s.at, by=s.by, note=s.note, due_on=s.due_on
            )
            for s in notice.steps
        ],
        attachments=evidence_out(notice.attachments),
    )


@router.get("/findings", summary="违规发现（部门看本部门的，管理单位看全部；每页 100 条）")
def list_findings(
    db_session: DB,
    actor: SignedIn,
    kind: Violation | None = None,
    resolved: bool | None = False,
    own: bool = False,
    page: Page = 1,
) -> list[FindingOut]:
    found = findings.list_findings(
        db_session,
        actor=actor,
        kind=kind,
        resolved=resolved,
        own=own,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return [finding_out(f) for f in found]


@router.get("/findings/{finding_id}", summary="违规发现详情")
def get_finding(db_session: DB, actor: SignedIn, finding_id: Id) -> FindingOut:
    return finding_out(findings.get_finding(db_session, actor=actor, finding_id=finding_id))


class DetectionOut(BaseModel):
    found: list[FindingOut]
    kept: int
    resolved: list[int]
    issued: list[str]


@router.post("/detect", summary="立即执行违规监测（平台管理员；定时任务每小时执行）")
def detect(request: Request, db_session: DB, actor: SignedIn) -> DetectionOut:
    result = findings.detect(db_session, actor=actor, profile=runtime_of(request).profile)
    return DetectionOut(
        found=[finding_out(f) for f in result.found],
        kept=result.kept,
        resolved=[f.id for f in result.resolved],
        issued=[n.number for n in result.issued],
    )


@router.get("/notices", summary="整改通知（部门看本部门的，管理单位看全部；每页 100 条）")
def list_notices(
    db_session: DB,
    actor: SignedIn,
    state: NoticeState | None = None,
    overdue: bool = False,
    circulated: bool = False,
    own: bool = False,
    page: Page = 1,
) -> list[NoticeOut]:
    found = notices.list_notices(
        db_session,
        actor=actor,
        state=state,
        overdue=overdue,
        circulated=circulated,
        own=own,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return [notice_out(n) for n in found]


@router.get("/notices/{notice_id}", summary="整改通知详情（含通报）")
def get_notice(db_session: DB, actor: SignedIn, notice_id: Id) -> NoticeOut:
    return notice_out(notices.get_notice(db_session, actor=actor, notice_id=notice_id))


@router.post("/notices/{notice_id}/answer", summary="反馈整改情况（被通知部门的数据专员或负责人）")
def answer(db_session: DB, actor: SignedIn, notice_id: Id, data: NoticeAnswerIn) -> NoticeOut:
    return notice_out(notices.answer(db_session, actor=actor, notice_id=notice_id, data=data))


Attachments = Annotated[
    list[UploadFile],
    File(description="整改佐证材料扫描件：PDF 或图片（PNG、JPEG），每个不超过 10 MB，最多 5 个"),
]


@router.post(
    "/notices/{notice_id}/evidence",
    status_code=201,
    summary="上传整改佐证材料（multipart 表单字段 attachments，整改通过前，被通知部门）",
)
async def attach_evidence(
    db_session: DB, actor: SignedIn, notice_id: Id, attachments: Attachments
) -> list[EvidenceOut]:
    found = await uploaded(attachments)
    notice = notices.get_notice(db_session, actor=actor, notice_id=notice_id)
    return evidence_out(evidence.attach(db_session, actor=actor, notice=notice, documents=found))


@router.post(
    "/notices/{notice_id}/decision",
    summary="审核整改情况：通过（办结）或退回（说明理由，重新计算整改期限）",
)
def decide(
    request: Request, db_session: DB, actor: SignedIn, notice_id: Id, data: NoticeDecisionIn
) -> NoticeOut:
    notice = notices.decide(
        db_session,
        actor=actor,
        profile=runtime_of(request).profile,
        notice_id=notice_id,
        data=data,
    )
    return notice_out(notice)


@router.get(
    "/evidence/{evidence_id}",
    summary="下载整改佐证材料（被通知部门、管理单位）",
    response_class=Response,
    responses={200: {"content": {t: {} for t in documents.TYPES}}},
)
def evidence_file(db_session: DB, actor: SignedIn, evidence_id: Id) -> Response:
    return document_response(evidence.read(db_session, actor=actor, evidence_id=evidence_id))


class DayOut(BaseModel):
    on: date
    probes: int
    answered: int


class AvailabilityOut(BaseModel):
    target: ProbeTarget
    target_id: int
    department_id: int
    label: str
    month: float
    last_ok: bool
    last_at: datetime
    last_message: str
    days: list[DayOut]


@router.get(
    "/availability",
    summary="服务接口和数据库连接的可用性（按日、按月；部门看本部门的，管理单位看全部）",
)
def availability(
    db_session: DB, actor: SignedIn, month: date | None = None
) -> list[AvailabilityOut]:
    found = probes.availability(db_session, actor=actor, month=month)
    return [
        AvailabilityOut(
            target=a.target,
            target_id=a.target_id,
            department_id=a.department_id,
            label=a.label,
            month=round(a.month, 4),
            last_ok=a.last_ok,
            last_at=a.last_at,
            last_message=a.last_message,
            days=[DayOut(on=d.on, probes=d.probes, answered=d.answered) for d in a.days],
        )
        for a in found
    ]


class LedgerRowOut(BaseModel):
    """A department's figures for the month, keyed as `columns` name them."""

    department_id: int
    department: str
    figures: dict[str, int]


class LedgerColumnOut(BaseModel):
    key: str
    group: str
    label: str


class LedgerOut(BaseModel):
    month: str
    columns: list[LedgerColumnOut]
    rows: list[LedgerRowOut]
    totals: dict[str, int]


@router.get(
    "/ledgers",
    summary="部门工作台账（按月；部门看本部门的，管理单位看全部）",
)
def ledger(db_session: DB, actor: SignedIn, month: str = "") -> LedgerOut:
    first = ledgers.parse_month(month)
    found = ledgers.ledger(db_session, actor=actor, first=first)
    return LedgerOut(
        month=first.strftime("%Y-%m"),
        columns=[LedgerColumnOut(key=c.key, group=c.group, label=c.label) for c in ledgers.COLUMNS],
        rows=[
            LedgerRowOut(department_id=r.department_id, department=r.department, figures=r.figures)
            for r in found.rows
        ],
        totals=found.totals,
    )
