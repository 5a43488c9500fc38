"""Applications (SHR-2/3): completeness, the review chain's working-day deadlines from the
profile, refusals with reasons and basis, approvals that narrow, renewals."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Conflict, Forbidden, Invalid
from govshare.core.inbox.models import Notification
from govshare.sharing.models import (
    ApplicationState,
    Grant,
    GrantSource,
    StepKind,
    StepOutcome,
)
from govshare.sharing.schemas import DecisionIn, PreReviewIn, RenewalIn
from govshare.sharing.service import application_views, applications, decisions
from govshare.sharing.service.common import sort_key
from tests.sharing.builders import (
    BINZHOU,
    FIELDS,
    PDF,
    SHANGRAO,
    XIANGTAN,
    Sharing,
    application_in,
    approved,
    commitment,
    deciding,
    sealed_letter,
    sharing_world,
    submitted,
)

SEPT_25 = "2026-09-25T10:00:00+08:00"


@pytest.fixture
def w(db) -> Sharing:
    with clock.frozen("2026-09-01T09:00:00+08:00"):
        return sharing_world(db)


def _actions(db, object_id: int) -> list[str]:
    return list(
        db.execute(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "application", AuditEntry.object_id == str(object_id))
            .order_by(AuditEntry.seq)
        ).scalars()
    )


def test_shangrao_deadlines_skip_national_day_and_count_the_swapped_saturday(w: Sharing) -> None:
    with clock.frozen(SEPT_25):
        application = submitted(w)
    pre, decision = application.steps
    assert (pre.kind, pre.days, pre.started_on) == (StepKind.PRE_REVIEW, 3, date(2026, 9, 25))
    # 25 Sep is a Friday of the Mid-autumn holiday: 28, 29, 30 Sep are the three working days.
    assert pre.due_on == date(2026, 9, 30) and not pre.due_provisional
    # Ten working days from 30 Sep: 1–7 Oct are National Day, Saturday 10 Oct is worked.
    assert decision.due_on == date(2026, 10, 20) and not decision.started
    assert application.state is ApplicationState.PRE_REVIEW
    with clock.frozen("2026-09-29T10:00:00+08:00"):
        decisions.pre_review(
            w.db, actor=w.op, application_id=application.id, data=PreReviewIn(forward=True)
        )
    # Forwarded a day early: the provider's ten days run from 29 Sep.
    assert decision.started and decision.started_on == date(2026, 9, 29)
    assert decision.due_on == date(2026, 10, 19)
    assert application.state is ApplicationState.DECIDING


def test_binzhou_gives_the_provider_five_working_days_and_no_pre_review(w: Sharing) -> None:
    with clock.frozen(SEPT_25):
        application = submitted(w, BINZHOU)
    (decision,) = application.steps
    assert decision.kind is StepKind.DECISION and decision.started and decision.days == 5
    # 28, 29, 30 Sep, 8, 9 Oct
    assert decision.due_on == date(2026, 10, 9)
    assert application.state is ApplicationState.DECIDING
    assert application.required_attachments == []


def test_switching_the_profile_changes_new_applications_only(w: Sharing) -> None:
    with clock.frozen(SEPT_25):
        first = submitted(w, SHANGRAO)
        w.db.expire_all()
        second = applications.submit_application(
            w.db,
            actor=w.consumer_officer,
            profile=BINZHOU,
            data=application_in(
                w.unconditional, w.consumer_system, fields=["姓名"], row_filter=[]
            ).model_copy(update={"resource_id": _second_conditional(w).id}),
        )
    assert (first.profile_code, first.pre_review_days, first.decision_days) == ("shangrao", 3, 10)
    assert (second.profile_code, second.pre_review_days, second.decision_days) == (
        "binzhou",
        None,
        5,
    )
    # The first application keeps its deadlines and its pre-review under the new profile.
    with clock.frozen("2026-09-28T10:00:00+08:00"):
        decisions.pre_review(
            w.db, actor=w.op, application_id=first.id, data=PreReviewIn(forward=True)
        )
    assert first.steps[1].days == 10 and first.steps[1].due_on == date(2026, 10, 16)


def _second_conditional(w: Sharing):
    from tests.catalog.builders import published
    from tests.sharing.builders import PEOPLE_ITEMS

    return published(
        w.db,
        w.provider_officer,
        w.op,
        name="流动人口居住登记信息",
        share_type="conditional",
        share_conditions="仅限社会治理相关部门",
        legal_basis="《居住证暂行条例》第三条",
        items=PEOPLE_ITEMS,
    )


def test_an_application_crossing_into_2027_is_provisional_until_2027_is_entered(
    w: Sharing,
) -> None:
    from govshare.core.calendar import service as calendar_service

    with clock.frozen("2026-12-24T10:00:00+08:00"):
        application = submitted(w)
        pre, decision = application.steps
        assert pre.due_on == date(2026, 12, 29) and not pre.due_provisional
        assert decision.due_provisional
        assert "暂定" in application_views.steps_out(application)[1].due.label
        assert "2027" in application_views.steps_out(application)[1].due.label
        provisional_due = decision.due_on  # weekends only: 1 Jan counted as a working day
        assert provisional_due == date(2027, 1, 12)
        calendar_service.import_year(
            w.db,
            actor=w.op,
            year=2027,
            days=[
                (date(2027, 1, 1), False, "元旦"),
                (date(2027, 1, 4), False, "元旦"),
            ],
            source="国务院办公厅关于2027年部分节假日安排的通知",
        )
    assert not decision.due_provisional
    assert decision.due_on == date(2027, 1, 14)  # two fewer working days in the first week
    entry = w.db.execute(
        select(AuditEntry).where(AuditEntry.action == "calendar.import_year")
    ).scalar_one()
    assert '"govshare.sharing.service.deadlines.recount":1' in entry.details.replace(" ", "")


def test_the_application_is_checked_for_completeness(w: Sharing) -> None:
    with clock.frozen(SEPT_25):
        with pytest.raises(Invalid) as missing:
            applications.submit_application(
                w.db,
                actor=w.consumer_officer,
                profile=SHANGRAO,
                data=application_in(w.conditional, w.consumer_system),
            )
        assert missing.value.field == "attachment.sealed_letter"
        assert "加盖公章的申请函" in missing.value.message
        fake = sealed_letter(b"not a pdf at all")
        with pytest.raises(Invalid) as wrong:
            applications.submit_application(
                w.db,
                actor=w.consumer_officer,
                profile=SHANGRAO,
                data=application_in(w.conditional, w.consumer_system),
                uploads=[fake],
            )
        assert wrong.value.field == "attachments[0]" and "PDF" in wrong.value.message
        with pytest.raises(Invalid) as commitment_missing:
            applications.submit_application(
                w.db,
                actor=w.consumer_officer,
                profile=XIANGTAN,
                data=application_in(w.conditional, w.consumer_system),
                uploads=[sealed_letter()],
            )
        assert "使用承诺函" in commitment_missing.value.message
        with pytest.raises(Invalid) as unknown_field:
            applications.submit_application(
                w.db,
                actor=w.consumer_officer,
                profile=SHANGRAO,
                data=application_in(w.conditional, w.consumer_system, fields=["姓名", "婚姻状况"]),
                uploads=[sealed_letter()],
            )
        assert unknown_field.value.field == "fields" and "婚姻状况" in unknown_field.value.message
        with pytest.raises(Invalid) as not_accepted:
            applications.submit_application(
                w.db,
                actor=w.consumer_officer,
                profile=SHANGRAO,
                data=application_in(w.conditional, w.consumer_system, accept_restrictions=False),
                uploads=[sealed_letter()],
            )
        assert not_accepted.value.field == "accept_restrictions"
        for resource, message in ((w.unconditional, "直接获取"), (w.not_shared, "协调")):
            with pytest.raises(Conflict, match=message):
                applications.submit_application(
                    w.db,
                    actor=w.consumer_officer,
                    profile=SHANGRAO,
                    data=application_in(resource, w.consumer_system),
                    uploads=[sealed_letter()],
                )
        application = applications.submit_application(
            w.db,
            actor=w.consumer_officer,
            profile=XIANGTAN,
            data=application_in(w.conditional, w.consumer_system),
            uploads=[sealed_letter(), commitment()],
        )
    assert sorted(a.kind for a in application.attachments) == ["sealed_letter", "usage_commitment"]
    assert application.attachments[0].size == len(PDF)


def test_a_refusal_needs_reason_and_legal_basis(w: Sharing) -> None:
    with clock.frozen(SEPT_25):
        application = deciding(w)
        for data, field in (
            (DecisionIn(approve=False, basis="《个人信息保护法》第三十四条"), "reason"),
            (DecisionIn(approve=False, reason="超出履职需要"), "basis"),
        ):
            with pytest.raises(Invalid) as refused:
                decisions.decide(
                    w.db,
                    actor=w.provider_officer,
                    profile=SHANGRAO,
                    application_id=application.id,
                    data=data,
                )
            assert refused.value.field == field
        assert application.state is ApplicationState.DECIDING
        decisions.decide(
            w.db,
            actor=w.provider_officer,
            profile=SHANGRAO,
            application_id=application.id,
            data=DecisionIn(
                approve=False,
                reason="申请的信息项超出最低生活保障审核所需",
                basis="《中华人民共和国个人信息保护法》第六条",
            ),
        )
    assert application.state is ApplicationState.REFUSED
    assert application.steps[-1].outcome is StepOutcome.REFUSED
    assert application.grant_id is None
    notices = w.db.execute(
        select(Notification.title).where(Notification.title.like("%不予同意%"))
    ).scalars()
    assert list(notices)


def test_an_approval_narrowing_fields_and_masking_one_produces_exactly_that_grant(
    w: Sharing,
) -> None:
    with clock.frozen(SEPT_25):
        application = approved(
            w,
            fields=["姓名", "公民身份号码", "行政区划代码"],
            row_filter=[{"field": "行政区划代码", "op": "eq", "values": ["361102"]}],
            masking=[{"field": "公民身份号码", "rule": "id_number"}],
            valid_until=date(2027, 3, 31),
            conditions="仅用于低保资格复核，不得留存",
        )
    grant = w.db.get(Grant, application.grant_id)
    assert grant is not None and grant.source is GrantSource.APPLICATION
    assert grant.fields == ["姓名", "公民身份号码", "行政区划代码"]
    assert grant.row_filter == [{"field": "行政区划代码", "op": "eq", "values": ["361102"]}]
    assert grant.masking == [{"field": "公民身份号码", "rule": "id_number"}]
    assert (grant.valid_from, grant.valid_until) == (date(2026, 10, 1), date(2027, 3, 31))
    assert grant.purpose == application.purpose and grant.system_name == "社会救助信息系统"
    assert grant.conditions == "仅用于低保资格复核，不得留存"
    assert not grant.whole_resource and grant.version_id == application.version_id
    assert grant.restrictions_accepted_by == w.consumer_officer.label
    assert _actions(w.db, application.id) == [
        "sharing.application.submit",
        "sharing.application.pre_review",
        "sharing.application.decide",
    ]


@pytest.mark.parametrize(
    ("decision", "field", "message"),
    [
        ({"fields": ["姓名", "手机号码"]}, "fields", "超出申请"),
        ({"fields": []}, "fields", "至少选择"),
        ({"row_filter": []}, "row_filter", "不能宽于申请"),
        (
            {"row_filter": [{"field": "行政区划代码", "op": "in", "values": ["361102", "361199"]}]},
            "row_filter",
            "不能宽于申请",
        ),
        ({"masking": [{"field": "手机号码", "rule": "mobile"}]}, "masking", "不在授权"),
        ({"valid_until": date(2027, 12, 31)}, "valid_until", "不能晚于"),
        ({"valid_from": date(2026, 9, 1)}, "valid_from", "不能早于"),
    ],
)
def test_an_approval_may_narrow_but_never_widen(
    w: Sharing, decision: dict, field: str, message: str
) -> None:
    with clock.frozen(SEPT_25):
        application = deciding(w)
        with pytest.raises(Invalid) as refused:
            decisions.decide(
                w.db,
                actor=w.provider_officer,
                profile=SHANGRAO,
                application_id=application.id,
                data=DecisionIn(approve=True, **decision),
            )
    assert refused.value.field == field and message in refused.value.message
    assert application.state is ApplicationState.DECIDING


def test_tighter_row_filters_are_accepted(w: Sharing) -> None:
    with clock.frozen(SEPT_25):
        application = deciding(
            w,
            row_filter=[
                {"field": "出生日期", "op": "between", "values": ["1950-01-01", "1970-12-31"]},
                {"field": "行政区划代码", "op": "prefix", "values": ["3611"]},
            ],
        )
        decisions.decide(
            w.db,
            actor=w.provider_officer,
            profile=SHANGRAO,
            application_id=application.id,
            data=DecisionIn(
                approve=True,
                row_filter=[
                    {"field": "出生日期", "op": "between", "values": ["1955-01-01", "1960-12-31"]},
                    {"field": "行政区划代码", "op": "in", "values": ["361102", "361103"]},
                    {"field": "性别", "op": "eq", "values": ["女"]},
                ],
            ),
        )
    assert application.state is ApplicationState.APPROVED


def test_only_the_provider_decides_and_only_the_operator_pre_reviews(w: Sharing) -> None:
    with clock.frozen(SEPT_25):
        application = submitted(w)
        with pytest.raises(Forbidden):
            decisions.pre_review(
                w.db,
                actor=w.provider_officer,
                application_id=application.id,
                data=PreReviewIn(forward=True),
            )
        with pytest.raises(Conflict):  # still in pre-review
            decisions.decide(
                w.db,
                actor=w.provider_officer,
                profile=SHANGRAO,
                application_id=application.id,
                data=DecisionIn(approve=True),
            )
        decisions.pre_review(
            w.db, actor=w.op, application_id=application.id, data=PreReviewIn(forward=True)
        )
        with pytest.raises(Forbidden):
            decisions.decide(
                w.db,
                actor=w.provider_staff,  # staff, not the data officer or head
                profile=SHANGRAO,
                application_id=application.id,
                data=DecisionIn(approve=True),
            )
        with pytest.raises(Forbidden):
            decisions.decide(
                w.db,
                actor=w.consumer_officer,
                profile=SHANGRAO,
                application_id=application.id,
                data=DecisionIn(approve=True),
            )


def test_a_returned_application_is_corrected_and_starts_again(w: Sharing) -> None:
    with clock.frozen(SEPT_25):
        application = submitted(w)
        with pytest.raises(Invalid) as no_comment:
            decisions.pre_review(
                w.db, actor=w.op, application_id=application.id, data=PreReviewIn(forward=False)
            )
        assert no_comment.value.field == "comment"
        decisions.pre_review(
            w.db,
            actor=w.op,
            application_id=application.id,
            data=PreReviewIn(forward=False, comment="使用用途未写明对应的办理事项"),
        )
    assert application.state is ApplicationState.RETURNED
    with clock.frozen("2026-10-12T09:00:00+08:00"):
        applications.resubmit_application(
            w.db,
            actor=w.consumer_officer,
            application_id=application.id,
            data=application_in(
                w.conditional,
                w.consumer_system,
                purpose="办理最低生活保障审核确认（事项编码 000000），核对户籍信息",
            ),
        )
    assert application.state is ApplicationState.PRE_REVIEW
    assert [s.position for s in application.steps] == [1, 2, 3, 4]
    assert application.steps[2].started_on == date(2026, 10, 12)
    assert application.steps[2].due_on == date(2026, 10, 15)
    assert _actions(w.db, application.id)[-1] == "sharing.application.resubmit"


def test_withdrawal_and_one_open_application_per_resource(w: Sharing) -> None:
    with clock.frozen(SEPT_25):
        application = submitted(w)
        with pytest.raises(Conflict, match=application.number):
            submitted(w)
        applications.withdraw_application(
            w.db, actor=w.consumer_officer, application_id=application.id, reason="需求已变更"
        )
        assert application.state is ApplicationState.WITHDRAWN
        assert all(s.outcome is StepOutcome.WITHDRAWN for s in application.steps)
        with pytest.raises(Conflict):
            applications.withdraw_application(
                w.db, actor=w.consumer_officer, application_id=application.id
            )
        assert submitted(w).state is ApplicationState.PRE_REVIEW


def test_renewal_extends_the_grant_after_the_providers_decision(w: Sharing) -> None:
    with clock.frozen(SEPT_25):
        application = approved(w)
    grant = w.db.get(Grant, application.grant_id)
    assert grant is not None
    with clock.frozen("2027-09-01T09:00:00+08:00"):
        with pytest.raises(Invalid):
            applications.request_renewal(
                w.db,
                actor=w.consumer_officer,
                profile=SHANGRAO,
                grant_id=grant.id,
                data=RenewalIn(valid_until=date(2027, 9, 1), reason="继续开展低保复核"),
            )
        renewal = applications.request_renewal(
            w.db,
            actor=w.consumer_officer,
            profile=SHANGRAO,
            grant_id=grant.id,
            data=RenewalIn(valid_until=date(2028, 9, 30), reason="继续开展低保复核"),
        )
        assert renewal.fields == grant.fields and renewal.required_attachments == []
        decisions.pre_review(
            w.db, actor=w.op, application_id=renewal.id, data=PreReviewIn(forward=True)
        )
        decisions.decide(
            w.db,
            actor=w.provider_officer,
            profile=SHANGRAO,
            application_id=renewal.id,
            data=DecisionIn(approve=True, valid_until=date(2028, 6, 30)),
        )
    assert grant.valid_until == date(2028, 6, 30)
    assert [a.kind.value for a in grant.actions][-1] == "renew"
    assert renewal.grant_id == grant.id


def test_readers_see_only_their_own(w: Sharing, db) -> None:
    from govshare.core.errors import NotFound
    from govshare.core.permissions import Role
    from tests.builders import actor_of, organization, user

    with clock.frozen(SEPT_25):
        application = submitted(w)
        stranger = actor_of(user(db, organization(db), [Role.DATA_OFFICER]))
        with pytest.raises(NotFound):
            applications.get_application(db, actor=stranger, application_id=application.id)
        assert application_views.my_applications(db, actor=stranger) == []
        assert applications.get_application(db, actor=w.authority, application_id=application.id)
        assert [a.id for a in application_views.my_applications(db, actor=w.consumer_officer)] == [
            application.id
        ]
        assert application_views.to_decide(db, actor=w.provider_officer) == []  # still pre-review
        decisions.pre_review(
            db, actor=w.op, application_id=application.id, data=PreReviewIn(forward=True)
        )
        assert [a.id for a in application_views.to_decide(db, actor=w.provider_officer)] == [
            application.id
        ]
        attachment = applications.get_attachment(
            db, actor=w.provider_officer, attachment_id=application.attachments[0].id
        )
        assert attachment.content == PDF
        with pytest.raises(NotFound):
            applications.get_attachment(db, actor=stranger, attachment_id=attachment.id)
    assert FIELDS[0] == "姓名"


def test_permitted_offers_each_form_to_who_may_use_it(w: Sharing) -> None:
    with clock.frozen(SEPT_25):
        application = submitted(w)
        offered = {
            name: applications.permitted(actor, application)
            for name, actor in (
                ("op", w.op),
                ("provider", w.provider_officer),
                ("staff", w.provider_staff),
                ("consumer", w.consumer_officer),
            )
        }
        assert offered["op"].pre_review and not offered["provider"].decide
        assert offered["consumer"].withdraw and not offered["consumer"].resubmit
        decisions.pre_review(
            w.db, actor=w.op, application_id=application.id, data=PreReviewIn(forward=True)
        )
        assert applications.permitted(w.provider_officer, application).decide
        assert not applications.permitted(w.provider_staff, application).decide
        assert not applications.permitted(w.op, application).pre_review


def test_filter_values_compare_as_exact_numbers_or_as_text() -> None:
    """The order `exchange.scope` applies in SQL: 18-digit ID numbers stay apart (a float
    would make them equal), and what is not in the number syntax is text, after numbers."""
    assert sort_key("110101199001011234") < sort_key("110101199001011235")
    assert sort_key("10") == sort_key("10.0") and sort_key("9") < sort_key("10")
    assert sort_key("1e3") > sort_key("2000")  # text, not a thousand
    assert sort_key("nan") > sort_key("-1") and sort_key(" 1") > sort_key("5")
