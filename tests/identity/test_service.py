"""Identity rules: organisations, users, sign-in and lock-out, sessions, data officers,
confidentiality agreements, API tokens."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Conflict, Forbidden, Invalid, Locked, NotFound, Unauthenticated
from govshare.core.permissions import Actor, Role
from govshare.identity import service as identity_service
from govshare.identity.models import (
    ApiToken,
    ConfidentialityAgreement,
    DataOfficerTerm,
    Organization,
    User,
    UserRole,
)
from govshare.identity.schemas import (
    ApiTokenIn,
    ConfidentialityAgreementIn,
    OrganizationIn,
    UserIn,
    UserUpdate,
)
from tests.builders import (
    PASSWORD,
    actor_of,
    count,
    credit_code,
    operator,
    organization,
    system_of,
    user,
)

POLICY = identity_service.SignInPolicy(max_failures=3, lock_minutes=15, session_hours=12)


def sign_in(db: Session, username: str, password: str = PASSWORD) -> identity_service.SignInResult:
    return identity_service.sign_in(db, username=username, password=password, policy=POLICY)


def failed_sign_ins(db: Session, account: User) -> int:
    """The stored count, read past the session's cache."""
    return db.execute(select(User.failed_sign_ins).where(User.id == account.id)).scalar_one()


def last_action(db: Session) -> str:
    return db.execute(select(AuditEntry.action).order_by(AuditEntry.seq.desc())).scalars().first()


# --- organisations ----------------------------------------------------------------------


def test_invalid_credit_code_is_refused_naming_the_field_and_writes_nothing(db: Session) -> None:
    op, _ = operator(db)
    before = count(db, Organization)
    with pytest.raises(ValidationError) as caught:
        payload = {"name": "江州市测试局", "uscc": "91350100M000100Y44", "level": "city"}
        identity_service.create_organization(
            db, actor=op, data=OrganizationIn.model_validate(payload)
        )
    error = caught.value.errors()[0]
    assert error["loc"] == ("uscc",)
    assert "统一社会信用代码无效：校验码错误：第 18 位应为 3" in error["msg"]
    assert count(db, Organization) == before


def test_duplicate_organization_name_is_a_conflict_on_name(db: Session) -> None:
    organization(db, "江州市公安局")
    before = count(db, Organization)
    with pytest.raises(Conflict) as caught:
        organization(db, "江州市公安局")
    assert caught.value.field == "name"
    assert "江州市公安局" in caught.value.message
    assert count(db, Organization) == before


def test_duplicate_credit_code_is_a_conflict_on_uscc(db: Session) -> None:
    code = credit_code()
    organization(db, "江州市公安局", uscc=code)
    before = count(db, Organization)
    with pytest.raises(Conflict) as caught:
        organization(db, "江州市民政局", uscc=code)
    assert caught.value.field == "uscc"
    assert count(db, Organization) == before


def test_organization_cannot_become_its_own_descendant(db: Session) -> None:
    op, _ = operator(db)
    city = organization(db, "江州市人民政府")
    county = organization(db, "青山县人民政府", parent_id=city.id)
    bureau = organization(db, "青山县民政局", parent_id=county.id)
    change = OrganizationIn(name=city.name, uscc=city.uscc, level=city.level, parent_id=bureau.id)
    with pytest.raises(Invalid) as caught:
        identity_service.update_organization(db, actor=op, organization_id=city.id, data=change)
    assert caught.value.field == "parent_id"
    db.refresh(city)
    assert city.parent_id is None


def test_organization_cannot_be_its_own_parent(db: Session) -> None:
    op, _ = operator(db)
    org = organization(db, "江州市民政局")
    change = OrganizationIn(name=org.name, uscc=org.uscc, level=org.level, parent_id=org.id)
    with pytest.raises(Invalid) as caught:
        identity_service.update_organization(db, actor=op, organization_id=org.id, data=change)
    assert caught.value.field == "parent_id"


# --- users ------------------------------------------------------------------------------


def test_duplicate_username_is_refused_without_partial_rows(db: Session) -> None:
    org = organization(db)
    user(db, org, username="zhangsan")
    users, roles = count(db, User), count(db, UserRole)
    with pytest.raises(Conflict) as caught:
        user(db, org, [Role.DATA_OFFICER, Role.DEPARTMENT_STAFF], username="zhangsan")
    assert caught.value.field == "username"
    assert (count(db, User), count(db, UserRole)) == (users, roles)


@pytest.mark.parametrize("role", [Role.DEPARTMENT_HEAD, Role.DATA_OFFICER, Role.AUDITOR])
def test_only_the_operator_creates_users(db: Session, role: Role) -> None:
    org = organization(db)
    someone = actor_of(user(db, org, [role]))
    data = UserIn(
        username="newcomer",
        real_name="新同事",
        mobile="13900139000",
        organization_id=org.id,
        roles=[Role.DEPARTMENT_STAFF],
        password=PASSWORD,
    )
    before = count(db, User)
    with pytest.raises(Forbidden):
        identity_service.create_user(db, actor=someone, data=data)
    assert count(db, User) == before


def test_department_user_lists_only_their_own_organization(db: Session) -> None:
    op, _ = operator(db)
    police, civil = organization(db, "江州市公安局"), organization(db, "江州市民政局")
    officer = user(db, police)
    colleague = user(db, police)
    user(db, civil)
    seen = identity_service.list_users(db, actor=actor_of(officer))
    assert {u.id for u in seen} == {officer.id, colleague.id}
    other = identity_service.list_users(db, actor=actor_of(officer), organization_id=civil.id)
    assert other == []
    assert len(identity_service.list_users(db, actor=op)) == count(db, User)


def test_department_user_cannot_read_another_organizations_user(db: Session) -> None:
    officer = user(db, organization(db))
    stranger = user(db, organization(db))
    with pytest.raises(NotFound):
        identity_service.get_user(db, actor=actor_of(officer), user_id=stranger.id)


# --- sign-in, lock-out, sessions --------------------------------------------------------


def test_right_password_opens_a_session_the_token_resolves_to(db: Session) -> None:
    account = user(db, organization(db), username="lisi")
    result = sign_in(db, "lisi")
    assert result.failure is None and result.session_token
    found = identity_service.resolve_session(db, token=result.session_token)
    assert found is not None
    actor, resolved = found
    assert resolved.id == account.id
    assert actor.user_id == account.id and actor.roles == {Role.DEPARTMENT_STAFF}
    assert last_action(db) == "identity.sign_in"


def test_unknown_session_token_resolves_to_nobody(db: Session) -> None:
    assert identity_service.resolve_session(db, token="not-a-session") is None


def test_wrong_password_fails_and_the_count_is_kept_after_commit(db: Session) -> None:
    account = user(db, organization(db), username="lisi")
    db.commit()
    result = sign_in(db, "lisi", "wrong-password1")
    assert result.session_token is None
    assert isinstance(result.failure, Unauthenticated)
    assert result.failure.message == "用户名或密码错误"
    db.commit()
    db.expire_all()
    assert failed_sign_ins(db, account) == 1
    assert last_action(db) == "identity.sign_in.failed"


def test_unknown_username_fails_with_the_same_message(db: Session) -> None:
    result = sign_in(db, "nobody")
    assert result.failure is not None and result.failure.message == "用户名或密码错误"


def test_repeated_failures_lock_the_account_even_for_the_right_password(db: Session) -> None:
    user(db, organization(db), username="lisi")
    with clock.frozen("2026-03-02T09:00:00"):
        results = [sign_in(db, "lisi", "wrong-password1") for _ in range(POLICY.max_failures)]
        assert [type(r.failure) for r in results] == [Unauthenticated, Unauthenticated, Locked]
        assert "连续 3 次密码错误" in results[-1].failure.message
        fourth = sign_in(db, "lisi")
    assert isinstance(fourth.failure, Locked)
    assert "锁定" in fourth.failure.message and "09:15" in fourth.failure.message
    assert fourth.session_token is None
    db.commit()  # the failures and the lock are audited, so they are kept
    assert last_action(db) == "identity.sign_in.refused_locked"


def test_lock_ends_when_the_clock_passes_locked_until(db: Session) -> None:
    user(db, organization(db), username="lisi")
    with clock.frozen("2026-03-02T09:00:00"):
        for _ in range(POLICY.max_failures):
            sign_in(db, "lisi", "wrong-password1")
    with clock.frozen("2026-03-02T09:14:59"):
        assert isinstance(sign_in(db, "lisi").failure, Locked)
    with clock.frozen("2026-03-02T09:15:01"):
        result = sign_in(db, "lisi")
    assert result.failure is None and result.session_token


def test_unlock_clears_the_lock(db: Session) -> None:
    op, _ = operator(db)
    account = user(db, organization(db), username="lisi")
    for _ in range(POLICY.max_failures):
        sign_in(db, "lisi", "wrong-password1")
    identity_service.unlock_user(db, actor=op, user_id=account.id)
    assert account.locked_until is None and account.failed_sign_ins == 0
    assert sign_in(db, "lisi").failure is None


def test_success_resets_the_failure_count(db: Session) -> None:
    account = user(db, organization(db), username="lisi")
    sign_in(db, "lisi", "wrong-password1")
    sign_in(db, "lisi")
    assert failed_sign_ins(db, account) == 0


def test_inactive_user_cannot_sign_in(db: Session) -> None:
    op, _ = operator(db)
    account = user(db, organization(db), username="lisi")
    identity_service.update_user(db, actor=op, user_id=account.id, data=UserUpdate(active=False))
    result = sign_in(db, "lisi")
    assert result.failure is not None and result.failure.message == "用户名或密码错误"
    assert result.session_token is None


def test_deactivating_a_user_ends_their_sessions(db: Session) -> None:
    op, _ = operator(db)
    account = user(db, organization(db), username="lisi")
    token = sign_in(db, "lisi").session_token
    assert token
    identity_service.update_user(db, actor=op, user_id=account.id, data=UserUpdate(active=False))
    assert identity_service.resolve_session(db, token=token) is None


def test_sign_out_revokes_the_session(db: Session) -> None:
    user(db, organization(db), username="lisi")
    token = sign_in(db, "lisi").session_token
    assert token
    actor, _ = identity_service.resolve_session(db, token=token) or (None, None)
    assert actor is not None
    identity_service.sign_out(db, actor=actor, token=token)
    assert identity_service.resolve_session(db, token=token) is None
    assert last_action(db) == "identity.sign_out"


def test_session_expires_after_the_policy_hours(db: Session) -> None:
    user(db, organization(db), username="lisi")
    with clock.frozen("2026-03-02T09:00:00"):
        token = sign_in(db, "lisi").session_token
    assert token
    with clock.frozen("2026-03-02T20:59:00"):
        assert identity_service.resolve_session(db, token=token) is not None
    with clock.frozen("2026-03-02T21:00:00"):
        assert identity_service.resolve_session(db, token=token) is None


# --- data officers ----------------------------------------------------------------------


def test_appointing_a_data_officer_ends_the_previous_term(db: Session) -> None:
    op, _ = operator(db)
    org = organization(db)
    first, second = user(db, org), user(db, org)
    identity_service.appoint_data_officer(
        db, actor=op, organization_id=org.id, user_id=first.id, started_on=date(2026, 1, 5)
    )
    identity_service.appoint_data_officer(
        db, actor=op, organization_id=org.id, user_id=second.id, started_on=date(2026, 3, 2)
    )
    history = identity_service.data_officer_history(db, actor=op, organization_id=org.id)
    assert [(t.user_id, t.started_on, t.ended_on) for t in history] == [
        (second.id, date(2026, 3, 2), None),
        (first.id, date(2026, 1, 5), date(2026, 3, 2)),
    ]
    db.expire_all()
    assert Role.DATA_OFFICER not in db.get(User, first.id).roles
    assert Role.DATA_OFFICER in db.get(User, second.id).roles


@pytest.mark.parametrize(
    "change",
    [UserUpdate(active=False), UserUpdate(roles=[Role.DEPARTMENT_STAFF])],
    ids=["deactivated", "role_removed"],
)
def test_losing_the_post_ends_the_data_officer_term(db: Session, change: UserUpdate) -> None:
    op, _ = operator(db)
    org = organization(db)
    officer = user(db, org)
    identity_service.appoint_data_officer(
        db, actor=op, organization_id=org.id, user_id=officer.id, started_on=date(2026, 1, 5)
    )
    with clock.frozen("2026-06-01"):
        identity_service.update_user(db, actor=op, user_id=officer.id, data=change)
    history = identity_service.data_officer_history(db, actor=op, organization_id=org.id)
    assert [(t.user_id, t.ended_on) for t in history] == [(officer.id, date(2026, 6, 1))]
    assert Role.DATA_OFFICER not in db.get(User, officer.id).roles


def test_data_officer_from_another_organization_is_refused(db: Session) -> None:
    op, _ = operator(db)
    org, other = organization(db), organization(db)
    stranger = user(db, other)
    with pytest.raises(Invalid) as caught:
        identity_service.appoint_data_officer(
            db, actor=op, organization_id=org.id, user_id=stranger.id
        )
    assert caught.value.field == "user_id"
    assert count(db, DataOfficerTerm) == 0
    assert Role.DATA_OFFICER not in stranger.roles


def test_department_head_appoints_only_in_their_own_organization(db: Session) -> None:
    org, other = organization(db), organization(db)
    head = actor_of(user(db, org, [Role.DEPARTMENT_HEAD]))
    candidate = user(db, other)
    with pytest.raises(NotFound):
        identity_service.appoint_data_officer(
            db, actor=head, organization_id=other.id, user_id=candidate.id
        )


# --- confidentiality agreements ---------------------------------------------------------


def agreement(signed_on: date, expires_on: date | None = None) -> ConfidentialityAgreementIn:
    return ConfidentialityAgreementIn(
        signed_on=signed_on, expires_on=expires_on, document_ref="保密协议〔2026〕1号"
    )


def test_agreement_signed_in_the_future_is_refused(db: Session) -> None:
    op, _ = operator(db)
    account = user(db, organization(db))
    with clock.frozen("2026-03-02"), pytest.raises(Invalid) as caught:
        identity_service.record_confidentiality_agreement(
            db, actor=op, user_id=account.id, data=agreement(date(2026, 3, 3))
        )
    assert caught.value.field == "signed_on"
    assert count(db, ConfidentialityAgreement) == 0


@pytest.mark.parametrize("expires_on", [date(2026, 3, 1), date(2026, 2, 27)])
def test_agreement_expiring_on_or_before_signing_is_refused(db: Session, expires_on: date) -> None:
    op, _ = operator(db)
    account = user(db, organization(db))
    with clock.frozen("2026-03-02"), pytest.raises(Invalid) as caught:
        identity_service.record_confidentiality_agreement(
            db, actor=op, user_id=account.id, data=agreement(date(2026, 3, 1), expires_on)
        )
    assert caught.value.field == "expires_on"


def test_agreement_signed_today_is_recorded_and_listed(db: Session) -> None:
    op, _ = operator(db)
    account = user(db, organization(db))
    with clock.frozen("2026-03-02"):
        identity_service.record_confidentiality_agreement(
            db, actor=op, user_id=account.id, data=agreement(date(2026, 3, 2), date(2027, 3, 2))
        )
    listed = identity_service.list_confidentiality_agreements(db, actor=op, user_id=account.id)
    assert [(a.signed_on, a.expires_on, a.recorded_by) for a in listed] == [
        (date(2026, 3, 2), date(2027, 3, 2), op.label)
    ]


def test_data_officer_cannot_record_an_agreement_for_another_organization(db: Session) -> None:
    officer = actor_of(user(db, organization(db), [Role.DATA_OFFICER]))
    stranger = user(db, organization(db))
    with pytest.raises(NotFound):
        identity_service.record_confidentiality_agreement(
            db, actor=officer, user_id=stranger.id, data=agreement(date(2026, 1, 5))
        )


# --- API tokens -------------------------------------------------------------------------


def issue(db: Session, actor: Actor, org: Organization, days: int = 365) -> tuple[ApiToken, str]:
    data = ApiTokenIn(name="人口库同步", system_id=system_of(db, org.id), valid_days=days)
    return identity_service.issue_api_token(db, actor=actor, data=data)


def test_issued_token_resolves_to_a_system_actor_of_its_organization(db: Session) -> None:
    op, _ = operator(db)
    org = organization(db)
    row, secret = issue(db, op, org)
    actor = identity_service.resolve_api_token(db, token=secret, source_ip="10.0.0.8")
    assert actor.roles == {Role.SYSTEM}
    assert (actor.organization_id, actor.token_id, actor.user_id) == (org.id, row.id, None)
    assert actor.label == f"token:{row.prefix}"


def test_token_secret_is_stored_only_as_its_hash(db: Session) -> None:
    op, _ = operator(db)
    row, secret = issue(db, op, organization(db))
    plain = secret.split(".", 1)[1]
    stored = (
        db.execute(text("SELECT * FROM api_token WHERE id = :id"), {"id": row.id}).mappings().one()
    )
    assert not any(isinstance(v, str) and plain in v for v in stored.values())
    assert stored["secret_hash"] == hashlib.sha256(plain.encode()).hexdigest()


def test_token_with_a_wrong_secret_is_refused(db: Session) -> None:
    op, _ = operator(db)
    _, secret = issue(db, op, organization(db))
    with pytest.raises(Unauthenticated, match="接口令牌无效"):
        identity_service.resolve_api_token(db, token=secret[:-2] + "xx")


def test_revoked_token_is_refused_with_the_reason(db: Session) -> None:
    op, _ = operator(db)
    row, secret = issue(db, op, organization(db))
    identity_service.revoke_api_token(db, actor=op, token_id=row.id)
    with pytest.raises(Unauthenticated, match="接口令牌已吊销"):
        identity_service.resolve_api_token(db, token=secret)


def test_expired_token_is_refused_with_the_reason(db: Session) -> None:
    op, _ = operator(db)
    org = organization(db)
    with clock.frozen("2026-01-05T10:00:00"):
        _, secret = issue(db, op, org, days=30)
    with clock.frozen("2026-02-04T09:59:00"):
        assert identity_service.resolve_api_token(db, token=secret).organization_id == org.id
    with clock.frozen("2026-02-04T10:00:00"), pytest.raises(Unauthenticated, match="已过期"):
        identity_service.resolve_api_token(db, token=secret)


def test_data_officer_cannot_issue_a_token_for_another_organizations_system(db: Session) -> None:
    org, other = organization(db), organization(db)
    officer = actor_of(user(db, org, [Role.DATA_OFFICER]))
    with pytest.raises(NotFound) as caught:
        issue(db, officer, other)
    assert caught.value.field == "system_id"
    assert count(db, ApiToken) == 0
    row, _ = issue(db, officer, org)
    assert row.organization_id == org.id
