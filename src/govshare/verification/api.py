"""Verification API: objections (疑义) raised, verified, extended, answered (VER-1, VER-2,
VER-4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from govshare.core import clock, documents
from govshare.core.inputs import Id
from govshare.verification.models import (
    Evidence,
    ExtensionState,
    Objection,
    ObjectionState,
    ObjectionSubject,
)
from govshare.verification.schemas import (
    AnswerIn,
    ExtensionDecisionIn,
    ExtensionIn,
    MetadataObjectionIn,
    RecordObjectionIn,
    ServedIn,
)
from govshare.verification.service import evidence, objections
from govshare.web.deps import DB, SignedIn, runtime_of
from govshare.web.documents import document_response, uploaded

router = APIRouter(prefix="/verification", tags=["疑义校核"])


class ObjectionOut(BaseModel):
    id: int
    number: str
    subject: ObjectionSubject
    subject_label: str
    resource_code: str
    grant_id: int | None
    provider: str
    consumer: str
    keys: list[dict[str, Any]]
    items: list[str]
    claimed: dict[str, Any]
    description: str
    evidence: str
    raised_at: datetime
    raised_by: str
    due_on: date
    due_provisional: bool
    overdue: bool
    state: ObjectionState
    state_label: str
    extension: ExtensionState | None
    extension_days: int | None
    extension_reason: str | None
    max_days: int
    answered_at: datetime | None
    answer: str
    corrected: dict[str, Any]
    correction_run_id: int | None
    closed_at: datetime | None
    attachments: list[EvidenceOut]


class EvidenceOut(BaseModel):
    """A scanned document attached as evidence; its bytes at `url`."""

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    organization: str
    uploaded_at: datetime
    uploaded_by: str
    url: str


def evidence_out(found: Sequence[Evidence]) -> list[EvidenceOut]:
    return [
        EvidenceOut(
            id=e.id,
            filename=e.filename,
            content_type=e.content_type,
            size=e.size,
            sha256=e.sha256,
            organization=e.organization.name,
            uploaded_at=e.uploaded_at,
            uploaded_by=e.uploaded_by,
            url=f"/api/v1/verification/evidence/{e.id}",
        )
        for e in found
    ]


Attachments = Annotated[
    list[UploadFile],
    File(description="证明材料扫描件：PDF 或图片（PNG、JPEG），每个不超过 10 MB，最多 5 个"),
]


class ServedOut(BaseModel):
    id: int
    objection_id: int
    served_at: datetime
    served_by: str
    person: str
    proof: str


def _out(objection: Objection) -> ObjectionOut:
    return ObjectionOut(
        id=objection.id,
        number=objection.number,
        subject=objection.subject,
        subject_label=objection.subject.label,
        resource_code=objection.resource.code,
        grant_id=objection.grant_id,
        provider=objection.provider.name,
        consumer=objection.consumer.name,
        keys=objection.keys,
        items=objection.items,
        claimed=objection.claimed,
        description=objection.description,
        evidence=objection.evidence,
        raised_at=objection.raised_at,
        raised_by=objection.raised_by,
        due_on=objection.due_on,
        due_provisional=objection.due_provisional,
        overdue=objections.is_overdue(objection, clock.today()),
        state=objection.state,
        state_label=objection.state.label,
        extension=objection.extension,
        extension_days=objection.extension_days,
        extension_reason=objection.extension_reason,
        max_days=objection.max_days,
        answered_at=objection.answered_at,
        answer=objection.answer,
        corrected=objection.corrected,
        correction_run_id=objection.correction_run_id,
        closed_at=objection.closed_at,
        attachments=evidence_out(objection.attachments),
    )


@router.get("/objections", summary="疑义清单（本部门提出的和待本部门核实的；管理单位看全部）")
def list_objections(
    db_session: DB,
    actor: SignedIn,
    side: Literal["all", "provider", "consumer"] = "all",
    state: ObjectionState | None = None,
    overdue: bool = False,
) -> list[ObjectionOut]:
    found = objections.list_objections(
        db_session, actor=actor, side=side, state=state, overdue=overdue
    )
    return [_out(o) for o in found]


@router.get("/objections/{objection_id}", summary="疑义详情")
def get_objection(db_session: DB, actor: SignedIn, objection_id: Id) -> ObjectionOut:
    return _out(objections.get_objection(db_session, actor=actor, objection_id=objection_id))


@router.post(
    "/grants/{grant_id}/objections",
    status_code=201,
    summary="对依授权获得的数据记录提出疑义（主键、数据项、认为正确的值、证明材料）",
)
def raise_on_records(
    request: Request, db_session: DB, actor: SignedIn, grant_id: Id, data: RecordObjectionIn
) -> ObjectionOut:
    objection = objections.raise_on_records(
        db_session,
        actor=actor,
        profile=runtime_of(request).profile,
        grant_id=grant_id,
        data=data,
    )
    return _out(objection)


@router.post(
    "/resources/{resource_id}/objections",
    status_code=201,
    summary="对目录信息提出疑义",
)
def raise_on_metadata(
    request: Request, db_session: DB, actor: SignedIn, resource_id: Id, data: MetadataObjectionIn
) -> ObjectionOut:
    objection = objections.raise_on_metadata(
        db_session,
        actor=actor,
        profile=runtime_of(request).profile,
        resource_id=resource_id,
        data=data,
    )
    return _out(objection)


@router.post(
    "/objections/{objection_id}/extension",
    summary="申请延长核实期限（自提出之日起的工作日总数，不超过配置的上限）",
)
def request_extension(
    db_session: DB, actor: SignedIn, objection_id: Id, data: ExtensionIn
) -> ObjectionOut:
    return _out(
        objections.request_extension(db_session, actor=actor, objection_id=objection_id, data=data)
    )


@router.post("/objections/{objection_id}/extension/decision", summary="部门负责人审批延期")
def decide_extension(
    db_session: DB, actor: SignedIn, objection_id: Id, data: ExtensionDecisionIn
) -> ObjectionOut:
    return _out(
        objections.decide_extension(db_session, actor=actor, objection_id=objection_id, data=data)
    )


@router.post(
    "/objections/{objection_id}/answer",
    summary="答复疑义：确认（附更正后的值）或驳回（说明理由）",
)
def answer(db_session: DB, actor: SignedIn, objection_id: Id, data: AnswerIn) -> ObjectionOut:
    return _out(objections.answer(db_session, actor=actor, objection_id=objection_id, data=data))


@router.post(
    "/objections/{objection_id}/served",
    status_code=201,
    summary="登记凭有效证明为群众办理（核实期间）",
)
def record_served(db_session: DB, actor: SignedIn, objection_id: Id, data: ServedIn) -> ServedOut:
    served = objections.record_served(db_session, actor=actor, objection_id=objection_id, data=data)
    return ServedOut(
        id=served.id,
        objection_id=served.objection_id,
        served_at=served.served_at,
        served_by=served.served_by,
        person=served.person,
        proof=served.proof,
    )


@router.post(
    "/objections/{objection_id}/evidence",
    status_code=201,
    summary="补充证明材料扫描件（multipart 表单字段 attachments，疑义办结前，提出部门或提供部门）",
)
async def attach_to_objection(
    db_session: DB, actor: SignedIn, objection_id: Id, attachments: Attachments
) -> list[EvidenceOut]:
    found = await uploaded(attachments)
    objection = objections.get_objection(db_session, actor=actor, objection_id=objection_id)
    return evidence_out(
        evidence.attach_to_objection(db_session, actor=actor, objection=objection, documents=found)
    )


@router.get(
    "/evidence/{evidence_id}",
    summary="下载证明材料（疑义或比对不一致的当事部门、管理单位）",
    response_class=Response,
    responses={200: {"content": {t: {} for t in documents.TYPES}}},
)
def evidence_file(db_session: DB, actor: SignedIn, evidence_id: Id) -> Response:
    return document_response(evidence.read(db_session, actor=actor, evidence_id=evidence_id))
