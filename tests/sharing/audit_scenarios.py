"""Audit scenarios for the sharing services (see tests/test_audit_coverage.py)."""

from __future__ import annotations

from datetime import date

from govshare.core import clock
from govshare.core.permissions import Actor, Role
from govshare.sharing.models import Grant, GrantSource
from govshare.sharing.schemas import (
    DataUpdateIn,
    DecisionIn,
    DirectAccessIn,
    FeedbackIn,
    GrantActionIn,
    PreReviewIn,
    RenewalIn,
)
from govshare.sharing.service import (
    access,
    application_views,
    applications,
    deadlines,
    decisions,
    feedback,
    freshness,
    grants,
)
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.sharing.builders import (
    SHANGRAO,
    Sharing,
    application_in,
    approved,
    deciding,
    sharing_world,
    submitted,
)
from tests.sharing.case_scenarios import CASE_SCENARIOS

APP = "govshare.sharing.service.applications."
DECISIONS = "govshare.sharing.service.decisions."
APP_VIEWS = "govshare.sharing.service.application_views."
GRANTS = "govshare.sharing.service.grants."
ACCESS = "govshare.sharing.service.access."
FEEDBACK = "govshare.sharing.service.feedback."
DEADLINES = "govshare.sharing.service.deadlines."
FRESH = "govshare.sharing.service.freshness."
COMMON = "govshare.sharing.service.common."
JOB = Actor(label="job:test", roles=frozenset({Role.SYSTEM}))
SEPT = "2026-09-25T10:00:00+08:00"


def cast(w: World) -> Sharing:
    with clock.frozen("2026-09-01T09:00:00+08:00"):
        return sharing_world(w.db, w.op)


def direct(s: Sharing) -> Grant:
    return grants.request_direct_access(
        s.db,
        actor=s.consumer_officer,
        rules=SHANGRAO.rules,
        data=DirectAccessIn(
            resource_id=s.unconditional.id,
            purpose="政务服务事项办理指引",
            system_id=s.consumer_system,
            accept_restrictions=True,
        ),
    )


def with_grant(w: World) -> tuple[Sharing, Grant]:
    s = cast(w)
    return s, direct(s)


def act(reason: str = "违规向第三方提供") -> GrantActionIn:
    return GrantActionIn(reason=reason)


def _suspended(w: World) -> tuple[Sharing, Grant]:
    s, grant = with_grant(w)
    grants.suspend_grant(s.db, actor=s.op, grant_id=grant.id, data=act())
    return s, grant


def _returned(w: World):
    s = cast(w)
    with clock.frozen(SEPT):
        application = submitted(s)
        decisions.pre_review(
            s.db,
            actor=s.op,
            application_id=application.id,
            data=PreReviewIn(forward=False, comment="缺少事项编码"),
        )
        return applications.resubmit_application(
            s.db,
            actor=s.consumer_officer,
            application_id=application.id,
            data=application_in(s.conditional, s.consumer_system),
        )


def _decide(w: World):
    s = cast(w)
    with clock.frozen(SEPT):
        application = deciding(s)
        return decisions.decide(
            s.db,
            actor=s.provider_officer,
            profile=SHANGRAO,
            application_id=application.id,
            data=DecisionIn(approve=False, reason="超出履职需要", basis="个人信息保护法第六条"),
        )


def _renewal(w: World):
    s = cast(w)
    with clock.frozen(SEPT):
        grant_id = approved(s).grant_id
        return applications.request_renewal(
            s.db,
            actor=s.consumer_officer,
            profile=SHANGRAO,
            grant_id=grant_id,
            data=RenewalIn(valid_until=date(2028, 9, 30), reason="继续开展低保复核"),
        )


def _extend(w: World) -> None:
    s = cast(w)
    with clock.frozen(SEPT):
        grant = s.db.get(Grant, approved(s).grant_id)
        grants.extend(s.db, actor=s.provider_officer, grant=grant, valid_until=date(2028, 1, 1))


def _issue(w: World) -> Grant:
    s = cast(w)
    version = s.conditional.current_version
    return grants.issue(
        s.db,
        actor=s.op,
        rules=SHANGRAO.rules,
        source=GrantSource.APPLICATION,
        resource=s.conditional,
        version=version,
        consumer_id=s.consumer.id,
        fields=["姓名"],
        purpose="测试用途说明",
        system_id=s.consumer_system,
        system_name="社会救助信息系统",
        valid_from=date(2026, 10, 1),
        valid_until=date(2027, 1, 1),
        accepted_at=clock.now(),
        accepted_by=s.consumer_officer.label,
    )


def _remind(w: World) -> None:
    s = cast(w)
    with clock.frozen(SEPT):
        submitted(s)
    with clock.frozen("2026-10-20T09:00:00+08:00"):
        deadlines.send_reminders(s.db, actor=JOB)


def _attachment(w: World):
    s = cast(w)
    with clock.frozen(SEPT):
        application = submitted(s)
    return applications.get_attachment(
        s.db, actor=s.op, attachment_id=application.attachments[0].id
    )


def _prepared_application(w: World) -> Sharing:
    s = cast(w)
    with clock.frozen(SEPT):
        s.prepared_application = deciding(s)  # type: ignore[attr-defined]
    return s


SCENARIOS: dict[str, Writes | Reads] = {
    # applications
    APP + "submit_application": Writes("sharing.application.submit", lambda w: submitted(cast(w))),
    APP + "resubmit_application": Writes("sharing.application.resubmit", _returned),
    DECISIONS + "pre_review": Writes("sharing.application.pre_review", lambda w: deciding(cast(w))),
    DECISIONS + "decide": Writes("sharing.application.decide", _decide),
    APP + "withdraw_application": Writes(
        "sharing.application.withdraw",
        lambda w: (
            lambda s: applications.withdraw_application(
                s.db, actor=s.consumer_officer, application_id=submitted(s).id
            )
        )(cast(w)),
    ),
    APP + "close_for_retirement": Writes(
        "sharing.application.close",
        lambda w: (
            lambda s: (
                submitted(s),
                applications.close_for_retirement(
                    s.db, actor=s.op, resource=s.conditional, reason="资源已下架"
                ),
            )
        )(cast(w)),
    ),
    APP + "request_renewal": Writes("sharing.application.renew", _renewal),
    APP + "get_attachment": Writes("sharing.attachment.read", _attachment),
    APP + "get_application": Reads(
        prepare=_prepared_application,
        call=lambda w: applications.get_application(
            w.db, actor=w.prepared.op, application_id=w.prepared.prepared_application.id
        ),
    ),
    APP_VIEWS + "my_applications": Reads(
        prepare=_prepared_application,
        call=lambda w: application_views.my_applications(w.db, actor=w.prepared.consumer_officer),
    ),
    APP_VIEWS + "to_decide": Reads(
        prepare=_prepared_application,
        call=lambda w: application_views.to_decide(w.db, actor=w.prepared.provider_officer),
    ),
    APP + "link": READ_ONLY,
    APP + "permitted": READ_ONLY,
    APP + "check_uploads": READ_ONLY,
    APP_VIEWS + "steps_out": READ_ONLY,
    APP_VIEWS + "application_out": READ_ONLY,
    APP + "period_default": READ_ONLY,
    # grants
    GRANTS + "issue": Writes("sharing.grant.issue", _issue),
    GRANTS + "request_direct_access": Writes("sharing.grant.issue", with_grant),
    GRANTS + "suspend_grant": Writes("sharing.grant.suspend", _suspended),
    GRANTS + "resume_grant": Writes(
        "sharing.grant.resume",
        lambda w: (
            lambda s, g: grants.resume_grant(s.db, actor=s.op, grant_id=g.id, data=act("已整改"))
        )(*_suspended(w)),
    ),
    GRANTS + "end_grant": Writes(
        "sharing.grant.end",
        lambda w: (lambda s, g: grants.end_grant(s.db, actor=s.op, grant_id=g.id, data=act()))(
            *with_grant(w)
        ),
    ),
    GRANTS + "end_for_retirement": Writes(
        "sharing.grant.end",
        lambda w: (
            lambda s, g: grants.end_for_retirement(s.db, actor=s.op, resource=s.unconditional)
        )(*with_grant(w)),
    ),
    GRANTS + "extend": Writes("sharing.grant.renew", _extend),
    ACCESS + "check_access": Writes(
        "sharing.grant.access",
        lambda w: (
            lambda s: access.check_access(
                s.db, actor=s.consumer_officer, resource_id=s.conditional.id
            )
        )(cast(w)),
    ),
    FEEDBACK + "record_feedback": Writes(
        "sharing.feedback.record",
        lambda w: (
            lambda s, g: feedback.record_feedback(
                s.db,
                actor=s.consumer_officer,
                grant_id=g.id,
                data=FeedbackIn(rating="good", effect="减少群众跑腿"),
            )
        )(*with_grant(w)),
    ),
    GRANTS + "get_grant": Reads(
        prepare=with_grant,
        call=lambda w: grants.get_grant(w.db, actor=w.prepared[0].op, grant_id=w.prepared[1].id),
    ),
    GRANTS + "my_grants": Reads(
        prepare=with_grant,
        call=lambda w: grants.my_grants(w.db, actor=w.prepared[0].consumer_officer),
    ),
    FEEDBACK + "feedback_of": Reads(
        prepare=with_grant,
        call=lambda w: feedback.feedback_of(
            w.db, actor=w.prepared[0].provider_officer, grant_id=w.prepared[1].id
        ),
    ),
    FEEDBACK + "usage": Reads(
        prepare=with_grant,
        call=lambda w: feedback.usage(w.db, actor=w.prepared[0].provider_officer),
    ),
    FEEDBACK + "usage_page": Reads(
        prepare=with_grant,
        call=lambda w: feedback.usage_page(w.db, actor=w.prepared[0].op, every_provider=True),
    ),
    GRANTS + "all_grants": Reads(
        prepare=with_grant, call=lambda w: grants.all_grants(w.db, actor=w.prepared[0].op)
    ),
    GRANTS + "link": READ_ONLY,
    GRANTS + "status_label": READ_ONLY,
    COMMON + "retired_reason": READ_ONLY,
    GRANTS + "grant_out": READ_ONLY,
    # deadlines
    DEADLINES + "send_reminders": Writes("sharing.reminders.send", _remind),
    DEADLINES + "queue": Reads(
        prepare=_prepared_application, call=lambda w: deadlines.queue(w.db, actor=w.op)
    ),
    DEADLINES + "department_records": Reads(
        prepare=_prepared_application,
        call=lambda w: deadlines.department_records(w.db, actor=w.op),
    ),
    DEADLINES + "recount": READ_ONLY,  # part of calendar.import_year's audited change
    DEADLINES + "deadline": READ_ONLY,
    DEADLINES + "plan": READ_ONLY,
    DEADLINES + "start": READ_ONLY,
    DEADLINES + "open_step": READ_ONLY,
    DEADLINES + "urgency": READ_ONLY,
    # freshness
    FRESH + "record_data_update": Writes(
        "sharing.data_update.record",
        lambda w: (
            lambda s: freshness.record_data_update(
                s.db, actor=s.provider_officer, resource_id=s.conditional.id, data=DataUpdateIn()
            )
        )(cast(w)),
    ),
    FRESH + "data_updates": Reads(
        prepare=cast,
        call=lambda w: freshness.data_updates(
            w.db, actor=w.op, resource_id=w.prepared.conditional.id
        ),
    ),
    FRESH + "stale_resources": Reads(
        prepare=cast, call=lambda w: freshness.stale_resources(w.db, w.prepared.provider.id)
    ),
    FRESH + "freshness_of": Reads(
        prepare=cast,
        call=lambda w: freshness.freshness_of(w.db, organization_id=w.prepared.provider.id),
    ),
    FRESH + "restriction": Reads(
        prepare=cast,
        call=lambda w: freshness.restriction(w.db, SHANGRAO.rules, w.prepared.provider.id),
    ),
    FRESH + "require_not_restricted": Reads(
        prepare=cast,
        call=lambda w: freshness.require_not_restricted(
            w.db, SHANGRAO.rules, w.prepared.consumer.id
        ),
    ),
    # common helpers, used inside the callers' audited changes
    COMMON + "next_number": READ_ONLY,  # its counter row is part of the caller's change
    **{
        COMMON + name: READ_ONLY
        for name in (
            "oversees",
            "party_to",
            "shared_version",
            "item_names",
            "check_fields",
            "check_filter",
            "check_masking",
            "sort_key",
            "parse_number",
            "tighter",
            "check_narrower_filter",
            "dump_filter",
            "load_filter",
            "dump_masking",
            "load_masking",
            "check_period",
        )
    },
    **CASE_SCENARIOS,
}
