"""Identity rules: organisations, users and roles, data officers, confidentiality
agreements, sign-in with lock-out, database-backed sessions, API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import record
from govshare.core.errors import Conflict, DomainError, Invalid, Locked, NotFound, Unauthenticated
from govshare.core.permissions import Actor, Role, require
from govshare.identity.models import (
    ApiToken,
    ConfidentialityAgreement,
    DataOfficerTerm,
    Organization,
    User,
    UserRole,
    WebSession,
)
from govshare.identity.schemas import (
    ApiTokenIn,
    ConfidentialityAgreementIn,
    OrganizationIn,
    UserIn,
    UserUpdate,
    check_password,
)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("govshare-timing-equaliser-0")
# Everyone in government may read the organisation and user directory of their city.
DIRECTORY_READERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
TOKEN_PREFIX = "gs_"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- organisations --------------------------------------------------------------------


def create_organization(db_session: Session, *, actor: Actor, data: OrganizationIn) -> Organization:
    """Registers an organisation (operator only)."""
    require(actor, Role.PLATFORM_OPERATOR, action="登记组织机构")
    _check_organization_unique(db_session, data)
    if data.parent_id is not None:
        _organization(db_session, data.parent_id, field="parent_id")
    org = Organization(**data.model_dump(), active=True, created_at=clock.now())
    db_session.add(org)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.organization.create",
        object_type="organization",
        object_id=org.id,
        details=data.model_dump(mode="json"),
    )
    return org


def update_organization(
    db_session: Session, *, actor: Actor, organization_id: int, data: OrganizationIn
) -> Organization:
    """Changes an organisation's registration (operator only)."""
    require(actor, Role.PLATFORM_OPERATOR, action="修改组织机构")
    org = _organization(db_session, organization_id)
    _check_organization_unique(db_session, data, exclude_id=org.id)
    if data.parent_id is not None:
        _check_no_cycle(db_session, org.id, data.parent_id)
    before = {k: getattr(org, k) for k in type(data).model_fields}
    for key, value in data.model_dump().items():
        setattr(org, key, value)
    changed = {
        k: [str(before[k]), str(getattr(org, k))] for k in before if before[k] != getattr(org, k)
    }
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.organization.update",
        object_type="organization",
        object_id=org.id,
        details={"changed": changed},
    )
    return org


def list_organizations(db_session: Session, *, actor: Actor) -> list[Organization]:
    """Returns every organisation, parents before children, for signed-in users."""
    _require_signed_in(actor)
    rows = db_session.execute(select(Organization).order_by(Organization.id)).scalars().all()
    return _tree_order(list(rows))


def get_organization(db_session: Session, *, actor: Actor, organization_id: int) -> Organization:
    """Returns one organisation."""
    _require_signed_in(actor)
    return _organization(db_session, organization_id)


def _organization(
    db_session: Session, organization_id: int, *, field: str = "organization_id"
) -> Organization:
    org = db_session.get(Organization, organization_id)
    if org is None:
        raise NotFound(f"组织机构 {organization_id} 不存在", field=field)
    return org


def _check_organization_unique(
    db_session: Session, data: OrganizationIn, exclude_id: int | None = None
) -> None:
    for field in ("name", "uscc"):
        stmt = select(Organization.id).where(getattr(Organization, field) == getattr(data, field))
        if exclude_id is not None:
            stmt = stmt.where(Organization.id != exclude_id)
        if db_session.execute(stmt).first():
            label = "名称" if field == "name" else "统一社会信用代码"
            raise Conflict(f"已有相同{label}的组织机构：{getattr(data, field)}", field=field)


def _check_no_cycle(db_session: Session, org_id: int, parent_id: int) -> None:
    seen: set[int] = set()
    current: int | None = parent_id
    while current is not None:
        if current == org_id or current in seen:
            raise Invalid("上级机构不能是本机构或其下级机构", field="parent_id")
        seen.add(current)
        current = _organization(db_session, current, field="parent_id").parent_id


def _tree_order(rows: list[Organization]) -> list[Organization]:
    children: dict[int | None, list[Organization]] = {}
    for org in rows:
        children.setdefault(org.parent_id, []).append(org)
    ordered: list[Organization] = []

    def walk(parent: int | None) -> None:
        for org in children.get(parent, []):
            ordered.append(org)
            walk(org.id)

    walk(None)
    return ordered


def organization_depths(orgs: list[Organization]) -> dict[int, int]:
    """How deep each organisation sits in the tree (0 for roots), for indented lists."""
    by_id = {o.id: o for o in orgs}
    depth: dict[int, int] = {}
    for org in orgs:
        d, parent = 0, org.parent_id
        while parent is not None and parent in by_id and d < 10:
            d, parent = d + 1, by_id[parent].parent_id
        depth[org.id] = d
    return depth


# --- users ----------------------------------------------------------------------------


def create_user(db_session: Session, *, actor: Actor, data: UserIn) -> User:
    """Opens a real-name account with its roles (operator only)."""
    require(actor, Role.PLATFORM_OPERATOR, action="创建用户")
    if db_session.execute(select(User.id).where(User.username == data.username)).first():
        raise Conflict(f"用户名 {data.username} 已被使用", field="username")
    _organization(db_session, data.organization_id)
    user = User(
        username=data.username,
        real_name=data.real_name,
        mobile=data.mobile,
        organization_id=data.organization_id,
        password_hash=_hasher.hash(data.password),
        active=True,
        failed_sign_ins=0,
        created_at=clock.now(),
        role_rows=[UserRole(role=str(r)) for r in data.roles],
    )
    db_session.add(user)
    try:
        db_session.flush()
    except IntegrityError as exc:  # a concurrent insert of the same name
        raise Conflict(f"用户名 {data.username} 已被使用", field="username") from exc
    record(
        db_session,
        actor=actor,
        action="identity.user.create",
        object_type="user",
        object_id=user.id,
        details=data.model_dump(mode="json", exclude={"password"}),
    )
    return user


def update_user(db_session: Session, *, actor: Actor, user_id: int, data: UserUpdate) -> User:
    """Changes an account's name, mobile, organisation, roles or active flag (operator only)."""
    require(actor, Role.PLATFORM_OPERATOR, action="修改用户")
    user = _user(db_session, user_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "organization_id" in changes:
        _organization(db_session, changes["organization_id"])
    if actor.user_id == user.id and (
        changes.get("active") is False
        or ("roles" in changes and Role.PLATFORM_OPERATOR not in changes["roles"])
    ):
        raise Invalid("不能停用自己的账户或取消自己的平台管理员角色", field="roles")
    details: dict[str, object] = {}
    if "roles" in changes:
        new_roles = {str(r) for r in changes.pop("roles")}
        if new_roles != user.roles:
            details["roles"] = [sorted(user.roles), sorted(new_roles)]
            user.role_rows = [UserRole(role=r) for r in sorted(new_roles)]
    for key, value in changes.items():
        if getattr(user, key) != value:
            details[key] = [str(getattr(user, key)), str(value)]
            setattr(user, key, value)
    if changes.get("active") is False:
        details["sessions_ended"] = _end_sessions(db_session, user.id)
    if changes.get("active") is False or Role.DATA_OFFICER not in user.roles:
        ended = _end_data_officer_term(db_session, user)
        if ended is not None:
            details["data_officer_term_ended_on"] = ended.isoformat()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.user.update",
        object_type="user",
        object_id=user.id,
        details={"changed": details},
    )
    return user


def list_users(
    db_session: Session, *, actor: Actor, organization_id: int | None = None
) -> list[User]:
    """Returns accounts: all for operator, authority, auditors; else own department."""
    _require_signed_in(actor)
    stmt = select(User).order_by(User.organization_id, User.username)
    if not actor.has(*DIRECTORY_READERS):
        stmt = stmt.where(User.organization_id == actor.organization_id)
    if organization_id is not None:
        stmt = stmt.where(User.organization_id == organization_id)
    return list(db_session.execute(stmt).scalars().all())


def get_user(db_session: Session, *, actor: Actor, user_id: int) -> User:
    """Returns one account the actor may see (others are not found)."""
    _require_signed_in(actor)
    user = _user(db_session, user_id)
    if not actor.has(*DIRECTORY_READERS) and user.organization_id != actor.organization_id:
        raise NotFound(f"用户 {user_id} 不存在", field="user_id")
    return user


def reset_password(db_session: Session, *, actor: Actor, user_id: int, new_password: str) -> User:
    """Sets a new password for someone else and ends their sessions (operator only)."""
    require(actor, Role.PLATFORM_OPERATOR, action="重置密码")
    user = _user(db_session, user_id)
    _set_password(user, new_password)
    ended = _end_sessions(db_session, user.id)
    record(
        db_session,
        actor=actor,
        action="identity.user.reset_password",
        object_type="user",
        object_id=user.id,
        details={"sessions_ended": ended},
    )
    return user


def change_password(
    db_session: Session,
    *,
    actor: Actor,
    current_password: str,
    new_password: str,
    current_session: str | None = None,
) -> User:
    """Changes the signed-in user's own password after checking the current one, and ends
    every other session of theirs: whoever knew the old password is signed out. The session
    whose token is `current_session` (the one making the change) stays open."""
    _require_signed_in(actor)
    user = _user(db_session, actor.user_id or 0)
    if not _password_matches(user.password_hash, current_password):
        raise Invalid("当前密码不正确", field="current_password")
    _set_password(user, new_password)
    keep = _sha256(current_session) if current_session else None
    ended = _end_sessions(db_session, user.id, keep=keep)
    record(
        db_session,
        actor=actor,
        action="identity.user.change_password",
        object_type="user",
        object_id=user.id,
        details={"sessions_ended": ended},
    )
    return user


def unlock_user(db_session: Session, *, actor: Actor, user_id: int) -> User:
    """Lifts a lock-out after failed sign-ins (operator only)."""
    require(actor, Role.PLATFORM_OPERATOR, action="解锁账户")
    user = _user(db_session, user_id)
    user.locked_until, user.failed_sign_ins = None, 0
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.user.unlock",
        object_type="user",
        object_id=user.id,
    )
    return user


def _user(db_session: Session, user_id: int) -> User:
    user = db_session.get(User, user_id)
    if user is None:
        raise NotFound(f"用户 {user_id} 不存在", field="user_id")
    return user


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


# --- data officers and confidentiality agreements -------------------------------------


def appoint_data_officer(
    db_session: Session,
    *,
    actor: Actor,
    organization_id: int,
    user_id: int,
    started_on: date | None = None,
) -> DataOfficerTerm:
    """Names a department's data officer, ending the current one's term (SR§28)."""
    require(actor, Role.PLATFORM_OPERATOR, Role.DEPARTMENT_HEAD, action="任命数据专员")
    if not actor.has(Role.PLATFORM_OPERATOR) and actor.organization_id != organization_id:
        raise NotFound(f"组织机构 {organization_id} 不存在", field="organization_id")
    org = _organization(db_session, organization_id)
    user = _user(db_session, user_id)
    if user.organization_id != org.id or not user.active:
        raise Invalid("数据专员必须是本单位的在职用户", field="user_id")
    start = started_on or clock.today()
    current = db_session.execute(
        select(DataOfficerTerm).where(
            DataOfficerTerm.organization_id == org.id, DataOfficerTerm.ended_on.is_(None)
        )
    ).scalar_one_or_none()
    if current is not None:
        if current.user_id == user.id:
            raise Conflict(f"{user.real_name} 已是本单位数据专员", field="user_id")
        if start < current.started_on:
            raise Invalid("新任期不能早于现任数据专员的任期开始日", field="started_on")
        current.ended_on = start
        previous = _user(db_session, current.user_id)
        previous.role_rows = [r for r in previous.role_rows if r.role != Role.DATA_OFFICER]
        db_session.flush()  # the serving-officer index allows one open term only
    term = DataOfficerTerm(
        organization_id=org.id, user_id=user.id, started_on=start, appointed_by=actor.label
    )
    db_session.add(term)
    if Role.DATA_OFFICER not in user.roles:
        user.role_rows.append(UserRole(role=str(Role.DATA_OFFICER)))
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.data_officer.appoint",
        object_type="organization",
        object_id=org.id,
        details={
            "user_id": user.id,
            "started_on": start.isoformat(),
            "previous_user_id": current.user_id if current else None,
        },
    )
    return term


def _end_data_officer_term(db_session: Session, user: User) -> date | None:
    """Closes the user's serving term when they lose the role or the account, so the
    post's history never shows someone serving who no longer can."""
    term = db_session.execute(
        select(DataOfficerTerm).where(
            DataOfficerTerm.user_id == user.id, DataOfficerTerm.ended_on.is_(None)
        )
    ).scalar_one_or_none()
    if term is None:
        return None
    term.ended_on = max(clock.today(), term.started_on)
    user.role_rows = [r for r in user.role_rows if r.role != Role.DATA_OFFICER]
    return term.ended_on


def data_officer_history(
    db_session: Session, *, actor: Actor, organization_id: int
) -> list[DataOfficerTerm]:
    """Returns every term of the organisation's data officers, the serving one first."""
    _require_signed_in(actor)
    _organization(db_session, organization_id)
    stmt = (
        select(DataOfficerTerm)
        .where(DataOfficerTerm.organization_id == organization_id)
        .order_by(DataOfficerTerm.started_on.desc(), DataOfficerTerm.id.desc())
    )
    return list(db_session.execute(stmt).scalars().all())


def record_confidentiality_agreement(
    db_session: Session, *, actor: Actor, user_id: int, data: ConfidentialityAgreementIn
) -> ConfidentialityAgreement:
    """Records that a data handler signed a confidentiality agreement (WH§17)."""
    require(
        actor,
        Role.PLATFORM_OPERATOR,
        Role.DEPARTMENT_HEAD,
        Role.DATA_OFFICER,
        action="登记保密协议",
    )
    user = get_user(db_session, actor=actor, user_id=user_id)
    if data.signed_on > clock.today():
        raise Invalid("签署日期不能晚于今天", field="signed_on")
    if data.expires_on is not None and data.expires_on <= data.signed_on:
        raise Invalid("到期日必须晚于签署日期", field="expires_on")
    agreement = ConfidentialityAgreement(
        user_id=user.id,
        signed_on=data.signed_on,
        expires_on=data.expires_on,
        document_ref=data.document_ref,
        recorded_at=clock.now(),
        recorded_by=actor.label,
    )
    db_session.add(agreement)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.confidentiality.record",
        object_type="user",
        object_id=user.id,
        details=data.model_dump(mode="json") | {"agreement_id": agreement.id},
    )
    return agreement


def list_confidentiality_agreements(
    db_session: Session, *, actor: Actor, user_id: int
) -> list[ConfidentialityAgreement]:
    """Returns a user's agreements, the latest first."""
    user = get_user(db_session, actor=actor, user_id=user_id)
    stmt = (
        select(ConfidentialityAgreement)
        .where(ConfidentialityAgreement.user_id == user.id)
        .order_by(ConfidentialityAgreement.signed_on.desc())
    )
    return list(db_session.execute(stmt).scalars().all())


# --- sign-in and sessions -------------------------------------------------------------


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
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
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


# --- API tokens for departments' systems ----------------------------------------------


def issue_api_token(db_session: Session, *, actor: Actor, data: ApiTokenIn) -> tuple[ApiToken, str]:
    """Creates a token for a department's system; the secret is returned once, never stored."""
    require(actor, Role.PLATFORM_OPERATOR, Role.DATA_OFFICER, action="签发接口令牌")
    if not actor.has(Role.PLATFORM_OPERATOR) and actor.organization_id != data.organization_id:
        raise NotFound(f"组织机构 {data.organization_id} 不存在", field="organization_id")
    org = _organization(db_session, data.organization_id)
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    now = clock.now()
    token = ApiToken(
        organization_id=org.id,
        name=data.name,
        prefix=prefix,
        secret_hash=_sha256(secret),
        created_by=actor.label,
        created_at=now,
        expires_at=now + timedelta(days=data.valid_days),
    )
    db_session.add(token)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.api_token.issue",
        object_type="api_token",
        object_id=token.id,
        details={
            "organization_id": org.id,
            "name": data.name,
            "prefix": prefix,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return token, f"{TOKEN_PREFIX}{prefix}.{secret}"


def revoke_api_token(db_session: Session, *, actor: Actor, token_id: int) -> ApiToken:
    """Revokes a token at once."""
    token = _visible_token(db_session, actor, token_id)
    if token.revoked_at is not None:
        raise Conflict("该令牌已吊销", field="token_id")
    token.revoked_at = clock.now()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.api_token.revoke",
        object_type="api_token",
        object_id=token.id,
    )
    return token


def list_api_tokens(
    db_session: Session, *, actor: Actor, organization_id: int | None = None
) -> list[ApiToken]:
    """Returns tokens: all for the operator, one's own department's for its data officer."""
    require(actor, Role.PLATFORM_OPERATOR, Role.DATA_OFFICER, action="查看接口令牌")
    stmt = select(ApiToken).order_by(ApiToken.created_at.desc())
    if not actor.has(Role.PLATFORM_OPERATOR):
        stmt = stmt.where(ApiToken.organization_id == actor.organization_id)
    if organization_id is not None:
        stmt = stmt.where(ApiToken.organization_id == organization_id)
    return list(db_session.execute(stmt).scalars().all())


def _visible_token(db_session: Session, actor: Actor, token_id: int) -> ApiToken:
    require(actor, Role.PLATFORM_OPERATOR, Role.DATA_OFFICER, action="管理接口令牌")
    token = db_session.get(ApiToken, token_id)
    if token is None or (
        not actor.has(Role.PLATFORM_OPERATOR) and token.organization_id != actor.organization_id
    ):
        raise NotFound(f"令牌 {token_id} 不存在", field="token_id")
    return token


_TOKEN = ApiToken.__table__.c
# Every gateway and API call with a token runs this: the columns it needs, in a statement
# built once (its compiled form stays cached), not the ORM row and its joined organization.
_TOKEN_BY_PREFIX = select(
    _TOKEN.id,
    _TOKEN.organization_id,
    _TOKEN.prefix,
    _TOKEN.secret_hash,
    _TOKEN.revoked_at,
    _TOKEN.expires_at,
    _TOKEN.last_used_at,
).where(_TOKEN.prefix == bindparam("prefix"))


def resolve_api_token(db_session: Session, *, token: str, source_ip: str | None = None) -> Actor:
    """The system actor behind a bearer token; raises Unauthenticated with the reason."""
    if not token.startswith(TOKEN_PREFIX) or "." not in token:
        raise Unauthenticated("接口令牌格式错误")
    prefix, secret = token.removeprefix(TOKEN_PREFIX).split(".", 1)
    # On the session's connection: Session.execute's hooks would cost more than the query.
    row = db_session.connection().execute(_TOKEN_BY_PREFIX, {"prefix": prefix}).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _sha256(secret)):
        raise Unauthenticated("接口令牌无效")
    now = clock.now()
    if row.revoked_at is not None:
        raise Unauthenticated("接口令牌已吊销")
    if row.expires_at <= now:
        raise Unauthenticated("接口令牌已过期")
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        db_session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return Actor(
        label=f"token:{row.prefix}",
        roles=frozenset({Role.SYSTEM}),
        organization_id=row.organization_id,
        token_id=row.id,
        source_ip=source_ip,
    )


@dataclass(frozen=True)
class DirectorySummary:
    organizations: int
    users: int
    locked_users: int


def directory_summary(db_session: Session, *, actor: Actor) -> DirectorySummary:
    """Counts for the home page of the operator, authority and auditors."""
    require(actor, *DIRECTORY_READERS, action="查看机构和用户统计")
    from sqlalchemy import func

    now = clock.now()
    return DirectorySummary(
        organizations=db_session.execute(select(func.count(Organization.id))).scalar_one(),
        users=db_session.execute(select(func.count(User.id))).scalar_one(),
        locked_users=db_session.execute(
            select(func.count(User.id)).where(User.locked_until > now)
        ).scalar_one(),
    )
