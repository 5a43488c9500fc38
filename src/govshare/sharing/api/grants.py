"""Sharing API: grants — direct access, the access check every data path makes, suspension
and renewal, use feedback, who uses a provider's data, data updates (SHR-1/3/5/6/7)."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from govshare.catalog.models import Resource
from govshare.core.errors import Forbidden, NotFound
from govshare.core.inputs import Id
from govshare.sharing.models import Feedback, Grant
from govshare.sharing.schemas import (
    ApplicationOut,
    DataUpdateIn,
    DirectAccessIn,
    FeedbackIn,
    GrantActionIn,
    GrantOut,
    RenewalIn,
)
from govshare.sharing.service import access as access_service
from govshare.sharing.service import application_views, applications, freshness, grants
from govshare.sharing.service import feedback as feedback_service
from govshare.web.deps import DB, SignedIn, runtime_of
from govshare.web.errors import problem_response

router = APIRouter(prefix="/sharing", tags=["资源共享"])


def _out(request: Request, grant: Grant) -> GrantOut:
    """The grant, its rate limit named against the platform default where it sets none."""
    default = runtime_of(request).settings.gateway_rate_limit
    return grants.grant_out(grant, default_rate_limit=default)


@router.post("/direct-access", status_code=201, summary="无条件共享资源：直接获取授权，无需审核")
def direct_access(
    request: Request, db_session: DB, actor: SignedIn, data: DirectAccessIn
) -> GrantOut:
    grant = grants.request_direct_access(
        db_session, actor=actor, rules=runtime_of(request).profile.rules, data=data
    )
    return _out(request, grant)


@router.get("/grants", summary="本单位持有的授权")
def mine(request: Request, db_session: DB, actor: SignedIn) -> list[GrantOut]:
    return [_out(request, g) for g in grants.my_grants(db_session, actor=actor)]


@router.get("/grants/{grant_id}", summary="授权详情：范围、使用约定、状态")
def get(request: Request, db_session: DB, actor: SignedIn, grant_id: Id) -> GrantOut:
    return _out(request, grants.get_grant(db_session, actor=actor, grant_id=grant_id))


@router.get(
    "/access/{resource_code:path}",
    summary="核验本单位对资源的使用授权（各数据通道使用前调用）",
    response_model=GrantOut,
    responses={403: {"description": "无有效授权，detail 说明原因（如已被暂停及其理由）"}},
)
def access(
    request: Request, db_session: DB, actor: SignedIn, resource_code: str
) -> GrantOut | JSONResponse:
    resource_id = db_session.execute(
        select(Resource.id).where(Resource.code == resource_code)
    ).scalar()
    if resource_id is None:
        raise NotFound(f"资源代码 {resource_code} 不存在", field="resource_code")
    decision = access_service.check_access(db_session, actor=actor, resource_id=resource_id)
    if not decision.allowed:
        # Returned, not raised: the refusal's audit entry is committed with the request.
        body = Forbidden(decision.reason, field="grant").to_problem()
        if decision.grant is not None:
            body["grant_id"] = decision.grant.id
            body["grant_state"] = decision.grant.state.value
        return problem_response(request, body)
    assert decision.grant is not None
    return _out(request, decision.grant)


@router.post("/grants/{grant_id}/suspend", summary="暂停授权（违规使用），原因必填，可报告主管部门")
def suspend(
    request: Request, db_session: DB, actor: SignedIn, grant_id: Id, data: GrantActionIn
) -> GrantOut:
    grant = grants.suspend_grant(db_session, actor=actor, grant_id=grant_id, data=data)
    return _out(request, grant)


@router.post("/grants/{grant_id}/resume", summary="恢复被暂停的授权")
def resume(
    request: Request, db_session: DB, actor: SignedIn, grant_id: Id, data: GrantActionIn
) -> GrantOut:
    grant = grants.resume_grant(db_session, actor=actor, grant_id=grant_id, data=data)
    return _out(request, grant)


@router.post("/grants/{grant_id}/end", summary="终止授权")
def end(
    request: Request, db_session: DB, actor: SignedIn, grant_id: Id, data: GrantActionIn
) -> GrantOut:
    grant = grants.end_grant(db_session, actor=actor, grant_id=grant_id, data=data)
    return _out(request, grant)


@router.post("/grants/{grant_id}/renewal", status_code=201, summary="申请授权续期")
def renew(
    request: Request, db_session: DB, actor: SignedIn, grant_id: Id, data: RenewalIn
) -> ApplicationOut:
    application = applications.request_renewal(
        db_session, actor=actor, profile=runtime_of(request).profile, grant_id=grant_id, data=data
    )
    return application_views.application_out(application)


class FeedbackOut(BaseModel):
    id: int
    grant_id: int
    rating: str
    rating_label: str
    cases_handled: int | None
    effect: str
    created_at: datetime
    created_by: str


def _feedback_out(item: Feedback) -> FeedbackOut:
    return FeedbackOut(
        id=item.id,
        grant_id=item.grant_id,
        rating=item.rating.value,
        rating_label=item.rating.label,
        cases_handled=item.cases_handled,
        effect=item.effect,
        created_at=item.created_at,
        created_by=item.created_by,
    )


@router.post("/grants/{grant_id}/feedback", status_code=201, summary="反馈使用成效")
def feedback(db_session: DB, actor: SignedIn, grant_id: Id, data: FeedbackIn) -> FeedbackOut:
    item = feedback_service.record_feedback(db_session, actor=actor, grant_id=grant_id, data=data)
    return _feedback_out(item)


@router.get("/grants/{grant_id}/feedback", summary="授权的使用成效反馈")
def feedback_list(db_session: DB, actor: SignedIn, grant_id: Id) -> list[FeedbackOut]:
    return [
        _feedback_out(f)
        for f in feedback_service.feedback_of(db_session, actor=actor, grant_id=grant_id)
    ]


class UsageOut(BaseModel):
    resource_id: int
    resource_code: str
    resource_name: str
    grants: list[GrantOut]
    feedback: list[FeedbackOut]


@router.get("/usage", summary="谁在用我的数据：本单位各资源的授权、用途和使用反馈")
def usage(
    request: Request, db_session: DB, actor: SignedIn, organization_id: Id | None = None
) -> list[UsageOut]:
    rows = feedback_service.usage(db_session, actor=actor, organization_id=organization_id)
    return [
        UsageOut(
            resource_id=row.resource.id,
            resource_code=row.resource.code,
            resource_name=row.name,
            grants=[_out(request, g) for g in row.grants],
            feedback=[_feedback_out(f) for items in row.feedback.values() for f in items],
        )
        for row in rows
    ]


class DataUpdateOut(BaseModel):
    id: int
    resource_id: int
    updated_on: date
    note: str


@router.post(
    "/resources/{resource_id}/data-updates",
    status_code=201,
    summary="登记资源数据已更新（提供部门或其接入系统）",
)
def data_update(
    db_session: DB, actor: SignedIn, resource_id: Id, data: DataUpdateIn
) -> DataUpdateOut:
    update = freshness.record_data_update(
        db_session, actor=actor, resource_id=resource_id, data=data
    )
    return DataUpdateOut(
        id=update.id, resource_id=update.resource_id, updated_on=update.updated_on, note=update.note
    )


class StaleOut(BaseModel):
    resource_id: int
    code: str
    name: str
    frequency: str
    last_updated_on: date
    due_on: date


class RestrictionOut(BaseModel):
    restricted: bool
    article: str | None
    stale: list[StaleOut]


@router.get("/restriction", summary="本单位是否因未按时更新数据而被限制获取新的授权")
def restriction(request: Request, db_session: DB, actor: SignedIn) -> RestrictionOut:
    rules = runtime_of(request).profile.rules
    org_id = actor.organization_id
    stale = freshness.restriction(db_session, rules, org_id) if org_id else []
    return RestrictionOut(
        restricted=bool(stale),
        article=rules.stale_provider_restriction.article,
        stale=[
            StaleOut(
                resource_id=s.resource_id,
                code=s.code,
                name=s.name,
                frequency=s.frequency.label,
                last_updated_on=s.last_updated_on,
                due_on=s.due_on,
            )
            for s in stale
        ],
    )
