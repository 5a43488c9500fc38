"""Identity JSON API: organisations, users, data officers, agreements, API tokens, sign-in."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from govshare.core.errors import Forbidden
from govshare.core.inputs import Id
from govshare.identity import schemas
from govshare.identity import service as identity_service
from govshare.web.deps import (
    CSRF_HEADER,
    DB,
    LOGIN_REFUSED,
    SESSION_COOKIE,
    CrossSiteSignIn,
    CurrentActor,
    SignedIn,
    check_same_origin,
    clear_session_cookie,
    client_ip,
    csrf_token,
    runtime_of,
    set_session_cookie,
)
from govshare.web.errors import problem_response

router = APIRouter(tags=["身份与组织"])


@router.post(
    "/session",
    summary="登录（浏览器会话）",
    description=(
        "成功时设置会话 Cookie（HttpOnly；经 HTTPS 访问时带 Secure），并在响应头 "
        f"`{CSRF_HEADER}` 中返回本会话的防跨站令牌：以 Cookie 身份发出的修改类请求须带此请求头。"
        "浏览器从其他站点发起的登录请求被拒绝（403）。"
    ),
)
def sign_in(request: Request, db_session: DB, data: schemas.SignInIn) -> Response:
    try:
        check_same_origin(request)
    except CrossSiteSignIn:
        raise Forbidden(LOGIN_REFUSED) from None
    settings = runtime_of(request).settings
    result = identity_service.sign_in(
        db_session,
        username=data.username,
        password=data.password,
        policy=identity_service.SignInPolicy(
            settings.login_max_failures, settings.login_lock_minutes, settings.session_hours
        ),
        source_ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    if result.failure is not None:  # returned, not raised: the failed attempt is committed
        return problem_response(request, result.failure.to_problem())
    assert result.user is not None
    response = JSONResponse(
        schemas.UserOut.model_validate(_user_dict(result.user)).model_dump(mode="json")
    )
    set_session_cookie(request, response, result.session_token or "")
    response.headers[CSRF_HEADER] = csrf_token(request, result.session_token or "")
    return response


@router.delete(
    "/session",
    status_code=204,
    summary="退出登录（结束浏览器会话）",
    description=(
        "结束会话 Cookie 所属的服务端会话并清除该 Cookie，记入审计日志（与页面上的“退出”相同）。"
        f"以 Cookie 身份调用时须带请求头 `{CSRF_HEADER}`。没有有效会话时同样返回 204。"
    ),
    responses={
        204: {"description": "已退出（或本来就没有有效会话）"},
        403: {"description": "缺少或错误的防跨站令牌"},
    },
)
def sign_out(request: Request, db_session: DB, actor: CurrentActor) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and actor.user_id is not None and actor.token_id is None:
        identity_service.sign_out(db_session, actor=actor, token=token)
    response = Response(status_code=204)
    clear_session_cookie(request, response)
    return response


def _user_dict(user: Any) -> dict[str, Any]:
    return {
        **{c: getattr(user, c) for c in schemas.UserOut.model_fields if c != "roles"},
        "roles": sorted(user.roles),
    }


@router.get("/organizations", summary="组织机构列表")
def list_organizations(db_session: DB, actor: SignedIn) -> list[schemas.OrganizationOut]:
    orgs = identity_service.list_organizations(db_session, actor=actor)
    return [schemas.OrganizationOut.model_validate(o) for o in orgs]


@router.post("/organizations", status_code=201, summary="登记组织机构")
def create_organization(
    db_session: DB, actor: SignedIn, data: schemas.OrganizationIn
) -> schemas.OrganizationOut:
    org = identity_service.create_organization(db_session, actor=actor, data=data)
    return schemas.OrganizationOut.model_validate(org)


@router.get("/organizations/{organization_id}", summary="组织机构详情")
def get_organization(
    db_session: DB, actor: SignedIn, organization_id: Id
) -> schemas.OrganizationOut:
    org = identity_service.get_organization(
        db_session, actor=actor, organization_id=organization_id
    )
    return schemas.OrganizationOut.model_validate(org)


@router.put("/organizations/{organization_id}", summary="修改组织机构")
def update_organization(
    db_session: DB, actor: SignedIn, organization_id: Id, data: schemas.OrganizationIn
) -> schemas.OrganizationOut:
    org = identity_service.update_organization(
        db_session, actor=actor, organization_id=organization_id, data=data
    )
    return schemas.OrganizationOut.model_validate(org)


class DataOfficerIn(BaseModel):
    user_id: Id
    started_on: date | None = None


class DataOfficerTermOut(BaseModel):
    user_id: int
    real_name: str
    started_on: date
    ended_on: date | None
    appointed_by: str


@router.get("/organizations/{organization_id}/data-officers", summary="数据专员任职记录")
def data_officers(db_session: DB, actor: SignedIn, organization_id: Id) -> list[DataOfficerTermOut]:
    terms = identity_service.data_officer_history(
        db_session, actor=actor, organization_id=organization_id
    )
    return [
        DataOfficerTermOut(
            user_id=t.user_id,
            real_name=t.user.real_name,
            started_on=t.started_on,
            ended_on=t.ended_on,
            appointed_by=t.appointed_by,
        )
        for t in terms
    ]


@router.post(
    "/organizations/{organization_id}/data-officers", status_code=201, summary="任命数据专员"
)
def appoint_data_officer(
    db_session: DB, actor: SignedIn, organization_id: Id, data: DataOfficerIn
) -> DataOfficerTermOut:
    term = identity_service.appoint_data_officer(
        db_session,
        actor=actor,
        organization_id=organization_id,
        user_id=data.user_id,
        started_on=data.started_on,
    )
    return DataOfficerTermOut(
        user_id=term.user_id,
        real_name=term.user.real_name,
        started_on=term.started_on,
        ended_on=term.ended_on,
        appointed_by=term.appointed_by,
    )


@router.get("/users", summary="用户列表")
def list_users(
    db_session: DB, actor: SignedIn, organization_id: Id | None = None
) -> list[schemas.UserOut]:
    users = identity_service.list_users(db_session, actor=actor, organization_id=organization_id)
    return [schemas.UserOut.model_validate(_user_dict(u)) for u in users]


@router.post("/users", status_code=201, summary="创建用户")
def create_user(db_session: DB, actor: SignedIn, data: schemas.UserIn) -> schemas.UserOut:
    user = identity_service.create_user(db_session, actor=actor, data=data)
    return schemas.UserOut.model_validate(_user_dict(user))


@router.get("/users/{user_id}", summary="用户详情")
def get_user(db_session: DB, actor: SignedIn, user_id: Id) -> schemas.UserOut:
    return schemas.UserOut.model_validate(
        _user_dict(identity_service.get_user(db_session, actor=actor, user_id=user_id))
    )


@router.patch("/users/{user_id}", summary="修改用户")
def update_user(
    db_session: DB, actor: SignedIn, user_id: Id, data: schemas.UserUpdate
) -> schemas.UserOut:
    user = identity_service.update_user(db_session, actor=actor, user_id=user_id, data=data)
    return schemas.UserOut.model_validate(_user_dict(user))


@router.post("/users/{user_id}/unlock", summary="解除锁定")
def unlock_user(db_session: DB, actor: SignedIn, user_id: Id) -> schemas.UserOut:
    user = identity_service.unlock_user(db_session, actor=actor, user_id=user_id)
    return schemas.UserOut.model_validate(_user_dict(user))


class AgreementOut(schemas.ConfidentialityAgreementIn):
    id: int
    recorded_by: str


@router.get("/users/{user_id}/confidentiality-agreements", summary="保密协议")
def agreements(db_session: DB, actor: SignedIn, user_id: Id) -> list[AgreementOut]:
    rows = identity_service.list_confidentiality_agreements(
        db_session, actor=actor, user_id=user_id
    )
    return [AgreementOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/users/{user_id}/confidentiality-agreements", status_code=201, summary="登记保密协议")
def record_agreement(
    db_session: DB, actor: SignedIn, user_id: Id, data: schemas.ConfidentialityAgreementIn
) -> AgreementOut:
    row = identity_service.record_confidentiality_agreement(
        db_session, actor=actor, user_id=user_id, data=data
    )
    return AgreementOut.model_validate(row, from_attributes=True)


@router.get("/api-tokens", summary="接口令牌列表")
def list_tokens(db_session: DB, actor: SignedIn) -> list[schemas.ApiTokenOut]:
    return [
        schemas.ApiTokenOut.model_validate(t)
        for t in identity_service.list_api_tokens(db_session, actor=actor)
    ]


@router.post("/api-tokens", status_code=201, summary="签发接口令牌（令牌只返回这一次）")
def issue_token(db_session: DB, actor: SignedIn, data: schemas.ApiTokenIn) -> schemas.IssuedToken:
    token, secret = identity_service.issue_api_token(db_session, actor=actor, data=data)
    return schemas.IssuedToken.model_validate(
        {**schemas.ApiTokenOut.model_validate(token).model_dump(), "token": secret}
    )


@router.delete("/api-tokens/{token_id}", summary="吊销接口令牌")
def revoke_token(db_session: DB, actor: SignedIn, token_id: Id) -> schemas.ApiTokenOut:
    return schemas.ApiTokenOut.model_validate(
        identity_service.revoke_api_token(db_session, actor=actor, token_id=token_id)
    )
