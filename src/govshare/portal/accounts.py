"""The public's accounts on the portal and their use of conditional open data (OPN-2, SR§22).

A citizen registers with real name, ID number (GB 11643) and mobile; a company or other
organisation with its unified social credit code (GB 32100), a contact and a mobile. The
mobile number is the login; passwords are hashed with Argon2id.

A signed-in browser holds a random token in an HttpOnly cookie; the database keeps only its
SHA-256 (`PortalSession`), with the CSRF token that the session's forms must carry and an
expiry of SESSION_HOURS, checked against the injectable clock. Forms posted before sign-in
(registration, sign-in) carry a double-submit token instead: a random value both in a cookie
and in the form, which another site can neither read nor set.

An account applies for a conditional dataset; the platform reads the application, accepts it
with a deadline and answers it, and an approval gives a `PortalEntitlement`. `access` is the
one question every data path asks (downloads, the dataset page's preview, the CKAN
datastore): which fields of a dataset's rows may this visitor read — all of an unconditional
dataset's, the entitled fields of a conditional one while the entitlement is current, else
none. API keys (shown once, stored as SHA-256) identify an account to the CKAN API.

Functions take the portal session and only flush: the request owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from govshare.core import clock, id_number, uscc
from govshare.portal.models import (
    PortalAccount,
    PortalApplication,
    PortalDataset,
    PortalEntitlement,
    PortalField,
    PortalSession,
)
from govshare.portal.templating import city_date, root_path

SESSION_HOURS = 12
MAX_FAILED_SIGN_INS = 5
LOCK_MINUTES = 15
SESSION_COOKIE = "portal_session"
CSRF_COOKIE = "portal_csrf"
CSRF_FIELD = "csrf"
API_KEY_PREFIX = "gsp_"

KIND_LABELS = {"person": "个人", "organization": "法人或其他组织"}
NAME_LENGTH = {"person": (2, 50), "organization": (2, 100)}
CONTACT_LENGTH = (2, 50)
PASSWORD_LENGTH = (8, 128)
PURPOSE_LENGTH = (10, 2000)
USAGE_LENGTH = (10, 2000)
AGREEMENT = "承诺按申请用途使用，不向第三方提供"
# Applications the platform has yet to answer: a second one for the same data must wait.
PENDING = ("submitted", "accepted")
# An application's state at a glance (the page spells each out with its deadline or answer).
STATE_LABELS = {
    "submitted": "待受理",
    "accepted": "已受理",
    "approved": "同意",
    "refused": "不同意",
}

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A real name: letters of any script, with the separators names use (阿卜杜拉·买买提, Li Na).
_NAME = re.compile(r"[^\W\d_]+(?:[ ·•.\-][^\W\d_]+)*")
_hasher = PasswordHasher()
# Verified against when the login is unknown, so a wrong login takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("govshare-portal-timing-equaliser")


class Invalid(ValueError):
    """Input the rules refuse: each problem under its form field, naming the field's rule."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("；".join(problems.values()))
        self.problems = dict(problems)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- registration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """The registration form as typed (the fields of the other kind are ignored)."""

    kind: str = "person"
    name: str = ""
    id_number: str = ""
    credit_code: str = ""
    contact_name: str = ""
    mobile: str = ""
    password: str = ""
    confirm: str = ""

    @classmethod
    def from_form(cls, form: Mapping[str, object]) -> Registration:
        def text(key: str, *, strip: bool = True) -> str:
            value = form.get(key)
            if not isinstance(value, str):
                return ""
            return value.strip() if strip else value

        return cls(
            kind=text("kind"),
            name=text("name"),
            id_number=id_number.normalise(text("id_number")),
            credit_code=uscc.normalise(text("credit_code")),
            contact_name=text("contact_name"),
            mobile=text("mobile").replace(" ", "").replace("-", ""),
            password=text("password", strip=False),
            confirm=text("confirm", strip=False),
        )


def _name_problem(value: str, label: str, bounds: tuple[int, int], *, personal: bool) -> str | None:
    low, high = bounds
    if not value:
        return f"请填写{label}"
    if _CONTROL.search(value):
        return f"{label}不能含控制字符"
    if not low <= len(value) <= high:
        return f"{label}须为 {low}–{high} 个字，现为 {len(value)} 个字"
    if personal and not _NAME.fullmatch(value):
        return f"{label}只能由文字组成，可用间隔号（·）分隔，不能含数字或其他符号"
    return None


def password_problem(password: str) -> str | None:
    """Why a new password is too weak, or None: 8–128 characters, letters and digits."""
    low, high = PASSWORD_LENGTH
    if len(password) < low:
        return f"密码至少 {low} 位，现为 {len(password)} 位"
    if len(password) > high:
        return f"密码最多 {high} 位"
    if not any(c.isascii() and c.isalpha() for c in password) or not any(
        c.isdigit() for c in password
    ):
        return "密码须同时包含字母和数字"
    return None


def registration_problems(db_session: Session, form: Registration) -> dict[str, str]:
    """Every problem of a registration, under its field (empty when it can be registered)."""
    problems: dict[str, str] = {}
    if form.kind not in KIND_LABELS:
        return {"kind": "请选择账户类型：个人，或法人或其他组织"}
    person = form.kind == "person"
    label = "真实姓名" if person else "单位名称"
    if found := _name_problem(form.name, label, NAME_LENGTH[form.kind], personal=person):
        problems["name"] = found
    if person:
        if not form.id_number:
            problems["id_number"] = "请填写身份证号码"
        elif found := id_number.problem(form.id_number, today=clock.today()):
            problems["id_number"] = f"身份证号码{found}"
        elif _taken(db_session, PortalAccount.id_number, form.id_number):
            problems["id_number"] = "该身份证号码已注册过账户，请直接登录"
    else:
        if not form.credit_code:
            problems["credit_code"] = "请填写统一社会信用代码"
        elif found := uscc.problem(form.credit_code):
            problems["credit_code"] = f"统一社会信用代码{found}"
        elif _taken(db_session, PortalAccount.credit_code, form.credit_code):
            problems["credit_code"] = "该统一社会信用代码已注册过账户，请直接登录"
        if found := _name_problem(form.contact_name, "联系人姓名", CONTACT_LENGTH, personal=True):
            problems["contact_name"] = found
    if not form.mobile:
        problems["mobile"] = "请填写手机号码"
    elif not _MOBILE.fullmatch(form.mobile):
        problems["mobile"] = "手机号码须为 11 位数字，以 13–19 开头"
    elif _taken(db_session, PortalAccount.login, form.mobile):
        problems["mobile"] = "该手机号码已注册过账户，请直接登录"
    if found := password_problem(form.password):
        problems["password"] = found
    elif form.confirm != form.password:
        problems["confirm"] = "两次输入的密码不一致"
    return problems


def _taken(db_session: Session, column: sa.ColumnElement[str | None], value: str) -> bool:
    stmt = sa.select(PortalAccount.id).where(column == value).limit(1)
    return db_session.scalar(stmt) is not None


def register(db_session: Session, *, form: Registration) -> PortalAccount:
    """A new account from a registration form; Invalid names every problem."""
    problems = registration_problems(db_session, form)
    if problems:
        raise Invalid(problems)
    person = form.kind == "person"
    account = PortalAccount(
        kind=form.kind,
        name=form.name,
        id_number=form.id_number if person else None,
        credit_code=None if person else form.credit_code,
        contact_name="" if person else form.contact_name,
        mobile=form.mobile,
        login=form.mobile,
        password_hash=_hasher.hash(form.password),
        created_at=clock.now(),
        failed_logins=0,
    )
    db_session.add(account)
    db_session.flush()
    return account


# --- signing in and sessions ----------------------------------------------------------------


@dataclass(frozen=True)
class Visitor:
    """The signed-in account behind a request, as the pages need it."""

    account_id: int
    name: str
    csrf: str
    token_hash: str


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: a new session's cookie token, or the reason for refusal."""

    token: str | None = None
    account_id: int | None = None
    refusal: str = ""


def sign_in(db_session: Session, *, login: str, password: str) -> SignIn:
    """A new session for the account whose login and password these are, or the refusal.
    After MAX_FAILED_SIGN_INS wrong passwords in a row the account is locked for LOCK_MINUTES
    (the count is written with the refusal, so the caller commits either way)."""
    login = login.strip().replace(" ", "").replace("-", "")
    if not login or not password:
        return SignIn(refusal="请填写手机号码和密码")
    now = clock.now()
    found = db_session.scalars(
        sa.select(PortalAccount).where(PortalAccount.login == login[:18]).with_for_update()
    ).first()
    if found is None:
        _password_matches(_DUMMY_HASH, password)
        return SignIn(refusal="手机号码或密码不正确")
    if found.locked_until is not None and found.locked_until > now:
        until = city_date(found.locked_until, "%H:%M")
        return SignIn(
            refusal=f"连续 {MAX_FAILED_SIGN_INS} 次密码错误，账户已暂时锁定，请于 {until} 后再试"
        )
    if not _password_matches(found.password_hash, password):
        found.failed_logins = (found.failed_logins or 0) + 1
        if found.failed_logins >= MAX_FAILED_SIGN_INS:
            found.failed_logins = 0
            found.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            until = city_date(found.locked_until, "%H:%M")
            return SignIn(
                refusal=f"连续 {MAX_FAILED_SIGN_INS} 次密码错误，账户已锁定 {LOCK_MINUTES} 分钟，"
                f"请于 {until} 后再试"
            )
        left = MAX_FAILED_SIGN_INS - found.failed_logins
        return SignIn(
            refusal=f"手机号码或密码不正确（再错 {left} 次，账户将锁定 {LOCK_MINUTES} 分钟）"
        )
    found.failed_logins = 0
    found.locked_until = None
    if _hasher.check_needs_rehash(found.password_hash):
        found.password_hash = _hasher.hash(password)
    return SignIn(token=start_session(db_session, account_id=found.id), account_id=found.id)


def start_session(db_session: Session, *, account_id: int) -> str:
    """A new session of the account (at sign-in, or right after registering); its token."""
    now = clock.now()
    # Sessions that ran out are of no use to anyone: drop them as the owner comes back.
    db_session.execute(
        sa.delete(PortalSession).where(
            PortalSession.account_id == account_id, PortalSession.expires_at <= now
        )
    )
    token = secrets.token_urlsafe(32)
    db_session.add(
        PortalSession(
            token_hash=sha256(token),
            account_id=account_id,
            csrf=secrets.token_urlsafe(32),
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )
    db_session.flush()
    return token


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def visitor(db_session: Session, token: str) -> Visitor | None:
    """The signed-in account of a session cookie's token, while the session lasts."""
    if not token or len(token) > 100:
        return None
    found = db_session.execute(
        sa.select(PortalSession, PortalAccount.name)
        .join(PortalAccount, PortalAccount.id == PortalSession.account_id)
        .where(PortalSession.token_hash == sha256(token), PortalSession.expires_at > clock.now())
    ).first()
    if found is None:
        return None
    session, name = found
    return Visitor(session.account_id, name, session.csrf, session.token_hash)


def sign_out(db_session: Session, *, token: str) -> None:
    """Ends the session of a cookie's token (nothing if there is none)."""
    db_session.execute(sa.delete(PortalSession).where(PortalSession.token_hash == sha256(token)))


def identify(request: Request) -> None:
    """Router dependency of the portal's pages: `request.state.visitor` is the signed-in
    account, or None. Only a request with a session cookie costs a database read."""
    request.state.visitor = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with request.app.state.portal.session() as db_session:
            request.state.visitor = visitor(db_session, token)


def current(request: Request) -> Visitor | None:
    return getattr(request.state, "visitor", None)


def cookie_path(request: Request) -> str:
    """The portal's own cookies are sent only to the portal (under /open in the demo)."""
    return root_path(request) or "/"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        path=cookie_path(request),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=cookie_path(request),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


# --- CSRF -----------------------------------------------------------------------------------


def form_token(request: Request) -> str:
    """The token a form posted before sign-in carries: the double-submit cookie's value (a new
    one when the browser has none yet; `keep_form_token` sets it on the response)."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if re.fullmatch(r"[A-Za-z0-9_-]{20,100}", existing):
        return existing
    token = getattr(request.state, "new_form_token", None) or secrets.token_urlsafe(32)
    request.state.new_form_token = token
    return token


def keep_form_token(request: Request, response: Response) -> None:
    """Sets the double-submit cookie when `form_token` made a new token for this page."""
    token = getattr(request.state, "new_form_token", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            path=cookie_path(request),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )


def csrf_passes(request: Request, form: Mapping[str, object], *, signed_in: bool) -> bool:
    """Whether a posted form carries its token: the session's for a signed-in action, the
    double-submit cookie's for registration and sign-in."""
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not sent:
        return False
    if signed_in:
        found = current(request)
        expected = found.csrf if found else ""
    else:
        expected = request.cookies.get(CSRF_COOKIE, "")
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


# --- the account and its API key ------------------------------------------------------------


def account(db_session: Session, account_id: int) -> PortalAccount | None:
    return db_session.get(PortalAccount, account_id)


def masked_id_number(number: str | None) -> str:
    """An ID number as the account page shows it: 110105********002X."""
    if not number:
        return ""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def masked_mobile(mobile: str) -> str:
    return mobile[:3] + "****" + mobile[7:] if len(mobile) == 11 else mobile


def new_api_key(db_session: Session, *, account_id: int) -> str:
    """A new API key for the account, replacing its previous one; returned once, kept only
    as its SHA-256."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    found = db_session.get(PortalAccount, account_id)
    if found is None:
        raise LookupError(f"no portal account {account_id}")
    found.api_key_hash = sha256(key)
    db_session.flush()
    return key


def api_key_account(db_session: Session, key: str) -> PortalAccount | None:
    """The account an API key belongs to, or None."""
    key = key.strip()
    if not key.startswith(API_KEY_PREFIX) or len(key) > 100:
        return None
    stmt = sa.select(PortalAccount).where(PortalAccount.api_key_hash == sha256(key))
    return db_session.scalars(stmt).first()


# --- applications ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationForm:
    """An application as typed: purpose, usage, the items wanted, the commitment ticked."""

    purpose: str = ""
    usage: str = ""
    fields: tuple[str, ...] = ()
    agreed: bool = False

    @classmethod
    def from_form(cls, form: FormData) -> ApplicationForm:
        def text(key: str) -> str:
            value = form.get(key)
            return value.strip() if isinstance(value, str) else ""

        chosen = [v for v in form.getlist("fields") if isinstance(v, str)]
        return cls(
            purpose=text("purpose"),
            usage=text("usage"),
            fields=tuple(dict.fromkeys(chosen)),
            agreed=text("agree") == "yes",
        )


def can_apply(data: PortalDataset) -> bool:
    """Only conditional open data is applied for; the rest is open to all."""
    return data.open_type == "conditional"


def pending_application(
    db_session: Session, *, account_id: int, dataset_id: int
) -> PortalApplication | None:
    """The account's application for the dataset that awaits the platform's answer."""
    stmt = sa.select(PortalApplication).where(
        PortalApplication.account_id == account_id,
        PortalApplication.dataset_id == dataset_id,
        PortalApplication.state.in_(PENDING),
    )
    return db_session.scalars(stmt.order_by(PortalApplication.id.desc())).first()


def _length_problem(value: str, label: str, bounds: tuple[int, int]) -> str | None:
    low, high = bounds
    if not value:
        return f"请填写{label}"
    if not low <= len(value) <= high:
        return f"{label}须为 {low}–{high} 个字，现为 {len(value)} 个字"
    return None


def application_problems(data: PortalDataset, form: ApplicationForm) -> dict[str, str]:
    problems: dict[str, str] = {}
    if found := _length_problem(form.purpose, "申请用途", PURPOSE_LENGTH):
        problems["purpose"] = found
    if found := _length_problem(form.usage, "使用场景与方式", USAGE_LENGTH):
        problems["usage"] = found
    names = [f.name for f in data.fields]
    unknown = [f for f in form.fields if f not in names]
    if names and not form.fields:
        problems["fields"] = "请至少选择一个申请的数据项"
    elif unknown:
        problems["fields"] = f"数据项「{'、'.join(unknown)[:100]}」不属于本数据集"
    if not form.agreed:
        problems["agree"] = f"请勾选「{AGREEMENT}」"
    return problems


def apply(
    db_session: Session, *, account_id: int, data: PortalDataset, form: ApplicationForm
) -> PortalApplication:
    """A submitted application of the account for a conditional dataset; Invalid names every
    problem, and a second application while one awaits its answer is refused."""
    if not can_apply(data):
        raise Invalid({"dataset": f"「{data.title}」为无条件开放数据，无需申请即可下载使用"})
    if pending_application(db_session, account_id=account_id, dataset_id=data.id) is not None:
        raise Invalid(
            {"dataset": f"您对「{data.title}」的申请正在办理中，请等待答复后再提交新的申请"}
        )
    problems = application_problems(data, form)
    if problems:
        raise Invalid(problems)
    order = {f.name: f.position for f in data.fields}
    application = PortalApplication(
        account_id=account_id,
        dataset_id=data.id,
        purpose=form.purpose,
        usage=form.usage,
        fields=sorted(form.fields, key=order.__getitem__),
        submitted_at=clock.now(),
        state="submitted",
        due_provisional=False,
        answer="",
        legal_basis="",
    )
    db_session.add(application)
    db_session.flush()
    return application


@dataclass(frozen=True)
class ApplicationView:
    """One application as its applicant reads it: the state in words, the deadline, the
    answer and, for an approval, the entitlement it gave."""

    application: PortalApplication
    entitlement: PortalEntitlement | None
    today: date

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.application.state, "办理中")

    @property
    def expired(self) -> bool:
        return self.entitlement is not None and self.entitlement.valid_until < self.today


def applications(db_session: Session, *, account_id: int) -> list[ApplicationView]:
    """The account's applications, newest first, each with its entitlement if approved."""
    found = list(
        db_session.scalars(
            sa.select(PortalApplication)
            .where(PortalApplication.account_id == account_id)
            .order_by(PortalApplication.submitted_at.desc(), PortalApplication.id.desc())
        )
    )
    ids = [a.id for a in found]
    given = {
        e.application_id: e
        for e in db_session.scalars(
            sa.select(PortalEntitlement).where(PortalEntitlement.application_id.in_(ids))
        )
    }
    today = clock.today()
    return [ApplicationView(a, given.get(a.id), today) for a in found]


# --- access to rows -------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What a visitor may read of a table dataset's rows: these fields (in the dataset's
    order), until `valid_until` (None: open to all)."""

    fields: tuple[PortalField, ...]
    valid_until: date | None = None

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.fields]


def entitled(db_session: Session, account_id: int | None, data: PortalDataset) -> Access | None:
    """The fields of a conditional dataset the account holds a current entitlement to (valid
    until the city's today or later), or None. Items the dataset no longer publishes drop out."""
    if account_id is None:
        return None
    current_ones = list(
        db_session.scalars(
            sa.select(PortalEntitlement).where(
                PortalEntitlement.account_id == account_id,
                PortalEntitlement.dataset_id == data.id,
                PortalEntitlement.valid_until >= clock.today(),
            )
        )
    )
    names = {name for e in current_ones for name in e.fields}
    fields = tuple(f for f in data.fields if f.name in names)
    if not fields:
        return None
    until = max(e.valid_until for e in current_ones)
    return Access(fields, until)


def access(db_session: Session, account_id: int | None, data: PortalDataset) -> Access | None:
    """Which fields of the dataset's rows the visitor may read: all of unconditional open
    data, the entitled ones of conditional data, or None (OPN-1, OPN-2)."""
    if data.open_type == "unconditional":
        return Access(tuple(data.fields))
    if data.open_type == "conditional":
        return entitled(db_session, account_id, data)
    return None


def refusal(db_session: Session, account_id: int | None, data: PortalDataset) -> str:
    """Why the visitor may not use a conditional dataset's rows, and what to do about it."""
    opening = f"「{data.title}」为有条件开放数据，须经申请、获得批准后方可使用，不能直接下载。"
    if account_id is None:
        return opening + "请先登录（没有账户请先注册），再提交使用申请。"
    last = db_session.scalar(
        sa.select(sa.func.max(PortalEntitlement.valid_until)).where(
            PortalEntitlement.account_id == account_id, PortalEntitlement.dataset_id == data.id
        )
    )
    if last is not None and last < clock.today():
        return opening + f"您的使用授权已于 {last.isoformat()} 到期，请重新提交使用申请。"
    if pending_application(db_session, account_id=account_id, dataset_id=data.id):
        return opening + "您的申请正在办理中，获批后即可下载。"
    return opening + "您的账户尚未获准使用，请提交使用申请。"
