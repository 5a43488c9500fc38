"""Identity pages: sign-in and out, password, organisations, users, own unit, API tokens."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from govshare.core import clock
from govshare.core.errors import DomainError
from govshare.core.inputs import Id
from govshare.core.permissions import PERSON_ROLES, Actor, Role, require
from govshare.identity import schemas
from govshare.identity import service as identity_service
from govshare.identity.models import Level, OrganizationKind
from govshare.systems import service as systems_service
from govshare.web.deps import (
    DB,
    LOGIN_REFUSED,
    SESSION_COOKIE,
    CrossSiteSignIn,
    CurrentActor,
    PageActor,
    check_login_form,
    clear_login_cookie,
    clear_session_cookie,
    client_ip,
    login_field_token,
    login_nonce,
    runtime_of,
    set_login_cookie,
    set_session_cookie,
)
from govshare.web.forms import PostedForm, field_errors, filled
from govshare.web.templating import redirect, render

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


# --- sign-in ---------------------------------------------------------------------------


def _login_page(request: Request, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """The sign-in form, its hidden field paired with the visitor's pre-session cookie."""
    nonce = login_nonce(request)
    context = context | {"login_token": login_field_token(request, nonce)}
    response = render(request, "identity/login.html", context, status_code)
    set_login_cookie(request, response, nonce)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, actor: CurrentActor, next: str = "/") -> Response:
    if actor.user_id is not None:
        return redirect(_safe_next(next))
    return _login_page(request, {"next": _safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    db_session: DB,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    try:
        check_login_form(request, csrf_token)
    except CrossSiteSignIn:  # before the password is looked at: a forged post counts nothing
        context = {"error": LOGIN_REFUSED, "username": "", "next": _safe_next(next)}
        return _login_page(request, context, status_code=403)
    settings = runtime_of(request).settings
    policy = identity_service.SignInPolicy(
        settings.login_max_failures, settings.login_lock_minutes, settings.session_hours
    )
    result = identity_service.sign_in(
        db_session,
        username=username,
        password=password,
        policy=policy,
        source_ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    if result.failure is not None:
        context = {"error": result.failure.message, "username": username, "next": _safe_next(next)}
        return _login_page(request, context, status_code=result.failure.status)
    response = redirect(_safe_next(next))
    set_session_cookie(request, response, result.session_token or "")
    clear_login_cookie(request, response)
    return response


@router.post("/logout")
def logout(request: Request, db_session: DB, actor: CurrentActor) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and actor.user_id is not None:
        identity_service.sign_out(db_session, actor=actor, token=token)
    response = redirect("/login", "您已安全退出")
    clear_session_cookie(request, response)
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, actor: PageActor) -> Response:
    return render(request, "identity/password.html", {})


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    db_session: DB,
    actor: PageActor,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:
    if new_password != confirm_password:
        return render(
            request,
            "identity/password.html",
            {"errors": {"confirm_password": "两次输入的新密码不一致"}},
            422,
        )
    try:
        identity_service.change_password(
            db_session,
            actor=actor,
            current_password=current_password,
            new_password=new_password,
            current_session=request.cookies.get(SESSION_COOKIE),
        )
    except DomainError as exc:
        db_session.rollback()
        return render(request, "identity/password.html", {"errors": field_errors(exc)}, exc.status)
    return redirect("/", "密码已修改，您在其他设备或浏览器上的登录已全部退出")


# --- organisations ---------------------------------------------------------------------


def _org_form_context(db_session: DB, actor: Actor, **extra: Any) -> dict[str, Any]:
    orgs = identity_service.list_organizations(db_session, actor=actor)
    return {"organizations": orgs, "levels": list(Level), "kinds": list(OrganizationKind), **extra}


@router.get("/admin/organizations", response_class=HTMLResponse)
def organizations(request: Request, db_session: DB, actor: PageActor) -> Response:
    require(actor, Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR, action="查看组织机构")
    orgs = identity_service.list_organizations(db_session, actor=actor)
    return render(
        request,
        "identity/organizations.html",
        {"organizations": orgs, "depths": identity_service.organization_depths(orgs)},
    )


@router.get("/admin/organizations/new", response_class=HTMLResponse)
def organization_new(request: Request, db_session: DB, actor: PageActor) -> Response:
    require(actor, Role.PLATFORM_OPERATOR, action="登记组织机构")
    return render(
        request, "identity/organization_form.html", _org_form_context(db_session, actor, form={})
    )


def _org_input(form: dict[str, Any]) -> schemas.OrganizationIn:
    return schemas.OrganizationIn(**filled(form))


@router.post("/admin/organizations/new", response_class=HTMLResponse)
def organization_create(
    request: Request, db_session: DB, actor: PageActor, form: PostedForm
) -> Response:
    try:
        org = identity_service.create_organization(db_session, actor=actor, data=_org_input(form))
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        context = _org_form_context(db_session, actor, form=form, errors=field_errors(exc))
        return render(request, "identity/organization_form.html", context, 422)
    return redirect(f"/admin/organizations/{org.id}", f"已登记：{org.name}")


@router.get("/admin/organizations/{organization_id}", response_class=HTMLResponse)
def organization_detail(
    request: Request, db_session: DB, actor: PageActor, organization_id: Id
) -> Response:
    return render(
        request,
        "identity/organization.html",
        _organization_context(db_session, actor, organization_id),
    )


def _organization_context(db_session: DB, actor: Actor, organization_id: int) -> dict[str, Any]:
    org = identity_service.get_organization(
        db_session, actor=actor, organization_id=organization_id
    )
    return {
        "org": org,
        "members": identity_service.list_users(db_session, actor=actor, organization_id=org.id)
        if actor.has(*identity_service.DIRECTORY_READERS) or actor.organization_id == org.id
        else [],
        "terms": identity_service.data_officer_history(
            db_session, actor=actor, organization_id=org.id
        ),
        "can_appoint": actor.has(Role.PLATFORM_OPERATOR)
        or (actor.has(Role.DEPARTMENT_HEAD) and actor.organization_id == org.id),
        "can_edit": actor.has(Role.PLATFORM_OPERATOR),
        "today": clock.today().isoformat(),
    }


@router.get("/my-organization", response_class=HTMLResponse)
def my_organization(request: Request, db_session: DB, actor: PageActor) -> Response:
    return render(
        request,
        "identity/organization.html",
        _organization_context(db_session, actor, actor.organization_id or 0),
    )


@router.get("/admin/organizations/{organization_id}/edit", response_class=HTMLResponse)
def organization_edit(
    request: Request, db_session: DB, actor: PageActor, organization_id: Id
) -> Response:
    require(actor, Role.PLATFORM_OPERATOR, action="修改组织机构")
    org = identity_service.get_organization(
        db_session, actor=actor, organization_id=organization_id
    )
    form = {
        k: getattr(org, k) for k in ("name", "short_name", "uscc", "level", "kind", "parent_id")
    }
    return render(
        request,
        "identity/organization_form.html",
        _org_form_context(db_session, actor, form=form, org=org),
    )


@router.post("/admin/organizations/{organization_id}/edit", response_class=HTMLResponse)
def organization_update(
    request: Request, db_session: DB, actor: PageActor, form: PostedForm, organization_id: Id
) -> Response:
    try:
        org = identity_service.update_organization(
            db_session, actor=actor, organization_id=organization_id, data=_org_input(form)
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        org = identity_service.get_organization(
            db_session, actor=actor, organization_id=organization_id
        )
        context = _org_form_context(db_session, actor, form=form, org=org, errors=field_errors(exc))
        return render(request, "identity/organization_form.html", context, 422)
    return redirect(f"/admin/organizations/{org.id}", "已保存")


@router.post("/admin/organizations/{organization_id}/data-officer", response_class=HTMLResponse)
def appoint_data_officer(
    request: Request,
    db_session: DB,
    actor: PageActor,
    organization_id: Id,
    user_id: Annotated[int, Form()],
    started_on: Annotated[date | None, Form()] = None,
) -> Response:
    try:
        identity_service.appoint_data_officer(
            db_session,
            actor=actor,
            organization_id=organization_id,
            user_id=user_id,
            started_on=started_on,
        )
    except DomainError as exc:
        db_session.rollback()
        context = _organization_context(db_session, actor, organization_id) | {
            "appoint_error": exc.message
        }
        return render(request, "identity/organization.html", context, exc.status)
    return redirect(f"/admin/organizations/{organization_id}", "已任命数据专员")


# --- users -----------------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
def users(
    request: Request, db_session: DB, actor: PageActor, organization_id: Id | None = None
) -> Response:
    require(actor, Role.PLATFORM_OPERATOR, action="管理用户")
    rows = identity_service.list_users(db_session, actor=actor, organization_id=organization_id)
    orgs = identity_service.list_organizations(db_session, actor=actor)
    return render(
        request,
        "identity/users.html",
        {
            "users": rows,
            "organizations": orgs,
            "organization_id": organization_id,
            "now": clock.now(),
        },
    )


def _user_form_context(db_session: DB, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "organizations": identity_service.list_organizations(db_session, actor=actor),
        "roles": PERSON_ROLES,
        **extra,
    }


@router.get("/admin/users/new", response_class=HTMLResponse)
def user_new(request: Request, db_session: DB, actor: PageActor) -> Response:
    require(actor, Role.PLATFORM_OPERATOR, action="创建用户")
    return render(
        request,
        "identity/user_form.html",
        _user_form_context(db_session, actor, form={"roles": []}),
    )


@router.post("/admin/users/new", response_class=HTMLResponse)
def user_create(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    try:
        data = schemas.UserIn(**filled(form))
        user = identity_service.create_user(db_session, actor=actor, data=data)
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        context = _user_form_context(db_session, actor, form=form, errors=field_errors(exc))
        return render(request, "identity/user_form.html", context, 422)
    return redirect(f"/admin/users/{user.id}", f"已创建用户 {user.username}")


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_detail(request: Request, db_session: DB, actor: PageActor, user_id: Id) -> Response:
    return render(request, "identity/user.html", _user_context(db_session, actor, user_id))


def _user_context(db_session: DB, actor: Actor, user_id: int, **extra: Any) -> dict[str, Any]:
    user = identity_service.get_user(db_session, actor=actor, user_id=user_id)
    return {
        "subject": user,
        "agreements": identity_service.list_confidentiality_agreements(
            db_session, actor=actor, user_id=user.id
        ),
        "organizations": identity_service.list_organizations(db_session, actor=actor),
        "roles": PERSON_ROLES,
        "now": clock.now(),
        "can_manage": actor.has(Role.PLATFORM_OPERATOR),
        "can_record": actor.has(Role.PLATFORM_OPERATOR, Role.DEPARTMENT_HEAD, Role.DATA_OFFICER),
        **extra,
    }


@router.post("/admin/users/{user_id}", response_class=HTMLResponse)
def user_update(
    request: Request, db_session: DB, actor: PageActor, form: PostedForm, user_id: Id
) -> Response:
    try:
        data = schemas.UserUpdate(
            real_name=form.get("real_name") or None,
            mobile=form.get("mobile") or None,
            organization_id=form.get("organization_id") or None,
            roles=form.get("roles") or [],
            active=form.get("active") == "on",
        )
        identity_service.update_user(db_session, actor=actor, user_id=user_id, data=data)
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        return render(
            request,
            "identity/user.html",
            _user_context(db_session, actor, user_id, errors=field_errors(exc)),
            422,
        )
    return redirect(f"/admin/users/{user_id}", "已保存")


@router.post("/admin/users/{user_id}/unlock")
def user_unlock(db_session: DB, actor: PageActor, user_id: Id) -> Response:
    identity_service.unlock_user(db_session, actor=actor, user_id=user_id)
    return redirect(f"/admin/users/{user_id}", "账户已解锁")


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def user_reset_password(
    request: Request,
    db_session: DB,
    actor: PageActor,
    user_id: Id,
    new_password: Annotated[str, Form()] = "",
) -> Response:
    try:
        identity_service.reset_password(
            db_session, actor=actor, user_id=user_id, new_password=new_password
        )
    except DomainError as exc:
        db_session.rollback()
        return render(
            request,
            "identity/user.html",
            _user_context(db_session, actor, user_id, errors=field_errors(exc)),
            exc.status,
        )
    return redirect(f"/admin/users/{user_id}", "密码已重置，该用户的登录会话已全部失效")


@router.post("/admin/users/{user_id}/agreements", response_class=HTMLResponse)
def user_agreement(
    request: Request, db_session: DB, actor: PageActor, form: PostedForm, user_id: Id
) -> Response:
    try:
        data = schemas.ConfidentialityAgreementIn(**filled(form))
        identity_service.record_confidentiality_agreement(
            db_session, actor=actor, user_id=user_id, data=data
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        return render(
            request,
            "identity/user.html",
            _user_context(
                db_session, actor, user_id, agreement_errors=field_errors(exc), agreement_form=form
            ),
            422,
        )
    return redirect(f"/admin/users/{user_id}", "已登记保密协议")


# --- API tokens --------------------------------------------------------------------------


@router.get("/tokens", response_class=HTMLResponse)
def tokens(request: Request, db_session: DB, actor: PageActor) -> Response:
    return render(request, "identity/tokens.html", _tokens_context(db_session, actor))


def _tokens_context(db_session: DB, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "tokens": identity_service.list_api_tokens(db_session, actor=actor),
        "systems": systems_service.choices(db_session, actor=actor),
        "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        "now": clock.now(),
        **extra,
    }


@router.post("/tokens", response_class=HTMLResponse)
def token_issue(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    try:
        data = schemas.ApiTokenIn(**filled(form))
        token, secret = identity_service.issue_api_token(db_session, actor=actor, data=data)
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        return render(
            request,
            "identity/tokens.html",
            _tokens_context(db_session, actor, errors=field_errors(exc), form=form),
            422,
        )
    return render(
        request,
        "identity/tokens.html",
        _tokens_context(db_session, actor, issued=secret, issued_token=token),
    )


@router.post("/tokens/{token_id}/revoke")
def token_revoke(db_session: DB, actor: PageActor, token_id: Id) -> Response:
    token = identity_service.revoke_api_token(db_session, actor=actor, token_id=token_id)
    return redirect("/tokens", f"令牌 {token.name} 已吊销")
