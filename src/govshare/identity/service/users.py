"""Identity rules: organisations, users and roles, data officers, confidentiality
agreements, sign-in with lock-out, database-backed sessions, API tokens."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import record
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.identity.models import (
    ConfidentialityAgreement,
    DataOfficerTerm,
    User,
    UserRole,
)
from govshare.identity.schemas import (
    ConfidentialityAgreementIn,
    UserIn,
    UserUpdate,
)
from govshare.identity.service.common import (
    DIRECTORY_READERS,
    _end_sessions,
    _hash_password,
    _password_matches,
    _require_signed_in,
    _set_password,
    _sha256,
    _user,
)
from govshare.identity.service.organizations import _organization

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
        password_hash=_hash_password(data.password),
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
