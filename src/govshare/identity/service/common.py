"""What the identity services share: password hashing, token digests, who reads the whole
directory, and ending a user's sessions."""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.errors import Invalid, NotFound, Unauthenticated
from govshare.core.permissions import Actor, Role
from govshare.identity.models import (
    User,
    WebSession,
)
from govshare.identity.schemas import (
    check_password,
)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("govshare-timing-equaliser-0")
# Everyone in government may read the organisation and user directory of their city.
DIRECTORY_READERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
TOKEN_PREFIX = "gs_"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _user(db_session: Session, user_id: int) -> User:
    user = db_session.get(User, user_id)
    if user is None:
        raise NotFound(f"用户 {user_id} 不存在", field="user_id")
    return user


def _hash_password(password: str) -> str:
    return _hasher.hash(password)


def _rehash_if_needed(user: User, password: str) -> None:
    """Brings a stored hash up to the hasher's current parameters at a successful sign-in."""
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)


def _set_password(user: User, new_password: str) -> None:
    try:
        check_password(new_password)
    except ValueError as exc:
        raise Invalid(str(exc), field="new_password") from None
    user.password_hash = _hasher.hash(new_password)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _require_signed_in(actor: Actor) -> None:
    if not actor.is_authenticated:
        raise Unauthenticated("请先登录")


def _end_sessions(db_session: Session, user_id: int, *, keep: str | None = None) -> int:
    """Revokes the user's open sessions (all but the one whose id is `keep`); how many."""
    stmt = select(WebSession).where(
        WebSession.user_id == user_id,
        WebSession.revoked_at.is_(None),
        WebSession.expires_at > clock.now(),
    )
    if keep is not None:
        stmt = stmt.where(WebSession.id != keep)
    sessions = list(db_session.execute(stmt).scalars())
    for web_session in sessions:
        web_session.revoked_at = clock.now()
    db_session.flush()
    return len(sessions)
