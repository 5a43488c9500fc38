"""Security operations API (安全管理, SEC-5, SEC-7): the incident register and its reports,
the yearly security test and emergency drill, inspections and their findings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from govshare.core import clock, documents
from govshare.core.inputs import Id, Page
from govshare.core.policy import IncidentLevel
from govshare.security.models import (
    Check,
    CheckKind,
    EntryKind,
    Exercise,
    ExerciseKind,
    Incident,
    IncidentKind,
    IncidentState,
    Recipient,
    SecurityDocument,
)
from govshare.security.schemas import (
    CheckFindingIn,
    CheckIn,
    CloseIn,
    EntryIn,
    ExerciseIn,
    ExerciseResultIn,
    IncidentIn,
    ReportIn,
)
from govshare.security.service import checks, common, exercises, incidents
from govshare.web.deps import DB, SignedIn, runtime_of
from govshare.web.documents import document_response, uploaded

router = APIRouter(prefix="/security", tags=["安全管理"])
PAGE_SIZE = 100


class ReportOut(BaseModel):
    recipient: Recipient
    recipient_label: str
    hours: int
    due_at: datetime
    status: str
    status_label: str
    reported_at: datetime | None
    reported_by: str | None
    addressee: str
    reference: str
    content: str


class EntryOut(BaseModel):
    kind: EntryKind
    kind_label: str
    at: datetime
    text: str
    recorded_by: str


class Named(BaseModel):
    id: int
    name: str


class IncidentOut(BaseModel):
    id: int
    number: str
    title: str
    kind: IncidentKind
    kind_label: str
    level: IncidentLevel
    level_label: str
    state: IncidentState
    state_label: str
    occurred_at: datetime
    discovered_at: datetime
    description: str
    departments: list[Named]
    resources: list[Named]
    reports: list[ReportOut]
    entries: list[EntryOut]
    conclusion: str
    closed_at: datetime | None


def incident_out(incident: Incident) -> IncidentOut:
    now = clock.now()
    return IncidentOut(
        id=incident.id,
        number=incident.number,
        title=incident.title,
        kind=incident.kind,
        kind_label=incident.kind.label,
        level=incident.level,
        level_label=incident.level.label,
        state=incident.state,
        state_label=incident.state.label,
        occurred_at=incident.occurred_at,
        discovered_at=incident.discovered_at,
        description=incident.description,
        departments=[Named(id=d.id, name=d.name) for d in incident.departments],
        resources=[Named(id=r.id, name=r.code) for r in incident.resources],
        reports=[
            ReportOut(
                recipient=r.recipient,
                recipient_label=r.recipient.label,
                hours=r.hours,
                due_at=r.due_at,
                status=incidents.report_status(r, now).value,
                status_label=incidents.report_status(r, now).label,
                reported_at=r.reported_at,
                reported_by=r.reported_by,
                addressee=r.addressee,
                reference=r.reference,
                content=r.content,
            )
            for r in incident.reports
        ],
        entries=[
            EntryOut(
                kind=e.kind,
                kind_label=e.kind.label,
                at=e.at,
                text=e.text,
                recorded_by=e.recorded_by,
            )
            for e in incident.entries
        ],
        conclusion=incident.conclusion,
        closed_at=incident.closed_at,
    )


@router.get("/incidents", summary="安全事件（部门看涉及本部门的，管理单位看全部；每页 100 条）")
def list_incidents(
    db_session: DB,
    actor: SignedIn,
    state: IncidentState | None = None,
    overdue: bool = False,
    page: Page = 1,
) -> list[IncidentOut]:
    found = incidents.list_incidents(
        db_session,
        actor=actor,
        state=state,
        overdue=overdue,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    return [incident_out(i) for i in found]


@router.post("/incidents", status_code=201, summary="登记安全事件（按级别计算报告时限）")
def register(request: Request, db_session: DB, actor: SignedIn, data: IncidentIn) -> IncidentOut:
    profile = runtime_of(request).profile
    return incident_out(incidents.register(db_session, actor=actor, profile=profile, data=data))


@router.get("/incidents/{incident_id}", summary="安全事件详情（查看留痕）")
def get_incident(db_session: DB, actor: SignedIn, incident_id: Id) -> IncidentOut:
    return incident_out(incidents.get_incident(db_session, actor=actor, incident_id=incident_id))


@router.post("/incidents/{incident_id}/entries", summary="记录事件经过或处置措施")
def add_entry(db_session: DB, actor: SignedIn, incident_id: Id, data: EntryIn) -> IncidentOut:
    found = incidents.add_entry(db_session, actor=actor, incident_id=incident_id, data=data)
    return incident_out(found)


@router.post("/incidents/{incident_id}/reports", summary="记录向网信部门或主管部门的报告")
def report(db_session: DB, actor: SignedIn, incident_id: Id, data: ReportIn) -> IncidentOut:
    return incident_out(
        incidents.report(db_session, actor=actor, incident_id=incident_id, data=data)
    )


class LevelIn(BaseModel):
    level: IncidentLevel
    reason: str = Field(max_length=1000)


@router.post("/incidents/{incident_id}/level", summary="调整事件级别（未报告的重新计算时限）")
def reclassify(
    request: Request, db_session: DB, actor: SignedIn, incident_id: Id, data: LevelIn
) -> IncidentOut:
    found = incidents.reclassify(
        db_session,
        actor=actor,
        profile=runtime_of(request).profile,
        incident_id=incident_id,
        level=data.level,
        reason=data.reason,
    )
    return incident_out(found)


@router.post("/incidents/{incident_id}/close", summary="结案（平台管理员，两项报告均已完成）")
def close(db_session: DB, actor: SignedIn, incident_id: Id, data: CloseIn) -> IncidentOut:
    return incident_out(
        incidents.close(db_session, actor=actor, incident_id=incident_id, data=data)
    )


# --- exercises -------------------------------------------------------------------------------


class DocumentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str
    url: str


def documents_out(found: Sequence[SecurityDocument]) -> list[DocumentOut]:
    return [
        DocumentOut(
            id=d.id,
            filename=d.filename,
            content_type=d.content_type,
            size=d.size,
            sha256=d.sha256,
            uploaded_at=d.uploaded_at,
            uploaded_by=d.uploaded_by,
            url=f"/api/v1/security/documents/{d.id}",
        )
        for d in found
    ]


class ExerciseOut(BaseModel):
    id: int
    kind: ExerciseKind
    kind_label: str
    year: int
    title: str
    planned_on: date
    plan: str
    conducted_on: date | None
    conducted_by: str
    result: str
    documents: list[DocumentOut]


def exercise_out(exercise: Exercise) -> ExerciseOut:
    return ExerciseOut(
        id=exercise.id,
        kind=exercise.kind,
        kind_label=exercise.kind.label,
        year=exercise.year,
        title=exercise.title,
        planned_on=exercise.planned_on,
        plan=exercise.plan,
        conducted_on=exercise.conducted_on,
        conducted_by=exercise.conducted_by,
        result=exercise.result,
        documents=documents_out(exercise.documents),
    )


@router.get("/exercises", summary="年度安全测评和应急演练（管理单位、主管部门、审计员）")
def list_exercises(
    db_session: DB, actor: SignedIn, year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> list[ExerciseOut]:
    return [exercise_out(e) for e in exercises.list_exercises(db_session, actor=actor, year=year)]


@router.post("/exercises", status_code=201, summary="制定安全测评或应急演练计划（平台管理员）")
def plan(db_session: DB, actor: SignedIn, data: ExerciseIn) -> ExerciseOut:
    return exercise_out(exercises.plan(db_session, actor=actor, data=data))


@router.get("/exercises/{exercise_id}", summary="安全测评或应急演练详情（查看留痕）")
def get_exercise(db_session: DB, actor: SignedIn, exercise_id: Id) -> ExerciseOut:
    return exercise_out(exercises.get_exercise(db_session, actor=actor, exercise_id=exercise_id))


@router.post("/exercises/{exercise_id}/result", summary="登记开展情况和结果（平台管理员）")
def record_result(
    db_session: DB, actor: SignedIn, exercise_id: Id, data: ExerciseResultIn
) -> ExerciseOut:
    found = exercises.record_result(db_session, actor=actor, exercise_id=exercise_id, data=data)
    return exercise_out(found)


Attachments = Annotated[
    list[UploadFile],
    File(description="附件扫描件：PDF 或图片（PNG、JPEG），每个不超过 10 MB，最多 5 个"),
]


@router.post(
    "/exercises/{exercise_id}/documents",
    status_code=201,
    summary="上传计划、报告等附件（multipart 表单字段 attachments，平台管理员）",
)
async def attach_exercise(
    db_session: DB, actor: SignedIn, exercise_id: Id, attachments: Attachments
) -> list[DocumentOut]:
    found = await uploaded(attachments)
    return documents_out(
        exercises.attach(db_session, actor=actor, exercise_id=exercise_id, documents=found)
    )


# --- checks ----------------------------------------------------------------------------------


class CheckFindingOut(BaseModel):
    id: int
    department_id: int
    department: str
    description: str
    requirement: str
    notice_id: int | None
    notice_number: str | None
    notice_state: str | None


class CheckOut(BaseModel):
    id: int
    number: str
    kind: CheckKind
    kind_label: str
    title: str
    conducted_by: str
    checked_on: date
    scope: str
    conclusion: str
    findings: list[CheckFindingOut]
    documents: list[DocumentOut]


def check_out(db_session: DB, actor: SignedIn, check: Check) -> CheckOut:
    notices = checks.notices_of(db_session, actor=actor, check=check)
    return CheckOut(
        id=check.id,
        number=check.number,
        kind=check.kind,
        kind_label=check.kind.label,
        title=check.title,
        conducted_by=check.conducted_by,
        checked_on=check.checked_on,
        scope=check.scope,
        conclusion=check.conclusion,
        findings=[
            CheckFindingOut(
                id=f.id,
                department_id=f.department_id,
                department=f.department.name,
                description=f.description,
                requirement=f.requirement,
                notice_id=notices[f.id].id if f.id in notices else None,
                notice_number=notices[f.id].number if f.id in notices else None,
                notice_state=notices[f.id].state.value if f.id in notices else None,
            )
            for f in checks.visible_findings(actor, check)
        ],
        documents=documents_out(check.documents) if actor.has(*common.OVERSEERS) else [],
    )


@router.get("/checks", summary="安全检查、风险评估、保密检查（部门看发现本部门问题的）")
def list_checks(db_session: DB, actor: SignedIn, kind: CheckKind | None = None) -> list[CheckOut]:
    return [
        check_out(db_session, actor, c)
        for c in checks.list_checks(db_session, actor=actor, kind=kind)
    ]


@router.post("/checks", status_code=201, summary="登记安全检查、风险评估或保密检查（平台管理员）")
def record_check(db_session: DB, actor: SignedIn, data: CheckIn) -> CheckOut:
    return check_out(db_session, actor, checks.record_check(db_session, actor=actor, data=data))


@router.get("/checks/{check_id}", summary="检查详情（查看留痕）")
def get_check(db_session: DB, actor: SignedIn, check_id: Id) -> CheckOut:
    return check_out(
        db_session, actor, checks.get_check(db_session, actor=actor, check_id=check_id)
    )


@router.post(
    "/checks/{check_id}/findings",
    status_code=201,
    summary="登记检查发现的问题：即向该部门下发整改通知",
)
def add_finding(
    request: Request, db_session: DB, actor: SignedIn, check_id: Id, data: CheckFindingIn
) -> CheckOut:
    checks.add_finding(
        db_session, actor=actor, profile=runtime_of(request).profile, check_id=check_id, data=data
    )
    return check_out(
        db_session, actor, checks.get_check(db_session, actor=actor, check_id=check_id)
    )


@router.post(
    "/checks/{check_id}/documents",
    status_code=201,
    summary="上传检查报告等附件（multipart 表单字段 attachments，平台管理员）",
)
async def attach_check(
    db_session: DB, actor: SignedIn, check_id: Id, attachments: Attachments
) -> list[DocumentOut]:
    found = await uploaded(attachments)
    return documents_out(checks.attach(db_session, actor=actor, check_id=check_id, documents=found))


@router.get(
    "/documents/{document_id}",
    summary="下载附件（管理单位、主管部门、审计员；查看留痕）",
    response_class=Response,
    responses={200: {"content": {t: {} for t in documents.TYPES}}},
)
def document_file(db_session: DB, actor: SignedIn, document_id: Id) -> Response:
    return document_response(common.read_document(db_session, actor=actor, document_id=document_id))
