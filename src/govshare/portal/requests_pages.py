"""The public's data requests on the portal (数据开放需求, SR§7, CAT-10): a signed-in account
asks for data that is not open yet (`/request`); everyone reads the requests and the
departments' answers (`/requests`), the requester's name masked (李*).

The platform reads submitted requests from the portal database, numbers them, has them
assigned to a department and writes the department's answer back
(`govshare.opendata.service.requests`); the portal itself only takes the request and shows
what the platform wrote.

Who is signed in: the account pages' session (`accounts.current`); its `csrf` value must come back with the
form.
"""

from __future__ import annotations

import hmac
import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from govshare.core import clock
from govshare.portal import accounts
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalDataRequest
from govshare.portal.pages import BadParameter, SearchParams, page_number, pages_of
from govshare.portal.templating import render, root_path

router = APIRouter(
    tags=["开放门户页面"], include_in_schema=False, dependencies=[Depends(accounts.identify)]
)

PAGE_SIZE = 20
PER_DAY = 10  # requests an account may make in a day: enough for anyone, a brake on floods
TITLE = (2, 200)
DESCRIPTION = (10, 4000)
DEPARTMENT_MAX = 100
# The open-data domains of SR§21 (OPN-4) as the catalog names them; the portal holds no
# platform code, so they are written here too (a platform test holds them to the catalog's).
DOMAINS: dict[str, str] = {
    "credit": "信用服务",
    "transport": "交通运输",
    "health": "医疗卫生",
    "employment": "就业",
    "social_security": "社保",
    "geography": "地理空间",
    "culture": "文化休闲",
    "education": "教育科技",
    "science": "科技创新",
    "energy": "能源",
    "agriculture": "农业农村",
    "environment": "生态环境",
    "economy": "经济建设",
    "finance": "财税金融",
    "safety": "安全生产",
    "statistics": "统计",
    "weather": "气象服务",
    "enterprise_registration": "企业登记",
    "public_administration": "政务综合",
}
STATE_LABELS = {"submitted": "已提交，待受理", "accepted": "已受理", "answered": "已答复"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tabs and line breaks are text


SignedIn = accounts.Visitor


def _database(request: Request) -> PortalDatabase:
    return request.app.state.portal


def current_account(request: Request) -> SignedIn | None:
    """The signed-in account, or None (the account pages' session)."""
    return accounts.current(request)


def masked_name(name: str) -> str:
    """A requester as the public sees them: the first character, the rest starred (李*)."""
    name = name.strip()
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else "*" * len(name)


def _login_url(request: Request, back: str) -> str:
    return f"{root_path(request)}/account/login?next={back}"


def _checked(form: dict[str, str]) -> dict[str, str]:
    """Each broken rule of a request's form, by field name (nothing when it may be kept)."""
    errors: dict[str, str] = {}
    for name, label, (least, most) in (
        ("title", "需求名称", TITLE),
        ("description", "需求描述", DESCRIPTION),
    ):
        value = form[name]
        if not value:
            errors[name] = f"请填写{label}"
        elif _CONTROL.search(value):
            errors[name] = f"{label}不能含控制字符"
        elif len(value) < least:
            errors[name] = f"{label}至少 {least} 个字"
        elif len(value) > most:
            errors[name] = f"{label}最多 {most} 个字，现为 {len(value)} 个字"
    if form["domain"] and form["domain"] not in DOMAINS:
        errors["domain"] = "请从列表中选择数据领域"
    if _CONTROL.search(form["department"]):
        errors["department"] = "部门名称不能含控制字符"
    elif len(form["department"]) > DEPARTMENT_MAX:
        errors["department"] = f"部门名称最多 {DEPARTMENT_MAX} 个字"
    return errors


def _mine(s: Any, account_id: int) -> list[PortalDataRequest]:
    return list(
        s.scalars(
            sa.select(PortalDataRequest)
            .where(PortalDataRequest.account_id == account_id)
            .order_by(PortalDataRequest.submitted_at.desc(), PortalDataRequest.id.desc())
        )
    )


def _form_page(
    request: Request,
    who: SignedIn,
    form: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    with _database(request).session() as s:
        context = {
            "who": who,
            "form": form,
            "errors": errors,
            "domains": DOMAINS,
            "mine": _mine(s, who.account_id),
            "states": STATE_LABELS,
            "submitted": request.query_params.get("submitted") == "1",
            "limits": {"title": TITLE, "description": DESCRIPTION, "department": DEPARTMENT_MAX},
        }
        return render(request, s, "portal/request_form.html", context, status_code=status_code)


def _sign_in_first(request: Request) -> HTMLResponse:
    with _database(request).session() as s:
        context = {"login_url": _login_url(request, "/request")}
        return render(request, s, "portal/request_login.html", context, status_code=401)


EMPTY = {"title": "", "description": "", "domain": "", "department": ""}


@router.get("/request", response_class=HTMLResponse)
def request_form(request: Request, who: SignedIn | None = Depends(current_account)) -> HTMLResponse:
    """The form to ask for data that is not open yet, and the account's own requests."""
    if who is None:
        return _sign_in_first(request)
    return _form_page(request, who, dict(EMPTY), {})


@router.post("/request", response_class=HTMLResponse)
async def request_submit(
    request: Request, who: SignedIn | None = Depends(current_account)
) -> Response:
    """Take a request: checked field by field, kept as typed when refused."""
    if who is None:
        return _sign_in_first(request)
    posted = await request.form()
    form = {
        name: value.strip() if isinstance(value := posted.get(name, ""), str) else ""
        for name in (*EMPTY, "csrf_token")
    }
    if not hmac.compare_digest(form.pop("csrf_token").encode(), who.csrf.encode()):
        with _database(request).session() as s:
            message = "表单已过期或不是从本站提交的，请刷新页面后重新填写。"
            context = {"title": "无法提交", "message": message}
            return render(request, s, "portal/message.html", context, status_code=403)
    errors = _checked(form)
    if not errors:
        with _database(request).session() as s:
            since = clock.now() - timedelta(days=1)
            today = s.scalar(
                sa.select(sa.func.count())
                .select_from(PortalDataRequest)
                .where(
                    PortalDataRequest.account_id == who.account_id,
                    PortalDataRequest.submitted_at > since,
                )
            )
            if (today or 0) >= PER_DAY:
                errors["_"] = f"每个账户 24 小时内最多提出 {PER_DAY} 条数据开放需求，请稍后再提。"
            else:
                s.add(
                    PortalDataRequest(
                        account_id=who.account_id,
                        title=form["title"],
                        description=form["description"],
                        domain=form["domain"] or None,
                        department=form["department"],
                        submitted_at=clock.now(),
                        state="submitted",
                        assigned_department="",
                        answer="",
                    )
                )
    if errors:
        return _form_page(request, who, form, errors, status_code=422)
    return RedirectResponse(f"{root_path(request)}/request?submitted=1", status_code=303)


@router.get("/requests", response_class=HTMLResponse)
def request_list(request: Request) -> HTMLResponse:
    """Every request and its answer, newest first; the requester's name masked."""
    with _database(request).session() as s:
        try:
            page = page_number(request.query_params.get("page"))
        except BadParameter as error:
            context = {"title": "数据开放需求", "message": str(error)}
            return render(request, s, "portal/message.html", context, status_code=400)
        count = s.scalar(sa.select(sa.func.count()).select_from(PortalDataRequest)) or 0
        rows = s.scalars(
            sa.select(PortalDataRequest)
            .order_by(PortalDataRequest.submitted_at.desc(), PortalDataRequest.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        ).all()
        context = {
            "rows": [(r, masked_name(r.account.name)) for r in rows],
            "count": count,
            "domains": DOMAINS,
            "states": STATE_LABELS,
            "params": SearchParams(page=page),
            "pager": pages_of(count, page),
        }
        return render(request, s, "portal/requests.html", context)
