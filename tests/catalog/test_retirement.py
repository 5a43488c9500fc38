"""CAT-6, SR§9: an update or retirement of a published resource is announced a month ahead
(Shangrao) to every department holding a grant on it, not only to subscribers; when a
retirement takes effect its grants end with the retirement's reason (audited, each consumer
told) and no data path, application or grant reaches the resource again. The data paths
themselves are proven in tests/exchange/test_acceptance.py and test_gateway.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog import jobs
from govshare.catalog.models import ResourceStatus, VersionState
from govshare.catalog.schemas import RetirementIn, ReviewIn
from govshare.catalog.service import resources, retirements, subscriptions
from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Conflict
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role
from govshare.sharing.models import (
    ApplicationState,
    Grant,
    GrantActionKind,
    GrantState,
    StepKind,
    StepOutcome,
)
from govshare.sharing.schemas import DecisionIn, DirectAccessIn, GrantActionIn
from govshare.sharing.service import access, deadlines, decisions, grants
from tests.builders import actor_of, organization, system_of, user
from tests.catalog.builders import RULES
from tests.sharing.builders import SHANGRAO, Sharing, deciding, sharing_world, submitted

APPROVE = ReviewIn(approve=True)
REASON = "职能划转至市政务服务数据管理局，数据不再由本单位提供"
REFUSAL = f"资源已下架：{REASON}"


@dataclass
class Users:
    """The sharing cast, plus a subscriber without grant and a department whose grant ended."""

    w: Sharing
    grant: Grant  # the consumer's direct grant on the unconditional resource
    subscriber: Actor
    former: Actor  # held a grant on it, ended before the change


def _direct(w: Sharing, actor: Actor, purpose: str = "政务服务事项办理指引") -> Grant:
    return grants.request_direct_access(
        w.db,
        actor=actor,
        rules=SHANGRAO.rules,
        data=DirectAccessIn(
            resource_id=w.unconditional.id,
            purpose=purpose,
            system_id=system_of(w.db, actor.organization_id, "一网通办平台"),
            accept_restrictions=True,
        ),
    )


@pytest.fixture
def users(db: Session) -> Users:
    with clock.frozen("2026-09-01T09:00:00+08:00"):
        w = sharing_world(db)
        grant = _direct(w, w.consumer_officer)
        subscriber = actor_of(
            user(db, organization(db, "市人力资源和社会保障局"), [Role.DATA_OFFICER])
        )
        subscriptions.subscribe(db, actor=subscriber, resource_id=w.unconditional.id)
        former = actor_of(user(db, organization(db, "市卫生健康委员会"), [Role.DATA_OFFICER]))
        ended = _direct(w, former, "疫苗接种登记核验")
        grants.end_grant(db, actor=former, grant_id=ended.id, data=GrantActionIn(reason="不再需要"))
    return Users(w, grant, subscriber, former)


def titles(db: Session, actor: Actor) -> list[str]:
    return [n.title for n in inbox.list_notifications(db, actor=actor).rows]


def test_an_update_is_announced_to_grant_holders_and_subscribers(db: Session, users) -> None:
    w = users.w
    with clock.frozen("2026-09-02T10:00:00+08:00"):
        v2 = resources.start_revision(db, actor=w.provider_officer, resource_id=w.unconditional.id)
        resources.submit_version(db, actor=w.provider_officer, version_id=v2.id, rules=RULES)
        resources.review_version(db, actor=w.op, version_id=v2.id, decision=APPROVE, rules=RULES)
    assert v2.effective_on == date(2026, 10, 2)
    ahead = f"变更预告：户籍办理指南信息 将于 {v2.effective_on} 更新"
    assert ahead in titles(db, w.consumer_officer)  # holds a grant, never subscribed
    assert ahead in titles(db, users.subscriber)
    assert ahead not in titles(db, users.former)  # its grant had ended

    with clock.frozen("2026-10-02T00:30:00+08:00"):
        retirements.apply_due_changes(db, actor=jobs.SCHEDULER)
    assert v2.state is VersionState.PUBLISHED and v2.published_on == date(2026, 10, 2)
    done = "已更新：户籍办理指南信息（第 2 版生效）"
    assert done in titles(db, w.consumer_officer)
    assert done in titles(db, users.subscriber)
    assert done not in titles(db, users.former)


def test_a_retirement_is_announced_and_ends_every_grant_with_its_reason(db: Session, users) -> None:
    w, grant = users.w, users.grant
    resource = w.unconditional
    with clock.frozen("2026-10-05T10:00:00+08:00"):
        retirements.request_retirement(
            db, actor=w.provider_officer, resource_id=resource.id, data=RetirementIn(reason=REASON)
        )
        retirements.review_retirement(
            db, actor=w.op, resource_id=resource.id, decision=APPROVE, rules=RULES
        )
    assert resource.retires_on == date(2026, 11, 5)  # a month's notice
    ahead = "下架预告：户籍办理指南信息 将于 2026-11-05 下架"
    assert ahead in titles(db, w.consumer_officer)
    assert ahead in titles(db, users.subscriber)
    assert ahead not in titles(db, users.former)

    with clock.frozen("2026-11-04T18:00:00+08:00"):  # the last day: still usable
        assert access.check_access(db, actor=w.consumer_officer, resource_id=resource.id).allowed
    with clock.frozen("2026-11-05T00:30:00+08:00"):
        assert retirements.apply_due_changes(db, actor=jobs.SCHEDULER).retired == [resource.code]
        assert resource.status is ResourceStatus.RETIRED

        # The grant ended with the reason, as an action on the grant and in the audit log.
        assert (grant.state, grant.state_reason) == (GrantState.ENDED, REFUSAL)
        [end] = [a for a in grant.actions if a.kind is GrantActionKind.END]
        assert (end.reason, end.by, end.reported_to_authority) == (
            REFUSAL,
            jobs.SCHEDULER.label,
            False,
        )
        entries = db.execute(
            select(AuditEntry).where(
                AuditEntry.action == "sharing.grant.end", AuditEntry.object_id == str(grant.id)
            )
        ).scalars()
        [entry] = list(entries)
        assert json.loads(entry.details)["reason"] == REFUSAL
        # The consumer was told, with the reason.
        [told] = [
            n
            for n in inbox.list_notifications(db, actor=w.consumer_officer).rows
            if grant.number in n.title
        ]
        assert REASON in told.body and told.link == grants.link(grant)
        assert "已下架：户籍办理指南信息" in titles(db, users.subscriber)

        decision = access.check_access(db, actor=w.consumer_officer, resource_id=resource.id)
        assert (decision.allowed, decision.reason) == (False, REFUSAL)
        # A department that never held a grant hears the same reason.
        stranger = access.check_access(db, actor=users.subscriber, resource_id=resource.id)
        assert (stranger.allowed, stranger.reason) == (False, REFUSAL)
        # No new grant, no renewal.
        with pytest.raises(Conflict):
            _direct(w, users.subscriber)
        with pytest.raises(Conflict, match="已终止"):
            grants.resume_grant(
                db, actor=w.op, grant_id=grant.id, data=GrantActionIn(reason="恢复")
            )


def test_the_check_refuses_a_retired_resource_even_where_a_grant_was_left_active(
    db: Session, users
) -> None:
    """Defence in depth: whatever state a grant is in, the resource's retirement decides."""
    w, grant = users.w, users.grant
    with clock.frozen("2026-10-05T10:00:00+08:00"):
        retirements.request_retirement(
            db,
            actor=w.provider_officer,
            resource_id=w.unconditional.id,
            data=RetirementIn(reason=REASON),
        )
        retirements.review_retirement(
            db, actor=w.op, resource_id=w.unconditional.id, decision=APPROVE, rules=RULES
        )
    with clock.frozen("2026-11-05T00:30:00+08:00"):
        retirements.apply_due_changes(db, actor=jobs.SCHEDULER)
        grant.state = GrantState.ACTIVE  # as if restored by hand in the database
        db.flush()
        decision = access.check_access(db, actor=w.consumer_officer, resource_id=w.unconditional.id)
        assert (decision.allowed, decision.reason, decision.grant) == (False, REFUSAL, grant)


def test_an_application_open_when_the_resource_retires_is_closed_with_the_reason(
    db: Session, users
) -> None:
    w = users.w
    with clock.frozen("2026-10-05T10:00:00+08:00"):
        application = deciding(w)
        retirements.request_retirement(
            db,
            actor=w.provider_officer,
            resource_id=w.conditional.id,
            data=RetirementIn(reason=REASON),
        )
        retirements.review_retirement(
            db, actor=w.op, resource_id=w.conditional.id, decision=APPROVE, rules=RULES
        )
    with clock.frozen("2026-11-05T09:00:00+08:00"):
        jobs_result = retirements.apply_due_changes(db, actor=jobs.SCHEDULER)
        assert jobs_result.retired == [w.conditional.code]
        db.refresh(application)
        assert application.state is ApplicationState.CLOSED
        [step] = [s for s in application.steps if s.kind is StepKind.DECISION]
        assert (step.outcome, step.comment) == (StepOutcome.CLOSED, REFUSAL)
        assert step.finished_on == date(2026, 11, 5)
        # Not an answer of the provider's: its record counts no answered step for it.
        records = {r.organization: r for r in deadlines.department_records(db, actor=w.op)}
        provider = records.get(w.provider)
        assert provider is None or (provider.answered, provider.open_overdue) == (0, 0)
        closed = f"共享申请已终止：{application.number}"
        assert closed in titles(db, w.consumer_officer)
        assert closed in titles(db, w.provider_officer)
        entry = db.execute(
            select(AuditEntry).where(AuditEntry.action == "sharing.application.close")
        ).scalar_one()
        assert entry.object_id == str(application.id)
        assert json.loads(entry.details)["reason"] == REFUSAL
        with pytest.raises(Conflict):  # it cannot be answered any more
            decisions.decide(
                db,
                actor=w.provider_officer,
                profile=SHANGRAO,
                application_id=application.id,
                data=DecisionIn(approve=True),
            )
        with pytest.raises(Conflict) as refused:  # nor can a new application be made
            submitted(w)
        assert REFUSAL in refused.value.message
