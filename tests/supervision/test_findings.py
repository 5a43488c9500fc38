"""Detection (SUP-2): the detectors find violations in the facts the other domains keep, each
naming the department, the facts and the article of the profile it breaks; found again a
finding is updated, gone it is resolved."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.catalog.schemas import ChangeEventIn, ReviewIn, VersionIn
from govshare.catalog.service import changes, resources, retirements
from govshare.catalog.service.contents import version_input
from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.inbox.models import Notification
from govshare.core.policy import Violation, load_profile
from govshare.exchange.models import RunKind, RunState, RunTrigger, SyncRun, TableBinding
from govshare.pki import service as pki_service
from govshare.sharing.schemas import DataUpdateIn, DecisionIn, DirectAccessIn, GrantActionIn
from govshare.sharing.service import decisions, freshness, grants
from govshare.supervision import detectors
from govshare.supervision.models import Finding, NoticeState
from govshare.supervision.service import findings
from govshare.systems import service as systems_service
from govshare.systems.schemas import ConnectionIn, LineClosureIn, RetireIn
from govshare.verification.schemas import MetadataObjectionIn
from govshare.verification.service import objections
from tests.builders import operator, system_of
from tests.catalog.builders import RULES, published
from tests.exchange.builders import POPULATION, bind, people_resource
from tests.pki import builders as pki_builders
from tests.sharing.builders import BINZHOU, SHANGRAO, Sharing, sharing_world
from tests.supervision.builders import (
    BUILT_AT,
    DECISION_DUE,
    FOUND_AT,
    detect,
    overdue,
    overdue_application,
)
from tests.systems.builders import line, officer_of, registered


def test_an_overdue_decision_is_found_with_its_article_and_becomes_a_notice(db: Session) -> None:
    s, application = overdue_application(db)
    result = detect(db)
    (finding,) = result.found
    assert finding.kind is Violation.DECISION_OVERDUE
    assert finding.department_id == s.provider.id
    assert (finding.subject_type, finding.subject_id) == ("application", application.id)
    assert finding.article == "第三十条第（三）项"
    assert finding.citation == "《上饶市政务信息资源共享和开放管理办法》第三十条第（三）项"
    assert finding.facts["due_on"] == "2026-11-17" and finding.facts["days_late"] == 3
    assert application.number in finding.facts["summary"]
    (notice,) = result.issued
    assert notice.finding_id == finding.id and notice.department_id == s.provider.id
    assert notice.state is NoticeState.ISSUED
    assert notice.number.startswith("ZG2026")
    assert (notice.issued_on, notice.due_on) == (date(2026, 11, 20), date(2026, 12, 4))
    assert notice.rectify_days == SHANGRAO.rules.rectification_days.value == 10
    told = db.scalars(select(Notification).where(Notification.kind == "supervision.notice")).all()
    assert told and all("第三十条第（三）项" in n.body for n in told)
    actions = set(db.scalars(select(AuditEntry.action)))
    assert {
        "supervision.finding.found",
        "supervision.notice.issue",
        "supervision.detect",
    } <= actions


def test_a_decision_on_its_last_day_is_not_overdue(db: Session) -> None:
    overdue_application(db)
    assert detect(db, at=DECISION_DUE).found == []


def test_a_finding_found_again_is_updated_not_doubled(db: Session) -> None:
    o = overdue(db)
    again = detect(db, at="2026-11-24T10:00:00+08:00")
    assert (again.found, again.kept, again.resolved, again.issued) == ([], 1, [], [])
    assert db.scalar(select(Finding).where(Finding.kind == Violation.DECISION_OVERDUE)) is o.finding
    assert o.finding.facts["days_late"] == 7
    assert o.finding.first_found_at < o.finding.last_found_at


def test_a_finding_is_resolved_when_the_decision_is_made(db: Session) -> None:
    o = overdue(db)
    with clock.frozen("2026-11-23T09:00:00+08:00"):
        decisions.decide(
            db,
            actor=o.s.provider_officer,
            profile=SHANGRAO,
            application_id=o.application.id,
            data=DecisionIn(approve=True),
        )
    later = detect(db, at="2026-11-24T10:00:00+08:00")
    assert later.resolved == [o.finding] and later.kept == 0
    assert o.finding.resolved_at is not None
    # the notice stands: the department still answers it and the operator decides
    assert o.notice.state is NoticeState.ISSUED


def test_a_detector_run_alone_resolves_only_its_own_kind(db: Session) -> None:
    o = overdue(db)
    result = detect(db, only=(detectors.grant_suspended,))
    assert result.resolved == [] and o.finding.resolved_at is None


def test_the_article_is_the_active_profiles(db: Session) -> None:
    overdue_application(db)
    (finding,) = detect(db, profile=BINZHOU).found
    assert finding.article == "第三十條第(二)項"
    assert finding.regulation == BINZHOU.regulation
    assert finding.profile_code == "binzhou"


def test_an_objection_not_verified_in_time_is_found_against_the_provider(db: Session) -> None:
    with clock.frozen(BUILT_AT):
        s = sharing_world(db)
        objection = objections.raise_on_metadata(
            db,
            actor=s.consumer_officer,
            profile=SHANGRAO,
            resource_id=s.unconditional.id,
            data=MetadataObjectionIn(items=["更新周期"], description="实际每月更新，目录写每日"),
        )
    (finding,) = detect(db, only=(detectors.objection_overdue,)).found
    assert finding.kind is Violation.OBJECTION_OVERDUE
    assert finding.department_id == s.provider.id
    assert finding.subject_id == objection.id
    assert finding.article == "第三十条第（五）项"


def test_stale_data_is_found_and_resolved_by_an_update(db: Session) -> None:
    with clock.frozen(BUILT_AT):
        s = sharing_world(db)  # every resource published today, updated daily
    result = detect(db, only=(detectors.data_stale,))
    stale = {f.subject_id for f in result.found}
    assert stale == {s.conditional.id, s.unconditional.id, s.not_shared.id}
    assert {f.article for f in result.found} == {"第三十条第（二）项"}
    assert all(f.department_id == s.provider.id for f in result.found)
    with clock.frozen(FOUND_AT):
        freshness.record_data_update(
            db, actor=s.provider_officer, resource_id=s.conditional.id, data=DataUpdateIn()
        )
    again = detect(db, only=(detectors.data_stale,))
    assert [f.subject_id for f in again.resolved] == [s.conditional.id]


def test_a_suspended_grant_is_found_against_its_consumer(db: Session) -> None:
    with clock.frozen(BUILT_AT):
        s = sharing_world(db)
        grant = grants.request_direct_access(
            db,
            actor=s.consumer_officer,
            rules=SHANGRAO.rules,
            data=DirectAccessIn(
                resource_id=s.unconditional.id,
                purpose="核对办事群众户籍",
                system_id=system_of(db, s.consumer.id),
                accept_restrictions=True,
            ),
        )
        grants.suspend_grant(
            db,
            actor=s.provider_officer,
            grant_id=grant.id,
            data=GrantActionIn(reason="将数据提供给第三方公司"),
        )
    (finding,) = detect(db, only=(detectors.grant_suspended,)).found
    assert finding.department_id == s.consumer.id
    assert finding.article == "第三十条第（四）项"
    assert "将数据提供给第三方公司" in finding.facts["summary"]


def test_a_private_line_open_past_its_date_is_found_until_it_is_closed(db: Session) -> None:
    with clock.frozen(BUILT_AT):
        officer = officer_of(db, "市民政局")
        system = registered(db, officer)
        late = line(db, officer, system, date(2026, 11, 10))
        line(db, officer, system, date(2026, 12, 31), peer="市人社局 社会保险信息系统")
    (finding,) = detect(db, only=(detectors.private_line_overdue,)).found
    assert finding.department_id == officer.organization_id
    assert (finding.subject_type, finding.subject_id) == ("information_system", system.id)
    assert finding.article == "第三十条第（五）项"
    assert finding.facts["days_late"] == 10 and "2026-11-10" in finding.facts["summary"]
    again = detect(db, profile=load_profile("shaoyang"), only=(detectors.private_line_overdue,))
    assert again.kept == 1 and again.found == []
    with clock.frozen(FOUND_AT):
        systems_service.close_private_line(
            db, actor=officer, line_id=late.id, data=LineClosureIn(closed_on=date(2026, 11, 19))
        )
    assert detect(db, only=(detectors.private_line_overdue,)).resolved == [finding]


def test_a_certificate_near_expiry_is_found_until_it_is_renewed(db: Session) -> None:
    with clock.frozen(BUILT_AT):
        op, _ = operator(db)
        officer = officer_of(db, "市民政局")
        pki_builders.authority(db, op)
        relief, other = registered(db, officer), registered(db, officer, name="婚姻登记系统")
        soon = pki_builders.issued(db, officer, relief.id, days=40)  # to 2026-12-13
        pki_builders.issued(db, officer, other.id, days=365)
    (finding,) = detect(db, only=(detectors.certificate_expiring,)).found
    assert finding.kind is Violation.CERTIFICATE_EXPIRING
    assert finding.department_id == officer.organization_id
    assert (finding.subject_type, finding.subject_id) == ("information_system", relief.id)
    assert finding.article == "第三十条第（五）项"
    assert finding.facts["not_after"] == "2026-12-13" and finding.facts["days_left"] == 23
    assert "将于 2026-12-13 到期" in finding.facts["summary"] and not finding.facts["expired"]
    with clock.frozen(FOUND_AT):
        pki_service.renew_certificate(
            db,
            actor=officer,
            settings=pki_builders.SETTINGS,
            validity_days=365,
            certificate_id=soon.id,
        )
    # The old certificate still expires in 23 days, but the renewal takes over.
    assert detect(db, only=(detectors.certificate_expiring,)).resolved == [finding]


def test_a_certificate_expires_within_the_profiles_warning_days(db: Session) -> None:
    with clock.frozen(BUILT_AT):
        op, _ = operator(db)
        officer = officer_of(db, "市民政局")
        pki_builders.authority(db, op)
        pki_builders.issued(db, officer, registered(db, officer).id, days=40)
    short = BINZHOU.model_copy(
        update={
            "rules": BINZHOU.rules.model_copy(
                update={
                    "certificate_expiry_warning_days": BINZHOU.rules.certificate_expiry_warning_days.model_copy(
                        update={"value": 20}
                    )
                }
            )
        }
    )
    assert detect(db, profile=short, only=(detectors.certificate_expiring,)).found == []
    (found,) = detect(db, profile=BINZHOU, only=(detectors.certificate_expiring,)).found
    assert found.article == "第三十條第(五)項"


def test_an_expired_certificate_is_found_while_its_system_is_connected(db: Session) -> None:
    with clock.frozen(BUILT_AT):
        op, _ = operator(db)
        officer = officer_of(db, "市民政局")
        pki_builders.authority(db, op)
        connected, idle = registered(db, officer), registered(db, officer, name="婚姻登记系统")
        systems_service.record_connection(
            db,
            actor=officer,
            system_id=connected.id,
            data=ConnectionIn(connected_on=date(2026, 11, 2)),
        )
        pki_builders.issued(db, officer, connected.id, days=30)  # to 2026-12-03
        pki_builders.issued(db, officer, idle.id, days=30)
    at = "2026-12-08T10:00:00+08:00"
    (finding,) = detect(db, at=at, only=(detectors.certificate_expiring,)).found
    assert finding.subject_id == connected.id and finding.facts["expired"]
    assert "已于 2026-12-03 过期 5 天，该系统仍接入平台" in finding.facts["summary"]
    with clock.frozen(at):
        systems_service.retire_system(
            db, actor=officer, system_id=connected.id, data=RetireIn(reason="并入新系统")
        )
    assert detect(db, at=at, only=(detectors.certificate_expiring,)).resolved == [finding]


def _runs(db: Session, binding_id: int, *states: RunState) -> None:
    for state in states:
        db.add(
            SyncRun(
                binding_id=binding_id,
                kind=RunKind.FULL,
                trigger=RunTrigger.SCHEDULE,
                state=state,
                queued_at=clock.now(),
                queued_by="test",
                finished_at=clock.now(),
                error="源库连接超时" if state is RunState.FAILED else "",
            )
        )
    db.flush()


def test_sync_runs_failing_one_after_another_are_found(db: Session) -> None:
    with clock.frozen(BUILT_AT):
        s = sharing_world(db)
        binding = bind(db, s, people_resource(s))
        _runs(db, binding.id, RunState.SUCCEEDED, RunState.FAILED, RunState.FAILED)
    assert detect(db, only=(detectors.sync_failing,)).found == []
    with clock.frozen(BUILT_AT):
        _runs(db, binding.id, RunState.FAILED)
    (finding,) = detect(db, only=(detectors.sync_failing,)).found
    assert finding.department_id == s.provider.id
    assert finding.subject_id == binding.id
    assert "源库连接超时" in finding.facts["summary"]
    with clock.frozen(FOUND_AT):
        _runs(db, binding.id, RunState.SUCCEEDED)
    assert detect(db, only=(detectors.sync_failing,)).resolved == [finding]


def test_a_catalog_update_past_its_deadline_is_found(db: Session) -> None:
    with clock.frozen(BUILT_AT):
        s = sharing_world(db)
        changes.record_change_event(
            db,
            actor=s.provider_officer,
            data=ChangeEventIn(
                cause="duty_change",
                description="机构改革调整户籍管理职责",
                occurred_on=date(2026, 11, 2),
            ),
            rules=SHANGRAO.rules,
        )
    (finding,) = detect(db, at="2026-12-01T10:00:00+08:00", only=(detectors.catalog_overdue,)).found
    assert finding.department_id == s.provider.id
    assert finding.article == "第三十条第（一）项"


IN_EFFECT = "2027-01-11T10:00:00+08:00"  # past the revision's announced date


def _unconditional_people(s: Sharing) -> Resource:
    items = [
        {"name": i, "data_type": d} | ({"length": n} if n else {}) for i, _, _, d, n in POPULATION
    ]
    return published(
        s.db, s.provider_officer, s.op, name="户籍人口底册", share_type="unconditional", items=items
    )


def test_items_an_unconditional_resource_lists_but_its_data_lacks_are_a_narrowing(
    db: Session,
) -> None:
    with clock.frozen(BUILT_AT):
        s = sharing_world(db)
        resource = _unconditional_people(s)
        bind(db, s, resource)
    assert detect(db, only=(detectors.narrowing,)).found == []
    with clock.frozen(BUILT_AT):  # a version adds an item the binding never got
        version = resources.start_revision(db, actor=s.provider_officer, resource_id=resource.id)
        data = VersionIn.model_validate(
            version_input(version)
            | {
                "items": [
                    *version_input(version)["items"],
                    {"name": "兵役状况", "data_type": "C", "length": 20},
                ]
            }
        )
        resources.update_draft(
            db, actor=s.provider_officer, version_id=version.id, data=data, rules=RULES
        )
        resources.submit_version(db, actor=s.provider_officer, version_id=version.id, rules=RULES)
        resources.review_version(
            db, actor=s.op, version_id=version.id, decision=ReviewIn(approve=True), rules=RULES
        )
    with clock.frozen(IN_EFFECT):  # announced ahead, in effect from its date
        retirements.apply_due_changes(db, actor=s.op)
    (finding,) = detect(db, at=IN_EFFECT, only=(detectors.narrowing,)).found
    assert finding.department_id == s.provider.id
    assert finding.facts["missing_items"] == ["兵役状况"]
    assert finding.article == "第三十条第（五）项"
    binding = db.scalars(select(TableBinding).where(TableBinding.resource_id == resource.id)).one()
    with clock.frozen(IN_EFFECT):  # the provider binds the new item: put right
        binding.columns = [
            *binding.columns,
            {"item": "兵役状况", "column": "military", "type": "TEXT"},
        ]
        db.flush()
    assert detect(db, at=IN_EFFECT, only=(detectors.narrowing,)).resolved == [finding]


def test_a_department_sees_its_own_findings_and_overseers_all(db: Session) -> None:
    o = overdue(db)
    with clock.frozen(FOUND_AT):
        assert findings.list_findings(db, actor=o.s.provider_officer) == [o.finding]
        assert findings.list_findings(db, actor=o.s.consumer_officer) == []
        assert findings.list_findings(db, actor=o.s.authority) == [o.finding]
        assert findings.count_findings(db, actor=o.s.op) == 1
        with pytest.raises(Exception, match="没有编号"):
            findings.get_finding(db, actor=o.s.consumer_officer, finding_id=o.finding.id)
        assert (
            findings.notice_of(db, actor=o.s.provider_officer, finding_id=o.finding.id) is o.notice
        )


def test_every_detector_is_named_for_the_violation_it_finds() -> None:
    names = [d.__name__ for d in detectors.DETECTORS]
    assert all(name in set(Violation) for name in names)
    assert len(set(names)) == len(names)
