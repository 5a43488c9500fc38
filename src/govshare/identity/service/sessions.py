"""Sign-in with lock-out, and database-backed sessions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import record
from govshare.core.errors import DomainError, Locked, Unauthenticated
from govshare.core.permissions import Actor, Role
from govshare.identity.models import (
    User,
    WebSession,
)
from govshare.identity.service.common import (
    _DUMMY_HASH,
    _password_matches,
    _rehash_if_needed,
    _sha256,
)


@dataclass(frozen=True)
class SignInPolicy:
    """Lock-out and session length, from the settings."""

    max_failures: int = 5
    lock_minutes: int = 15
    session_hours: int = 12


@dataclass(frozen=True)
class SignInResult:
    """A sign-in attempt's outcome. Failures are returned, not raised, so that the failed
    attempt and any lock-out are committed together with their audit entries."""

    user: User | None = None
    session_token: str | None = None
    failure: DomainError | None = None


def sign_in(
    db_session: Session,
    *,
    username: str,
    password: str,
    policy: SignInPolicy,
    source_ip: str | None = None,
    user_agent: str | None = None,
) -> SignInResult:
    """Checks a password, counts failures, locks after too many, and opens a session."""
    anonymous = Actor.anonymous(source_ip)
    user = db_session.execute(
        select(User).where(User.username == username.strip())
    ).scalar_one_or_none()
    now = clock.now()
    wrong = Unauthenticated("用户名或密码错误")
    if user is None or not user.active:
        _password_matches(_DUMMY_HASH, password)  # same time as a real check
        record(
            db_session,
            actor=anonymous,
            action="identity.sign_in.failed",
            object_type="user",
            details={"username": username[:40], "reason": "unknown_or_inactive"},
        )
        return SignInResult(failure=wrong)
    if user.locked_until is not None and user.locked_until > now:
        record(
            db_session,
            actor=anonymous,
            action="identity.sign_in.refused_locked",
            object_type="user",
            object_id=user.id,
        )
        return SignInResult(failure=_locked_error(user))
    if not _password_matches(user.password_hash, password):
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= policy.max_failures:
            user.locked_until = now + timedelta(minutes=policy.lock_minutes)
            user.failed_sign_ins = 0
            record(
                db_session,
                actor=anonymous,
                action="identity.user.locked",
                object_type="user",
                object_id=user.id,
                details={"until": user.locked_until.isoformat()},
            )
            return SignInResult(failure=_locked_error(user, just_now=policy.max_failures))
        record(
            db_session,
            actor=anonymous,
            action="identity.sign_in.failed",
            object_type="user",
            object_id=user.id,
            details={"reason": "wrong_password", "failures": user.failed_sign_ins},
        )
        return SignInResult(failure=wrong)
    token = secrets.token_urlsafe(32)
    user.failed_sign_ins, user.locked_until, user.last_sign_in_at = 0, None, now
    _rehash_if_needed(user, password)
    db_session.add(
        WebSession(
            id=_sha256(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=policy.session_hours),
            source_ip=source_ip,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    db_session.flush()
    record(
        db_session,
        actor=actor_for_user(user, source_ip),
        action="identity.sign_in",
        object_type="user",
        object_id=user.id,
    )
    return SignInResult(user=user, session_token=token)


def _locked_error(user: User, just_now: int | None = None) -> Locked:
    assert user.locked_until is not None
    until = clock.to_city(user.locked_until).strftime("%H:%M")
    why = f"连续 {just_now} 次密码错误，" if just_now else ""
    return Locked(f"{why}账户已锁定，请于 {until} 后再试，或联系平台管理员解锁")


def actor_for_user(user: User, source_ip: str | None = None) -> Actor:
    """The actor a signed-in user acts as."""
    return Actor(
        label=user.username,
        roles=frozenset(Role(r) for r in user.roles),
        user_id=user.id,
        organization_id=user.organization_id,
        source_ip=source_ip,
    )


def resolve_session(
    db_session: Session, *, token: str, source_ip: str | None = None
) -> tuple[Actor, User] | None:
    """The user behind a session cookie, or None if it is unknown, expired or revoked."""
    now = clock.now()
    session_id = _sha256(token)
    row = db_session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(
            WebSession.id == session_id,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
            User.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    web_session, user = row
    if now - web_session.last_seen_at > timedelta(minutes=1):
        # Bookkeeping, not a business change: a Core update that the audit rule ignores.
        db_session.execute(
            update(WebSession).where(WebSession.id == session_id).values(last_seen_at=now)
        )
    return actor_for_user(user, source_ip), user


def sign_out(db_session: Session, *, actor: Actor, token: str) -> None:
    """Ends the session the token belongs to."""
    web_session = db_session.get(WebSession, _sha256(token))
    if web_session is None or web_session.revoked_at is not None:
        return
    web_session.revoked_at = clock.now()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.sign_out",
        object_type="user",
        object_id=web_session.user_id,
    )
