"""The demo's sharing: applications in every state, deadlines missed and kept, grants in every
state, feedback, coordination cases and data updates — built once per module through the
services, in time order, so the audit chain holds and nothing happens in the future."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from govshare import demo
from govshare.catalog.models import Resource, ResourceStatus
from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.audit import service as audit
from govshare.core.permissions import Actor
from govshare.identity.models import Organization, User
from govshare.identity.service import actor_for_user
from govshare.sharing.models import (
    Application,
    ApplicationKind,
    ApplicationState,
    ApplicationStep,
    Case,
    CaseOrigin,
    CaseState,
    DataUpdate,
    Feedback,
    Grant,
    GrantActionKind,
    GrantSource,
    GrantState,
    StepKind,
)
from govshare.sharing.service import deadlines, freshness
from govshare.sharing.service.access import check_access


@pytest.fixture(scope="module")
def city(engine: Engine) -> Iterator[Session]:
    """The whole demo city, built once for the module and rolled back after it."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        assert demo.build(session)
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def _all(db: Session, model: type) -> list:
    return list(db.execute(select(model).order_by(model.id)).scalars())


def _officer(db: Session, organization_id: int) -> Actor:
    user = db.execute(
        select(User).where(
            User.organization_id == organization_id, User.username.like("%\\_officer", escape="\\")
        )
    ).scalar_one()
    return actor_for_user(user)


def test_applications_in_every_state(city: Session) -> None:
    applications = _all(city, Application)
    states = Counter(a.state for a in applications)
    # Closed (已终止) comes only from a retirement taking effect under an open application; the
    # demo's retirements take effect before its sharing stories begin.
    assert set(states) == set(ApplicationState) - {ApplicationState.CLOSED}
    assert states[ApplicationState.PRE_REVIEW] >= 2
    assert states[ApplicationState.DECIDING] >= 2
    assert states[ApplicationState.APPROVED] >= 4

    for refused in (a for a in applications if a.state is ApplicationState.REFUSED):
        assert refused.decision_reason and refused.decision_basis
    returned = next(a for a in applications if a.state is ApplicationState.RETURNED)
    assert returned.steps[0].comment
    renewals = [a for a in applications if a.kind is ApplicationKind.RENEWAL]
    assert [r.state for r in renewals] in (
        [ApplicationState.PRE_REVIEW],
        [ApplicationState.DECIDING],
    )
    # every new application carries the sealed letter Shangrao asks for, as a PDF
    for application in applications:
        assert application.profile_code == "shangrao"
        if application.kind is ApplicationKind.NEW:
            (letter,) = application.attachments
            assert letter.kind == "sealed_letter" and letter.content_type == "application/pdf"
            assert letter.content.startswith(b"%PDF") and letter.content.endswith(b"%%EOF\n")
    # one was returned, corrected and submitted again before its approval
    assert any(
        a.state is ApplicationState.APPROVED and len(a.steps) == 4 and a.steps[0].comment
        for a in applications
    )


def test_an_approval_narrows_the_request(city: Session) -> None:
    approved = [
        a
        for a in _all(city, Application)
        if a.state is ApplicationState.APPROVED and a.kind is ApplicationKind.NEW
    ]
    narrowed = [
        (a, city.get(Grant, a.grant_id))
        for a in approved
        if len(city.get(Grant, a.grant_id).fields) < len(a.fields)
    ]
    assert narrowed
    assert any(
        g.row_filter != a.row_filter
        and {"field": "公民身份号码", "rule": "id_number"} in g.masking
        and set(g.fields) < set(a.fields)
        for a, g in narrowed
    )


def test_deadlines_missed_and_kept(city: Session) -> None:
    today = clock.today()
    calendar = working_days.load(city)
    steps = _all(city, ApplicationStep)
    open_steps = [s for s in steps if s.started and s.finished_at is None]
    overdue = [
        s for s in open_steps if deadlines.urgency(s, calendar, today) is deadlines.Urgency.OVERDUE
    ]
    assert {s.kind for s in overdue} == {StepKind.PRE_REVIEW, StepKind.DECISION}
    assert any(s.due_on >= today for s in open_steps)  # and some still in time
    late = [s for s in steps if s.finished_on is not None and s.finished_on > s.due_on]
    assert len(late) == 1 and late[0].kind is StepKind.DECISION
    # the daily reminder job told the answerers, in the past and today
    assert all(s.overdue_notified_on for s in overdue)
    operator = Actor.command_line("test")
    records = deadlines.department_records(city, actor=operator)
    assert sum(r.open_overdue for r in records) == len(overdue)


def test_grants_in_every_state(city: Session) -> None:
    today = clock.today()
    all_grants = _all(city, Grant)
    sources = Counter(g.source for g in all_grants)
    assert sources[GrantSource.DIRECT] >= 5
    assert sources[GrantSource.APPLICATION] >= 4
    assert sources[GrantSource.COORDINATION] == 1
    assert all(g.whole_resource for g in all_grants if g.source is GrantSource.DIRECT)

    (suspended,) = [g for g in all_grants if g.state is GrantState.SUSPENDED]
    (suspension,) = [a for a in suspended.actions if a.kind is GrantActionKind.SUSPEND]
    assert suspension.reported_to_authority and suspended.state_reason
    access = check_access(
        city, actor=_officer(city, suspended.consumer_id), resource_id=suspended.resource_id
    )
    assert not access.allowed and "暂停" in access.reason

    resumed = [g for g in all_grants if GrantActionKind.RESUME in {a.kind for a in g.actions}]
    assert resumed and all(g.usable(today) for g in resumed)
    access = check_access(
        city, actor=_officer(city, resumed[0].consumer_id), resource_id=resumed[0].resource_id
    )
    assert access.allowed

    ended = [g for g in all_grants if g.state is GrantState.ENDED]
    assert ended and all(g.state_reason for g in ended)
    expiring = [
        g
        for g in all_grants
        if g.usable(today) and g.valid_until and g.valid_until <= today + timedelta(days=30)
    ]
    assert expiring
    renewed = {
        a.renews_grant_id for a in _all(city, Application) if a.kind is ApplicationKind.RENEWAL
    }
    assert renewed & {g.id for g in expiring}  # one asks for a renewal
    assert {g.id for g in expiring} - renewed  # another has not yet

    feedback = _all(city, Feedback)
    assert len(feedback) >= 3 and len({f.grant_id for f in feedback}) == len(feedback)


def test_coordination_cases(city: Session) -> None:
    cases = _all(city, Case)
    (negotiating,) = [c for c in cases if c.state is CaseState.NEGOTIATING]
    assert negotiating.origin is CaseOrigin.NOT_SHARED and len(negotiating.messages) >= 3
    (agreed,) = [c for c in cases if c.state is CaseState.AGREED]
    assert agreed.origin is CaseOrigin.REFUSED and agreed.filing_number
    refused = city.get(Application, agreed.application_id)
    assert refused is not None and refused.state is ApplicationState.REFUSED
    grant = city.get(Grant, agreed.grant_id)
    assert grant is not None and grant.source is GrantSource.COORDINATION
    assert grant.case_id == agreed.id and grant.usable(clock.today())


def test_only_a_few_departments_are_stale(city: Session) -> None:
    published = [r for r in _all(city, Resource) if r.status is ResourceStatus.PUBLISHED]
    providers = {r.provider_id for r in published}
    stale = {org_id for org_id in providers if freshness.stale_resources(city, org_id)}
    assert 1 <= len(stale) <= 2 and len(stale) < len(providers) / 4
    updated = {u.resource_id for u in _all(city, DataUpdate)}
    assert len(updated) >= 0.8 * len(published)
    names = {city.get(Organization, o).short_name for o in stale}
    assert names == {"市供水公司", "县民政局"}


def test_history_runs_forward_and_stops_today(city: Session) -> None:
    now = clock.now()
    for application in _all(city, Application):
        submitted = clock.as_utc(application.submitted_at)
        assert submitted <= now
        assert application.version.published_on <= clock.to_city(submitted).date()
        finished = [clock.as_utc(s.finished_at) for s in application.steps if s.finished_at]
        assert finished == sorted(finished) and all(f <= now for f in finished)
        assert application.steps[0].started_on <= clock.to_city(submitted).date()
    for grant in _all(city, Grant):
        created = clock.as_utc(grant.created_at)
        assert created <= now
        assert grant.version.published_on <= clock.to_city(created).date()
        for action in grant.actions:
            assert created <= clock.as_utc(action.at) <= now
    for feedback in _all(city, Feedback):
        assert clock.as_utc(feedback.grant.created_at) < clock.as_utc(feedback.created_at) <= now
    for update in _all(city, DataUpdate):
        assert update.updated_on <= clock.today() and clock.as_utc(update.recorded_at) <= now
    assert audit.verify(city).ok
