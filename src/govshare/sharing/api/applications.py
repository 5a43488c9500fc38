"""Sharing API: applications, their review chain and deadlines, attachments, the operator's
queue (SHR-2/3)."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from govshare.core.errors import Invalid
from govshare.core.inputs import Id
from govshare.sharing.schemas import (
    ApplicationIn,
    ApplicationOut,
    DecisionIn,
    PreReviewIn,
    StepOut,
    Upload,
)
from govshare.sharing.service import application_views, applications, deadlines, decisions
from govshare.web.deps import DB, SignedIn, runtime_of
from govshare.web.documents import document_response

router = APIRouter(prefix="/sharing", tags=["资源共享"])


class AttachmentIn(BaseModel):
    """An attached document, its bytes in base64."""

    kind: str = Field(description="sealed_letter 加盖公章的申请函 | usage_commitment 使用承诺函")
    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(description="application/pdf, image/png or image/jpeg")
    content_base64: str


class ApplicationSubmitIn(ApplicationIn):
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)


def uploads_of(attachments: list[AttachmentIn]) -> list[Upload]:
    """Attachments carried in JSON (Base64), as uploads; a bad one named by its index."""
    uploads = []
    for index, item in enumerate(attachments):
        try:
            content = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Invalid(
                "附件内容不是合法的 Base64", field=f"attachments[{index}].content_base64"
            ) from exc
        uploads.append(
            Upload(
                kind=item.kind,
                filename=item.filename,
                content_type=item.content_type,
                content=content,
            )
        )
    return uploads


@router.post("/applications", status_code=201, summary="提交共享申请（有条件共享资源）")
def submit(
    request: Request, db_session: DB, actor: SignedIn, data: ApplicationSubmitIn
) -> ApplicationOut:
    found = applications.submit_application(
        db_session,
        actor=actor,
        profile=runtime_of(request).profile,
        data=ApplicationIn.model_validate(data.model_dump(exclude={"attachments"})),
        uploads=uploads_of(data.attachments),
    )
    return application_views.application_out(found)


@router.get("/applications", summary="本单位提出的共享申请")
def mine(db_session: DB, actor: SignedIn) -> list[ApplicationOut]:
    rows = application_views.my_applications(db_session, actor=actor)
    return [application_views.application_out(a) for a in rows]


@router.get("/decisions", summary="待本单位答复（及已答复）的共享申请，待答复的按期限排在前面")
def to_decide(db_session: DB, actor: SignedIn) -> list[ApplicationOut]:
    rows = application_views.to_decide(db_session, actor=actor)
    return [application_views.application_out(a) for a in rows]


@router.get("/applications/{application_id}", summary="共享申请详情，含各环节期限")
def get(db_session: DB, actor: SignedIn, application_id: Id) -> ApplicationOut:
    found = applications.get_application(db_session, actor=actor, application_id=application_id)
    return application_views.application_out(found)


@router.post("/applications/{application_id}/pre-review", summary="平台预审：转提供部门或退回补正")
def pre_review(
    db_session: DB, actor: SignedIn, application_id: Id, data: PreReviewIn
) -> ApplicationOut:
    found = decisions.pre_review(db_session, actor=actor, application_id=application_id, data=data)
    return application_views.application_out(found)


@router.post(
    "/applications/{application_id}/decision",
    summary="提供部门答复：同意（可缩小范围、脱敏、附条件，服务接口资源可限定可调用的接口和"
    "调用频率）或不予共享（须说明理由和依据）",
)
def decide(
    request: Request, db_session: DB, actor: SignedIn, application_id: Id, data: DecisionIn
) -> ApplicationOut:
    found = decisions.decide(
        db_session,
        actor=actor,
        profile=runtime_of(request).profile,
        application_id=application_id,
        data=data,
    )
    return application_views.application_out(found)


class WithdrawIn(BaseModel):
    reason: str = Field(default="", max_length=2000)


@router.post("/applications/{application_id}/withdraw", summary="撤回共享申请")
def withdraw(
    db_session: DB, actor: SignedIn, application_id: Id, data: WithdrawIn
) -> ApplicationOut:
    found = applications.withdraw_application(
        db_session, actor=actor, application_id=application_id, reason=data.reason
    )
    return application_views.application_out(found)


@router.post("/applications/{application_id}/resubmit", summary="补正后重新提交被退回的申请")
def resubmit(
    db_session: DB, actor: SignedIn, application_id: Id, data: ApplicationSubmitIn
) -> ApplicationOut:
    found = applications.resubmit_application(
        db_session,
        actor=actor,
        application_id=application_id,
        data=ApplicationIn.model_validate(data.model_dump(exclude={"attachments"})),
        uploads=uploads_of(data.attachments),
    )
    return application_views.application_out(found)


@router.get(
    "/attachments/{attachment_id}",
    summary="下载申请附件",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/png": {}, "image/jpeg": {}}}},
)
def attachment(db_session: DB, actor: SignedIn, attachment_id: Id) -> Response:
    found = applications.get_attachment(db_session, actor=actor, attachment_id=attachment_id)
    return document_response(found)


class QueueRowOut(BaseModel):
    application_id: int
    number: str
    consumer: str
    resource_name: str
    step: StepOut
    urgency: str
    urgency_label: str
    working_days_left: int


@router.get("/queue", summary="督办队列：所有待办环节，按期限排序（平台管理单位、主管部门）")
def queue(db_session: DB, actor: SignedIn) -> list[QueueRowOut]:
    rows = deadlines.queue(db_session, actor=actor)
    out = []
    for row in rows:
        steps = application_views.steps_out(row.application)
        step = next(s for s, m in zip(steps, row.application.steps, strict=True) if m is row.step)
        out.append(
            QueueRowOut(
                application_id=row.application.id,
                number=row.application.number,
                consumer=row.application.consumer.name,
                resource_name=row.application.version.name,
                step=step,
                urgency=row.urgency.value,
                urgency_label=row.urgency.label,
                working_days_left=row.working_days_left,
            )
        )
    return out


class DepartmentRecordOut(BaseModel):
    organization_id: int | None
    name: str
    answered: int
    answered_late: int
    open_overdue: int


@router.get("/departments", summary="各部门办理时限情况：已办、超期办结、超期未办")
def department_records(db_session: DB, actor: SignedIn) -> list[DepartmentRecordOut]:
    return [
        DepartmentRecordOut(
            organization_id=r.organization.id if r.organization else None,
            name=r.name,
            answered=r.answered,
            answered_late=r.answered_late,
            open_overdue=r.open_overdue,
        )
        for r in deadlines.department_records(db_session, actor=actor)
    ]
