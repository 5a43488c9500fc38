"""The public's account pages (OPN-2, SR§22): register, sign in and out, the account with
its API key, applying for a conditional dataset and following one's applications.

Routes are thin: they read the form, ask `accounts`, and render or redirect. Every POST
carries a CSRF token (the session's once signed in, else the double-submit cookie's); one
without it is refused with 403. Pages that need an account send a signed-out visitor to the
sign-in page, which brings them back (`next`) afterwards.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from govshare.portal import accounts, catalog
from govshare.portal.accounts import ApplicationForm, Invalid, Registration
from govshare.portal.db import PortalDatabase
from govshare.portal.pages import _looks_like_name, not_found
from govshare.portal.templating import base_url, render, root_path

router = APIRouter(
    tags=["开放门户账户"], include_in_schema=False, dependencies=[Depends(accounts.identify)]
)

_LOCAL_PATH = re.compile(r"/(?![/\\])[^\x00-\x1f\x7f\\]{0,300}")


async def _posted_form(request: Request) -> FormData:
    return await request.form()


Posted = Annotated[FormData, Depends(_posted_form)]


def _database(request: Request) -> PortalDatabase:
    return request.app.state.portal


def safe_next(value: object) -> str:
    """Where to go after signing in: a path of this portal, never another site."""
    if isinstance(value, str) and _LOCAL_PATH.fullmatch(value):
        return value
    return ""


def _redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(root_path(request) + path, status_code=303)


def _to_sign_in(request: Request, back_to: str) -> RedirectResponse:
    return _redirect(request, "/account/login?" + urlencode({"next": back_to}))


def _page(
    request: Request,
    s: Session,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    """A page of one person's own: never cached, with the form token's cookie if new."""
    response = render(request, s, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    accounts.keep_form_token(request, response)
    return response


def _message(
    request: Request,
    s: Session,
    title: str,
    message: str,
    status_code: int,
    links: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    context = {"title": title, "message": message, "links": links or []}
    return _page(request, s, "portal/account_message.html", context, status_code)


def _csrf_refused(request: Request) -> HTMLResponse:
    with _database(request).session() as s:
        return _message(
            request,
            s,
            "请求未通过安全校验",
            "页面已过期或请求来源不明（缺少或不符的安全校验码），为保护您的账户，本次提交未被受理。"
            "请返回上一页，刷新后重新提交。",
            403,
        )


# --- registration ---------------------------------------------------------------------------


def _register_page(
    request: Request,
    s: Session,
    form: Registration,
    next_path: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "form": form,
        "errors": errors or {},
        "next": next_path,
        "csrf": accounts.form_token(request),
        "kinds": accounts.KIND_LABELS,
    }
    return _page(request, s, "portal/account_register.html", context, status_code)


@router.get("/account/register", response_class=HTMLResponse)
def register_form(request: Request) -> Response:
    """The registration form: a citizen's or, with ?kind=organization, an organisation's."""
    next_path = safe_next(request.query_params.get("next"))
    if accounts.current(request):
        return _redirect(request, next_path or "/account")
    kind = request.query_params.get("kind", "person")
    form = Registration(kind=kind if kind in accounts.KIND_LABELS else "person")
    with _database(request).session() as s:
        return _register_page(request, s, form, next_path)


@router.post("/account/register", response_class=HTMLResponse)
def register(request: Request, posted: Posted) -> Response:
    """Registers the account and signs it in; every problem is shown next to its field."""
    if not accounts.csrf_passes(request, posted, signed_in=False):
        return _csrf_refused(request)
    form = Registration.from_form(posted)
    next_path = safe_next(posted.get("next"))
    shown = replace(form, password="", confirm="")
    portal = _database(request)
    try:
        with portal.session() as s:
            try:
                account = accounts.register(s, form=form)
            except Invalid as refused:
                if refused.problems.keys() == {"kind"}:
                    shown = Registration(kind="person")
                return _register_page(request, s, shown, next_path, refused.problems, 400)
            token = accounts.start_session(s, account_id=account.id)
            previous = request.cookies.get(accounts.SESSION_COOKIE)
            if previous:
                accounts.sign_out(s, token=previous)
    except IntegrityError:
        # Someone registered the same number between our check and our write.
        problem = {"mobile": "该手机号码、身份证号码或统一社会信用代码刚刚已被注册，请直接登录"}
        with portal.session() as s:
            return _register_page(request, s, shown, next_path, problem, 400)
    response = _redirect(request, next_path or "/account?registered=1")
    accounts.set_session_cookie(request, response, token)
    return response


# --- signing in and out ---------------------------------------------------------------------


def _login_page(
    request: Request,
    s: Session,
    login: str,
    next_path: str,
    problem: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "login": login,
        "next": next_path,
        "problem": problem,
        "csrf": accounts.form_token(request),
    }
    return _page(request, s, "portal/account_login.html", context, status_code)


@router.get("/account/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    """The sign-in form (login: the mobile number)."""
    next_path = safe_next(request.query_params.get("next"))
    if accounts.current(request):
        return _redirect(request, next_path or "/account")
    with _database(request).session() as s:
        return _login_page(request, s, "", next_path)


@router.post("/account/login", response_class=HTMLResponse)
def login(request: Request, posted: Posted) -> Response:
    """Signs in: a new session and its cookie, then back to where the visitor was going."""
    if not accounts.csrf_passes(request, posted, signed_in=False):
        return _csrf_refused(request)
    login_value = posted.get("login")
    password = posted.get("password")
    login_text = login_value.strip()[:30] if isinstance(login_value, str) else ""
    next_path = safe_next(posted.get("next"))
    with _database(request).session() as s:
        result = accounts.sign_in(
            s, login=login_text, password=password if isinstance(password, str) else ""
        )
        if result.token is None:
            return _login_page(request, s, login_text, next_path, result.refusal, 400)
        previous = request.cookies.get(accounts.SESSION_COOKIE)
        if previous:
            accounts.sign_out(s, token=previous)
    response = _redirect(request, next_path or "/account")
    accounts.set_session_cookie(request, response, result.token)
    return response


@router.post("/account/logout", response_class=HTMLResponse)
def logout(request: Request, posted: Posted) -> Response:
    """Signs out: the session ends on the server and its cookie is cleared."""
    token = request.cookies.get(accounts.SESSION_COOKIE)
    if accounts.current(request) is not None:
        if not accounts.csrf_passes(request, posted, signed_in=True):
            return _csrf_refused(request)
        with _database(request).session() as s:
            accounts.sign_out(s, token=token or "")
    response = _redirect(request, "/")
    accounts.clear_session_cookie(request, response)
    return response


# --- the account ----------------------------------------------------------------------------


def _account_page(request: Request, s: Session, account_id: int, new_key: str = "") -> HTMLResponse:
    found = accounts.account(s, account_id)
    views = accounts.applications(s, account_id=account_id)
    context = {
        "account": found,
        "kind_label": accounts.KIND_LABELS.get(found.kind, found.kind) if found else "",
        "id_number": accounts.masked_id_number(found.id_number if found else None),
        "mobile": accounts.masked_mobile(found.mobile) if found else "",
        "application_count": len(views),
        "pending_count": sum(1 for v in views if v.application.state in accounts.PENDING),
        "new_key": new_key,
        "registered": request.query_params.get("registered") == "1",
        "base_url": base_url(request),
    }
    return _page(request, s, "portal/account_home.html", context)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    """The account: who it is (ID number masked), its applications, its API key."""
    visitor = accounts.current(request)
    if visitor is None:
        return _to_sign_in(request, "/account")
    with _database(request).session() as s:
        return _account_page(request, s, visitor.account_id)


@router.post("/account/api-key", response_class=HTMLResponse)
def create_api_key(request: Request, posted: Posted) -> Response:
    """A new API key, shown on this page once; the previous one stops working."""
    visitor = accounts.current(request)
    if visitor is None:
        return _to_sign_in(request, "/account")
    if not accounts.csrf_passes(request, posted, signed_in=True):
        return _csrf_refused(request)
    with _database(request).session() as s:
        key = accounts.new_api_key(s, account_id=visitor.account_id)
        return _account_page(request, s, visitor.account_id, new_key=key)


@router.get("/account/applications", response_class=HTMLResponse)
def my_applications(request: Request) -> Response:
    """The account's applications with their state, deadline and answer."""
    visitor = accounts.current(request)
    if visitor is None:
        return _to_sign_in(request, "/account/applications")
    raw = request.query_params.get("submitted", "")
    submitted = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None
    with _database(request).session() as s:
        views = accounts.applications(s, account_id=visitor.account_id)
        context = {
            "views": views,
            "submitted": next((v for v in views if v.application.id == submitted), None),
        }
        return _page(request, s, "portal/account_applications.html", context)


# --- applying -------------------------------------------------------------------------------


def _apply_page(
    request: Request,
    s: Session,
    data: Any,
    visitor: accounts.Visitor,
    form: ApplicationForm,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "data": data,
        "form": form,
        "errors": errors or {},
        "csrf": visitor.csrf,
        "applicant": accounts.account(s, visitor.account_id),
        "pending": accounts.pending_application(
            s, account_id=visitor.account_id, dataset_id=data.id
        ),
        "access": accounts.entitled(s, visitor.account_id, data),
        "agreement": accounts.AGREEMENT,
        "limits": {"purpose": accounts.PURPOSE_LENGTH, "usage": accounts.USAGE_LENGTH},
    }
    return _page(request, s, "portal/apply.html", context, status_code)


def _not_applicable(request: Request, s: Session, data: Any) -> HTMLResponse:
    return _message(
        request,
        s,
        "无需申请",
        f"「{data.title}」为无条件开放数据，无需申请，可直接浏览、下载和调用接口。",
        400,
        [(f"/dataset/{data.name}", f"查看「{data.title}」")],
    )


@router.get("/dataset/{name}/apply", response_class=HTMLResponse)
def apply_form(request: Request, name: str) -> Response:
    """The application form of a conditional dataset: its open conditions, purpose, usage,
    the items wanted and the commitment."""
    visitor = accounts.current(request)
    with _database(request).session() as s:
        data = catalog.dataset(s, name) if _looks_like_name(name) else None
        if data is None:
            return not_found(request, s, f"没有名为「{name[:100]}」的开放数据集。")
        if visitor is None:
            return _to_sign_in(request, f"/dataset/{data.name}/apply")
        if not accounts.can_apply(data):
            return _not_applicable(request, s, data)
        return _apply_page(request, s, data, visitor, ApplicationForm())


@router.post("/dataset/{name}/apply", response_class=HTMLResponse)
def apply(request: Request, name: str, posted: Posted) -> Response:
    """Submits the application; the platform accepts and answers it."""
    visitor = accounts.current(request)
    if visitor is None:
        with _database(request).session() as s:
            return _message(
                request,
                s,
                "请先登录",
                "申请使用有条件开放数据须先登录。登录后请重新填写申请。",
                403,
                [("/account/login?" + urlencode({"next": f"/dataset/{name[:100]}/apply"}), "登录")],
            )
    if not accounts.csrf_passes(request, posted, signed_in=True):
        return _csrf_refused(request)
    form = ApplicationForm.from_form(posted)
    with _database(request).session() as s:
        data = catalog.dataset(s, name) if _looks_like_name(name) else None
        if data is None:
            return not_found(request, s, f"没有名为「{name[:100]}」的开放数据集。")
        if not accounts.can_apply(data):
            return _not_applicable(request, s, data)
        try:
            application = accounts.apply(s, account_id=visitor.account_id, data=data, form=form)
        except Invalid as refused:
            status = 409 if "dataset" in refused.problems else 400
            return _apply_page(request, s, data, visitor, form, refused.problems, status)
        number = application.id
    return _redirect(request, f"/account/applications?submitted={number}")
