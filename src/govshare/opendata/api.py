"""Open-data API: the open view, the secrecy review, the operator's confirmation, and
publication to the portal (OPN-3, SR§20)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from govshare.core.inputs import Code, Id
from govshare.core.permissions import Role, require
from govshare.opendata import jobs, publishing, service
from govshare.opendata.models import PublicApplication, PublicApplicationState, ReleaseState
from govshare.opendata.schemas import (
    OpenViewIn,
    ReleaseDecisionIn,
    ReleaseOut,
    SecrecyReviewIn,
    WithdrawalIn,
)
from govshare.opendata.service import public
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/opendata", tags=["资源开放"])


class PublishOut(BaseModel):
    published: list[str]
    removed: list[str]
    unchanged: int
    problems: list[str]


def _out(release: Any) -> ReleaseOut:
    return ReleaseOut.model_validate(service.describe(release))


def publish_now(request: Request, db_session: Any) -> publishing.PublishReport:
    """The portal follows at once, published by the platform (whoever asked is audited
    on the release itself)."""
    runtime = runtime_of(request)
    return publishing.publish(
        db_session,
        actor=jobs.SCHEDULER,
        settings=runtime.settings,
        center=runtime.center,
        portal=runtime.portal,
        city_name=runtime.city_name,
    )


@router.get("/releases", summary="开放发布清单（本部门的；平台管理单位看全部）")
def releases(
    db_session: DB, actor: SignedIn, state: ReleaseState | None = None
) -> list[ReleaseOut]:
    return [_out(r) for r in service.list_releases(db_session, actor=actor, state=state)]


@router.get("/releases/{release_id}", summary="开放发布详情")
def release(db_session: DB, actor: SignedIn, release_id: Id) -> ReleaseOut:
    return _out(service.get_release(db_session, actor=actor, release_id=release_id))


@router.put(
    "/resources/{resource_code:path}/open-view",
    summary="定义开放范围：开放的信息项、数据范围和脱敏规则（个人信息须脱敏）",
)
def define(db_session: DB, actor: SignedIn, resource_code: Code, data: OpenViewIn) -> ReleaseOut:
    return _out(
        service.define_view(db_session, actor=actor, resource_code=resource_code, data=data)
    )


@router.post(
    "/releases/{release_id}/secrecy-review", summary="登记保密审查：审查人、日期、依据、结论"
)
def secrecy_review(
    db_session: DB, actor: SignedIn, release_id: Id, data: SecrecyReviewIn
) -> ReleaseOut:
    return _out(
        service.record_secrecy_review(db_session, actor=actor, release_id=release_id, data=data)
    )


@router.post("/releases/{release_id}/submit", summary="提交平台管理单位确认开放")
def submit(db_session: DB, actor: SignedIn, release_id: Id) -> ReleaseOut:
    return _out(service.submit(db_session, actor=actor, release_id=release_id))


@router.post(
    "/releases/{release_id}/decision", summary="平台管理单位确认开放（随即发布到开放门户）或退回"
)
def decide(
    request: Request, db_session: DB, actor: SignedIn, release_id: Id, data: ReleaseDecisionIn
) -> ReleaseOut:
    decided = service.decide(db_session, actor=actor, release_id=release_id, data=data)
    if data.approve:
        publish_now(request, db_session)
    return _out(decided)


@router.post("/releases/{release_id}/withdrawal", summary="撤回开放（随即从开放门户撤下）")
def withdraw(
    request: Request, db_session: DB, actor: SignedIn, release_id: Id, data: WithdrawalIn
) -> ReleaseOut:
    withdrawn = service.withdraw(db_session, actor=actor, release_id=release_id, data=data)
    publish_now(request, db_session)
    return _out(withdrawn)


@router.post("/publish", summary="把开放数据发布到开放门户（平台管理单位）")
def publish(request: Request, db_session: DB, actor: SignedIn) -> PublishOut:
    require(actor, Role.PLATFORM_OPERATOR, action="发布开放数据")
    report = publish_now(request, db_session)
    return PublishOut(
        published=report.published,
        removed=report.removed,
        unchanged=report.unchanged,
        problems=report.problems,
    )


class PublicApplicationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    resource_code: str
    applicant_kind: str
    applicant_name: str
    purpose: str
    usage: str
    fields: list[str]
    submitted_at: datetime
    due_on: date
    due_provisional: bool
    state: PublicApplicationState
    answered_at: datetime | None
    answer: str
    legal_basis: str
    granted_fields: list[str]
    valid_until: date | None
    delivered_at: datetime | None


def _application_out(application: PublicApplication) -> PublicApplicationOut:
    return PublicApplicationOut.model_validate(application)


@router.get("/applications", summary="公众的有条件开放申请（本部门的；平台管理单位看全部）")
def applications(
    db_session: DB, actor: SignedIn, overdue: bool = False
) -> list[PublicApplicationOut]:
    found = public.list_applications(db_session, actor=actor, overdue=overdue)
    return [_application_out(a) for a in found]


@router.get("/applications/{application_id}", summary="有条件开放申请详情")
def application(db_session: DB, actor: SignedIn, application_id: Id) -> PublicApplicationOut:
    found = public.get_application(db_session, actor=actor, application_id=application_id)
    return _application_out(found)


@router.post(
    "/applications/{application_id}/answer",
    summary="答复有条件开放申请（不同意须写明理由和法律政策依据），随即送达开放门户",
)
def answer(
    request: Request,
    db_session: DB,
    actor: SignedIn,
    application_id: Id,
    data: public.PublicAnswerIn,
) -> PublicApplicationOut:
    answered = public.answer(db_session, actor=actor, application_id=application_id, data=data)
    public.deliver(db_session, actor=jobs.APPLICATIONS, portal=runtime_of(request).portal)
    return _application_out(answered)
