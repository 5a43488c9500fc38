"""Acceptance: every service function that changes data writes its audit entry.

The test enumerates the public functions of every service module and needs a scenario for
each: a writer is called in a prepared world and must leave an entry with its action (and
the commit guard must accept the transaction); a reader must leave every table as it was.
A new service function without a line here fails `test_every_service_function_has_a_scenario`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import date
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import govshare
from govshare.core import clock
from govshare.core import models as all_models
from govshare.core.audit import service as audit_service
from govshare.core.audit.models import AuditEntry
from govshare.core.calendar import service as calendar_service
from govshare.core.db import AuditMissing
from govshare.core.permissions import Actor, Role
from govshare.identity import service as identity_service
from govshare.identity.models import Organization, User
from govshare.identity.schemas import (
    ApiTokenIn,
    ConfidentialityAgreementIn,
    OrganizationIn,
    UserIn,
    UserUpdate,
)
from tests.builders import PASSWORD, credit_code, operator, organization, system_of, user
from tests.scenarios import READ_ONLY, Reads, World, Writes

POLICY = identity_service.SignInPolicy()


def service_modules() -> list[ModuleType]:
    """Every `service` module, and the modules of a `service` package split by topic."""
    return [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(govshare.__path__, "govshare.")
        if "service" in info.name.split(".")
    ]


def service_functions() -> set[str]:
    """Qualified names of the public functions each service module defines itself."""
    names = set()
    for module in service_modules():
        for name, obj in vars(module).items():
            if (
                not name.startswith("_")
                and callable(obj)
                and not inspect.isclass(obj)
                and getattr(obj, "__module__", None) == module.__name__
            ):
                names.add(f"{module.__name__}.{name}")
    return names


def _sign_in(w: World) -> identity_service.SignInResult:
    return identity_service.sign_in(
        w.db, username=w.staff.username, password=PASSWORD, policy=POLICY
    )


def _sign_out(w: World) -> None:
    token = _sign_in(w).session_token
    assert token
    identity_service.sign_out(w.db, actor=w.staff_actor, token=token)


def _issue(w: World) -> tuple[Any, str]:
    data = ApiTokenIn(name="业务系统", system_id=system_of(w.db, w.dept.id))
    return identity_service.issue_api_token(w.db, actor=w.op, data=data)


def _revoke(w: World) -> None:
    token, _ = _issue(w)
    identity_service.revoke_api_token(w.db, actor=w.op, token_id=token.id)


def _update_organization(w: World) -> None:
    data = OrganizationIn(name="改名后的局", uscc=w.dept.uscc, level=w.dept.level)
    identity_service.update_organization(w.db, actor=w.op, organization_id=w.dept.id, data=data)


def _create_organization(w: World) -> None:
    data = OrganizationIn(name="新设的局", uscc=credit_code(), level="city")
    identity_service.create_organization(w.db, actor=w.op, data=data)


def _create_user(w: World) -> None:
    data = UserIn(
        username="newcomer",
        real_name="新同事",
        mobile="13900139000",
        organization_id=w.dept.id,
        roles=[Role.DEPARTMENT_STAFF],
        password=PASSWORD,
    )
    identity_service.create_user(w.db, actor=w.op, data=data)


def _agreement(w: World) -> None:
    data = ConfidentialityAgreementIn(signed_on=clock.today(), document_ref="保密协议1号")
    identity_service.record_confidentiality_agreement(
        w.db, actor=w.op, user_id=w.staff.id, data=data
    )


ORGANIZATIONS = "govshare.identity.service.organizations."
USERS = "govshare.identity.service.users."
SESSIONS = "govshare.identity.service.sessions."
TOKENS = "govshare.identity.service.tokens."
AUDIT = "govshare.core.audit.service."
CALENDAR = "govshare.core.calendar.service."
CRITERIA = audit_service.AuditFilter()

SCENARIOS: dict[str, Writes | Reads] = {
    # identity
    ORGANIZATIONS + "create_organization": Writes(
        "identity.organization.create", _create_organization
    ),
    ORGANIZATIONS + "update_organization": Writes(
        "identity.organization.update", _update_organization
    ),
    USERS + "create_user": Writes("identity.user.create", _create_user),
    USERS + "update_user": Writes(
        "identity.user.update",
        lambda w: identity_service.update_user(
            w.db, actor=w.op, user_id=w.staff.id, data=UserUpdate(mobile="13700137000")
        ),
    ),
    USERS + "reset_password": Writes(
        "identity.user.reset_password",
        lambda w: identity_service.reset_password(
            w.db, actor=w.op, user_id=w.staff.id, new_password="another2027"
        ),
    ),
    USERS + "change_password": Writes(
        "identity.user.change_password",
        lambda w: identity_service.change_password(
            w.db, actor=w.staff_actor, current_password=PASSWORD, new_password="another2027"
        ),
    ),
    USERS + "unlock_user": Writes(
        "identity.user.unlock",
        lambda w: identity_service.unlock_user(w.db, actor=w.op, user_id=w.staff.id),
    ),
    USERS + "appoint_data_officer": Writes(
        "identity.data_officer.appoint",
        lambda w: identity_service.appoint_data_officer(
            w.db, actor=w.op, organization_id=w.dept.id, user_id=w.staff.id
        ),
    ),
    USERS + "record_confidentiality_agreement": Writes(
        "identity.confidentiality.record", _agreement
    ),
    SESSIONS + "sign_in": Writes("identity.sign_in", _sign_in),
    SESSIONS + "sign_out": Writes("identity.sign_out", _sign_out),
    TOKENS + "issue_api_token": Writes("identity.api_token.issue", _issue),
    TOKENS + "revoke_api_token": Writes("identity.api_token.revoke", _revoke),
    ORGANIZATIONS + "list_organizations": Reads(
        lambda w: identity_service.list_organizations(w.db, actor=w.op)
    ),
    ORGANIZATIONS + "get_organization": Reads(
        lambda w: identity_service.get_organization(w.db, actor=w.op, organization_id=w.dept.id)
    ),
    ORGANIZATIONS + "organization_depths": READ_ONLY,
    USERS + "list_users": Reads(lambda w: identity_service.list_users(w.db, actor=w.op)),
    USERS + "get_user": Reads(
        lambda w: identity_service.get_user(w.db, actor=w.op, user_id=w.staff.id)
    ),
    USERS + "data_officer_history": Reads(
        lambda w: identity_service.data_officer_history(w.db, actor=w.op, organization_id=w.dept.id)
    ),
    USERS + "list_confidentiality_agreements": Reads(
        lambda w: identity_service.list_confidentiality_agreements(
            w.db, actor=w.op, user_id=w.staff.id
        )
    ),
    SESSIONS + "actor_for_user": READ_ONLY,
    # The two resolvers may touch a last-seen time (bookkeeping, at most once a minute).
    SESSIONS + "resolve_session": Reads(
        lambda w: identity_service.resolve_session(w.db, token="unknown")
    ),
    TOKENS + "resolve_api_token": READ_ONLY,
    TOKENS + "list_api_tokens": Reads(lambda w: identity_service.list_api_tokens(w.db, actor=w.op)),
    ORGANIZATIONS + "directory_summary": Reads(
        lambda w: identity_service.directory_summary(w.db, actor=w.op)
    ),
    # audit
    AUDIT + "record": Writes(
        "test.recorded",
        lambda w: audit_service.record(w.db, actor=w.op, action="test.recorded", object_type="x"),
    ),
    AUDIT + "entry_fields": READ_ONLY,  # builds values, writes nothing
    AUDIT + "append": Writes(
        "test.appended",
        lambda w: audit_service.append(
            w.db,
            [audit_service.entry_fields(actor=w.op, action="test.appended", object_type="x")],
        ),
    ),
    AUDIT + "chain_pending": Writes(
        "test.chained",
        lambda w: (
            audit_service.record(w.db, actor=w.op, action="test.chained", object_type="x"),
            audit_service.chain_pending(w.db),
        ),
    ),
    AUDIT + "search": Writes(
        "audit.query", lambda w: audit_service.search(w.db, actor=w.op, criteria=CRITERIA)
    ),
    AUDIT + "start_export": Writes(
        "audit.export",
        lambda w: audit_service.start_export(w.db, actor=w.op, criteria=CRITERIA, fmt="csv"),
    ),
    AUDIT + "prune": Writes(
        "audit.prune", lambda w: audit_service.prune(w.db, actor=w.op, retention_months=6)
    ),
    AUDIT + "verify": Reads(lambda w: audit_service.verify(w.db)),
    AUDIT + "checkpoint": Reads(lambda w: audit_service.checkpoint(w.db)),
    AUDIT + "iter_export": Reads(
        lambda w: list(audit_service.iter_export(w.db, criteria=CRITERIA, fmt="jsonl"))
    ),
    AUDIT + "retention_cutoff": READ_ONLY,
    # working-day calendar
    CALENDAR + "import_year": Writes(
        "calendar.import_year",
        lambda w: calendar_service.import_year(
            w.db, actor=w.op, year=2031, days=[(date(2031, 1, 1), False, "元旦")], source="测试"
        ),
    ),
    CALENDAR + "load": Reads(lambda w: calendar_service.load(w.db)),
    CALENDAR + "on_year_entered": READ_ONLY,  # registers a domain's recount at import time
    CALENDAR + "year_statuses": Reads(lambda w: calendar_service.year_statuses(w.db, [2026])),
    CALENDAR + "entered_years": Reads(lambda w: calendar_service.entered_years(w.db)),
    CALENDAR + "entered_days": Reads(lambda w: calendar_service.entered_days(w.db, 2026)),
    CALENDAR + "parse_schedule": READ_ONLY,
}


def _domain_scenarios() -> dict[str, Writes | Reads]:
    """The SCENARIOS of every `tests/<domain>/audit_scenarios.py`."""
    import tests

    found: dict[str, Writes | Reads] = {}
    for info in pkgutil.walk_packages(tests.__path__, "tests."):
        if info.name.endswith(".audit_scenarios"):
            found.update(importlib.import_module(info.name).SCENARIOS)
    return found


SCENARIOS.update(_domain_scenarios())

WRITERS = sorted(k for k, v in SCENARIOS.items() if isinstance(v, Writes))
READERS = sorted(k for k, v in SCENARIOS.items() if isinstance(v, Reads) and v.call)


@pytest.fixture
def world(db: Session) -> World:
    op, _ = operator(db)
    dept = organization(db, "江州市民政局")
    staff = user(db, dept, [Role.DEPARTMENT_STAFF], "staffer")
    db.commit()
    return World(db=db, op=op, dept=dept, staff=staff)


def snapshot(db: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    db.expire_all()
    return {
        table.name: [
            tuple(row)
            for row in db.execute(select(table).order_by(*table.primary_key.columns)).all()
        ]
        for table in all_models.Base.metadata.sorted_tables
    }


def test_every_service_function_has_a_scenario() -> None:
    found = service_functions()
    missing, stale = sorted(found - set(SCENARIOS)), sorted(set(SCENARIOS) - found)
    assert not missing, f"service functions without an audit scenario: {missing}"
    assert not stale, f"scenarios for service functions that no longer exist: {stale}"


def test_the_enumeration_finds_the_known_service_modules() -> None:
    names = {m.__name__ for m in service_modules()}
    assert {
        "govshare.identity.service",
        "govshare.core.audit.service",
        "govshare.core.calendar.service",
    } <= names


@pytest.mark.parametrize("name", WRITERS)
def test_writer_records_its_audit_entry(world: World, name: str) -> None:
    scenario = SCENARIOS[name]
    assert isinstance(scenario, Writes)
    db = world.db
    last_seq = db.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc())).scalar() or 0
    scenario.call(world)
    db.flush()
    actions = db.execute(select(AuditEntry.action).where(AuditEntry.seq > last_seq)).scalars().all()
    assert any(a.startswith(scenario.action) for a in actions), (
        f"{name} wrote {actions}, none starting with {scenario.action!r}"
    )
    db.commit()  # the guard accepts it: whatever changed was audited


@pytest.mark.parametrize("name", READERS)
def test_reader_changes_nothing(world: World, name: str) -> None:
    scenario = SCENARIOS[name]
    assert isinstance(scenario, Reads) and scenario.call is not None
    if scenario.prepare is not None:
        world.prepared = scenario.prepare(world)
        world.db.flush()
    before = snapshot(world.db)
    scenario.call(world)
    world.db.flush()
    assert snapshot(world.db) == before


def test_unaudited_change_is_refused_at_commit(db: Session) -> None:
    org = organization(db)
    db.commit()
    org.name = "悄悄改名的局"
    with pytest.raises(AuditMissing, match="Organization"):
        db.commit()
    db.rollback()
    assert db.get(Organization, org.id).name != "悄悄改名的局"


def test_a_core_append_audits_the_transaction(db: Session) -> None:
    """`audit.service.append` (the hot paths' one INSERT) satisfies the guard as `record`
    does, in either sequencing mode."""
    org = organization(db)
    db.commit()
    org.name = "按规定改名的局"
    fields = audit_service.entry_fields(
        actor=Actor.command_line("test"), action="identity.org.update", object_type="organization"
    )
    audit_service.append(db, [fields])
    db.commit()
    org.name = "悄悄改名的局"
    with pytest.raises(AuditMissing):  # the flag did not outlive its transaction
        db.commit()
    db.rollback()


def test_retrying_the_commit_after_audit_missing_is_still_refused(db: Session) -> None:
    org = organization(db)
    db.commit()
    org.name = "悄悄改名的局"
    with pytest.raises(AuditMissing):
        db.commit()
    with pytest.raises(AuditMissing):
        db.commit()
    db.rollback()


def test_unaudited_new_row_is_refused_at_commit(db: Session) -> None:
    org = organization(db)
    db.commit()
    db.add(
        User(
            username="ghost",
            real_name="无名",
            mobile="13800138000",
            organization_id=org.id,
            password_hash="x",
            created_at=clock.now(),
        )
    )
    with pytest.raises(AuditMissing, match="User"):
        db.commit()
    db.rollback()
