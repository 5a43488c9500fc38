"""Request wiring shared by every router: the transaction, the acting user, CSRF.

The request owns its transaction: `DB` commits when the route returns and before the
response is sent (dependency scope "function"), so a failed commit is a 500, never a
false success. Routes and services never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, NoReturn

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from govshare.core.db import unit_of_work
from govshare.core.errors import Forbidden, Unauthenticated
from govshare.core.inbox import service as inbox_service
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime
from govshare.identity import service as identity_service
from govshare.pki import forwarding
from govshare.pki import service as pki_service

SESSION_COOKIE = "gs_session"
LOGIN_COOKIE = "gs_login"  # the sign-in form's pre-session token, for anonymous visitors
LOGIN_PATH = "/login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class OrganizationView:
    name: str
    short_name: str | None


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as pages show them: plain values taken inside the transaction,
    so an error page rendered after a rollback never touches an expired ORM object."""

    username: str
    real_name: str
    roles: frozenset[str]
    organization: OrganizationView
    unread: int = 0  # unread inbox notices, for the header badge


class LoginRequired(Exception):
    """A page needs a signed-in user; rendered as a redirect to the sign-in page."""


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


def _transaction(request: Request) -> Iterator[Session]:
    with unit_of_work(runtime_of(request).sessions) as session:
        yield session


DB = Annotated[Session, Depends(_transaction, scope="function")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _form_csrf(request: Request) -> str | None:
    """The CSRF field of a posted form (read here because form parsing is async)."""
    if request.method in SAFE_METHODS:
        return None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def forwarded_certificate(request: Request) -> str | None:
    """The client certificate a trusted TLS terminator verified and forwarded, or None."""
    return forwarding.forwarded_certificate(
        runtime_of(request).settings, client_ip(request), request.headers
    )


def _refuse_system(
    request: Request, db_session: Session, error: Unauthenticated, reason: str
) -> NoReturn:
    """Audits the refusal and commits that entry before raising: the error would otherwise
    roll it back. Nothing else has been written in the request's transaction yet."""
    pki_service.record_refusal(
        db_session, source_ip=client_ip(request), reason=reason, message=error.message
    )
    db_session.commit()
    raise error


def _system_actor(request: Request, db_session: Session, authorization: str) -> Actor | None:
    """A department system's actor, from its client certificate and/or bearer token. Under a
    profile that requires certificates (BZ§26) a token alone is refused."""
    ip = client_ip(request)
    pem = forwarded_certificate(request)
    bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
    if pem is None and bearer is None:
        return None
    token_actor = (
        identity_service.resolve_api_token(db_session, token=bearer, source_ip=ip)
        if bearer is not None
        else None
    )
    if pem is None:
        if runtime_of(request).profile.rules.certificate_required.value:
            _refuse_system(
                request,
                db_session,
                Unauthenticated(forwarding.CERTIFICATE_REQUIRED, field="client_certificate"),
                "certificate_required",
            )
        return token_actor
    try:
        cert_actor = pki_service.authenticate_certificate(
            db_session, certificate_pem=pem, source_ip=ip
        )
    except pki_service.CertificateRefused as refused:
        _refuse_system(request, db_session, refused, refused.reason)
    if token_actor is not None:
        if token_actor.organization_id != cert_actor.organization_id:
            _refuse_system(
                request,
                db_session,
                Unauthenticated("接口令牌与客户端证书不属于同一单位", field="authorization"),
                "token_mismatch",
            )
        return token_actor  # the token's identity, proven by the certificate too
    return cert_actor


def _current_actor(
    request: Request, db_session: DB, form_csrf: Annotated[str | None, Depends(_form_csrf)]
) -> Actor:
    ip = client_ip(request)
    request.state.user = None
    authorization = request.headers.get("authorization", "")
    system = _system_actor(request, db_session, authorization)
    if system is not None:
        return system
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = identity_service.resolve_session(db_session, token=token, source_ip=ip)
        if found is not None:
            actor, user = found
            request.state.user = Viewer(
                username=user.username,
                real_name=user.real_name,
                roles=user.roles,
                organization=OrganizationView(user.organization.name, user.organization.short_name),
                unread=inbox_service.unread_count(db_session, actor=actor),
            )
            request.state.csrf = csrf_token(request, token)
            if request.method not in SAFE_METHODS:
                _check_csrf(request, token, form_csrf)
            return actor
    return Actor.anonymous(ip)


CurrentActor = Annotated[Actor, Depends(_current_actor)]


def _signed_in_actor(actor: CurrentActor) -> Actor:
    if not actor.is_authenticated:
        raise Unauthenticated("请先登录")
    return actor


SignedIn = Annotated[Actor, Depends(_signed_in_actor)]


def _page_actor(actor: CurrentActor) -> Actor:
    if not actor.is_authenticated or actor.user_id is None:
        raise LoginRequired
    return actor


PageActor = Annotated[Actor, Depends(_page_actor)]


def csrf_token(request: Request, session_token: str) -> str:
    """Bound to the session: a page's forms carry it; a forged cross-site post cannot."""
    key = runtime_of(request).settings.secret_key.encode()
    return hmac.new(
        key, b"csrf:" + hashlib.sha256(session_token.encode()).digest(), "sha256"
    ).hexdigest()


def _check_csrf(request: Request, session_token: str, form_csrf: str | None) -> None:
    sent = request.headers.get(CSRF_HEADER) or form_csrf
    if not sent or not hmac.compare_digest(sent, csrf_token(request, session_token)):
        raise Forbidden("页面已过期或请求来源不明，请刷新页面后重试", field=CSRF_FIELD)


# --- cookies ---------------------------------------------------------------------------
# Cookies carry a Max-Age, never an absolute Expires: the expiry a browser computes from
# Max-Age does not depend on the server's clock agreeing with the browser's, and the
# server-side session has its own expiry anyway.


def cookie_secure(request: Request) -> bool:
    """Whether cookies are sent only over TLS: when the request came in over https, directly
    or through a trusted proxy's X-Forwarded-Proto (uvicorn's proxy headers)."""
    return request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """The browser session's cookie, the same for the pages and the API."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=runtime_of(request).settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=cookie_secure(request)
    )


# --- the sign-in form: CSRF for a visitor who has no session yet ----------------------


class CrossSiteSignIn(Exception):
    """A sign-in posted from another site or without the form's token; refused with 403."""


LOGIN_REFUSED = (
    "登录请求来源不明或登录页面已过期，已拒绝。请在本平台的登录页面重新输入用户名和密码。"
)


def login_nonce(request: Request) -> str:
    """The visitor's pre-session token: kept if they have one (several open tabs all work),
    else a new one."""
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    return nonce if 32 <= len(nonce) <= 64 else secrets.token_urlsafe(32)


def login_field_token(request: Request, nonce: str) -> str:
    """The sign-in form's hidden field for a pre-session token. A forged cross-site post has
    neither: the cookie is SameSite=Strict and only this site's pages carry the field."""
    key = runtime_of(request).settings.secret_key.encode()
    return hmac.new(key, b"login:" + nonce.encode(), "sha256").hexdigest()


def set_login_cookie(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=runtime_of(request).settings.session_hours * 3600,
        path=LOGIN_PATH,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )


def clear_login_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        LOGIN_COOKIE,
        path=LOGIN_PATH,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )


def check_same_origin(request: Request) -> None:
    """Refuses a request a browser says came from another site (Sec-Fetch-Site), or, from a
    browser too old to say, whose Origin is not this host. Clients that are not browsers
    send neither header and pass."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise CrossSiteSignIn
        return
    origin = request.headers.get("origin")
    if origin is None:
        return
    host = request.headers.get("host", "")
    if origin == "null" or origin.split("://", 1)[-1] != host:
        raise CrossSiteSignIn


def check_login_form(request: Request, field: str | None) -> None:
    """The sign-in form's CSRF check: same origin, and the field matches the cookie."""
    check_same_origin(request)
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or not field or not hmac.compare_digest(field, login_field_token(request, nonce)):
        raise CrossSiteSignIn
