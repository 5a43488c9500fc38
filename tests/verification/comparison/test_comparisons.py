"""Comparisons as cases (VER-3) on real SQLite and PostgreSQL centers: the definition's
errors, a run that records exactly the planted differences and opens each case for the
department that must settle it, a second run after a correction closing the case, the
department's answer and the operator's mediation, audit entries."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.documents import Document
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.policy import Profile, Rule
from govshare.exchange.center import Center
from govshare.verification.comparison_models import (
    Mismatch,
    MismatchKind,
    MismatchState,
    RunState,
    Side,
)
from govshare.verification.comparison_schemas import CaseAnswerIn, MediationIn
from govshare.verification.service import comparisons, evidence
from tests.exchange.builders import audit_entries
from tests.verification.comparison.cases import (
    ADDRESS,
    NAME,
    ONLY_LEFT,
    ONLY_RIGHT,
    PROFILE,
    Compared,
    compared_world,
    comparison_in,
    defined,
    set_right,
)

RUN_AT = "2026-09-28T09:30:00+08:00"  # a Monday, before National Day


@pytest.fixture
def c(db: Session, center: Center) -> Compared:
    return compared_world(db, center)


def _run(
    c: Compared, comparison_id: int, profile: Profile = PROFILE
) -> comparisons.ComparisonRunRecord:
    with clock.frozen(RUN_AT):
        return comparisons.run_now(
            c.s.db, actor=c.s.op, profile=profile, center=c.center, comparison_id=comparison_id
        )


def _settling_in(days: int) -> Profile:
    """A city's own profile that gives departments `days` working days to settle a mismatch."""
    rule = Rule[int](value=days, article="第十四条")
    rules = PROFILE.rules.model_copy(update={"mismatch_settle_days": rule})
    return PROFILE.model_copy(update={"code": "myshi", "rules": rules})


def _cases(c: Compared) -> dict[tuple[str, MismatchKind], Mismatch]:
    found = c.s.db.scalars(select(Mismatch).order_by(Mismatch.id)).all()
    return {(m.key[0], m.kind): m for m in found}


# --- defining --------------------------------------------------------------------------------


def test_only_the_operator_defines(c: Compared) -> None:
    with pytest.raises(Forbidden):
        comparisons.define(
            c.s.db, actor=c.s.provider_officer, center=c.center, data=comparison_in(c)
        )


def test_an_unbound_resource_is_refused(c: Compared) -> None:
    with pytest.raises(Invalid) as refused:
        defined(c, left_resource_id=c.s.unconditional.id)
    assert refused.value.field == "left_resource_id"
    assert "尚未绑定库表" in str(refused.value)


def test_resources_of_one_department_are_refused(c: Compared) -> None:
    with pytest.raises(Invalid) as refused:
        defined(c, right_resource_id=c.s.unconditional.id)
    assert refused.value.field == "right_resource_id"


def test_an_item_the_binding_lacks_is_named(c: Compared) -> None:
    items = [{"name": "性别", "left": "性别", "right": "性别", "authority": "left"}]
    with pytest.raises(Invalid) as refused:
        defined(c, items=items)
    assert refused.value.field == "items[0].left"
    assert "性别" in str(refused.value)


def test_the_engine_checks_are_passed_on_with_their_field(c: Compared) -> None:
    name = {"name": "姓名", "left": "姓名", "right": "姓名", "authority": "left"}
    with pytest.raises(Invalid) as refused:
        defined(c, items=[name, name])
    assert refused.value.field == "items[1].name"
    assert "重复" in str(refused.value)


def test_a_resource_not_yet_in_the_center_is_refused(c: Compared) -> None:
    c.center.table(
        c.right_binding.center_table, c.right_binding.columns, c.right_binding.key_columns
    ).drop(c.center.engine)
    with pytest.raises(Invalid) as refused:
        defined(c)
    assert refused.value.field == "right_resource_id"


def test_names_are_unique(c: Compared) -> None:
    defined(c)
    with pytest.raises(Conflict):
        defined(c)


# --- running ---------------------------------------------------------------------------------


def test_a_run_records_exactly_the_planted_differences(c: Compared) -> None:
    comparison = defined(c)
    run = _run(c, comparison.id)
    assert run.state == RunState.SUCCEEDED, run.error
    assert (run.left_rows, run.right_rows, run.matched, run.equal, run.differing) == (4, 4, 3, 1, 2)
    assert (run.only_left, run.only_right) == (1, 1)
    assert run.differing_by_item == {"姓名": 1, "出生日期": 0, "户籍地址": 1}
    assert (run.cases_opened, run.cases_live, run.mismatches) == (4, 4, 4)
    cases = _cases(c)
    assert set(cases) == {
        (NAME, MismatchKind.DIFFERS),
        (ADDRESS, MismatchKind.DIFFERS),
        (ONLY_LEFT, MismatchKind.ONLY_LEFT),
        (ONLY_RIGHT, MismatchKind.ONLY_RIGHT),
    }
    settles = {key: case.department_id for (key, _), case in cases.items()}
    assert settles == {
        NAME: c.s.consumer.id,  # 公安 is authoritative for 姓名
        ADDRESS: c.s.provider.id,  # 民政 is authoritative for 户籍地址
        ONLY_LEFT: c.s.consumer.id,  # 民政 lacks a person 公安 holds
        ONLY_RIGHT: c.s.consumer.id,  # 公安 decides who exists: 民政's record is stray
    }
    name = cases[(NAME, MismatchKind.DIFFERS)]
    assert name.items == [{"item": "姓名", "left": "李四", "right": "李肆"}]
    assert name.side == Side.RIGHT and name.state == MismatchState.OPEN
    # ten working days from Monday 28 September, over National Day (the calendar's holidays
    # and make-up working days)
    assert name.opened_on == date(2026, 9, 28) and name.due_on == date(2026, 10, 16)
    [entry] = audit_entries(c.s.db, "verification.comparison.result")
    assert entry["cases_opened"] == 4 and entry["differing"] == 2


def test_two_profiles_give_different_deadlines(c: Compared) -> None:
    ten = defined(c)
    five = defined(c, name="户籍人口与救助对象比对（本市办法）")
    _run(c, ten.id)
    _run(c, five.id, _settling_in(5))
    found = c.s.db.scalars(select(Mismatch).where(Mismatch.key_text == NAME)).all()
    due = {m.comparison_id: m.due_on for m in found}
    # from Monday 28 September, over National Day: 5 working days end on the make-up
    # working Saturday after it, 10 a week later
    assert due == {ten.id: date(2026, 10, 16), five.id: date(2026, 10, 10)}
    results = audit_entries(c.s.db, "verification.comparison.result")
    assert [(e["profile"], e["settle_days"]) for e in results] == [("shangrao", 10), ("myshi", 5)]


def test_without_key_authority_the_side_missing_a_record_settles(c: Compared) -> None:
    comparison = defined(c, key_authority=None)
    _run(c, comparison.id)
    cases = _cases(c)
    assert cases[(ONLY_LEFT, MismatchKind.ONLY_LEFT)].department_id == c.s.consumer.id
    assert cases[(ONLY_RIGHT, MismatchKind.ONLY_RIGHT)].department_id == c.s.provider.id


def test_a_correction_closes_the_case_and_the_count_falls(c: Compared) -> None:
    comparison = defined(c)
    first = _run(c, comparison.id)
    name = _cases(c)[(NAME, MismatchKind.DIFFERS)]
    with clock.frozen(RUN_AT):
        comparisons.answer_case(
            c.s.db,
            actor=c.s.consumer_officer,
            mismatch_id=name.id,
            data=CaseAnswerIn(corrected=True, answer="已在救助系统中更正姓名"),
        )
    set_right(c, NAME, xingming="李四")
    second = _run(c, comparison.id)
    assert (second.differing, second.cases_opened, second.cases_gone) == (1, 0, 1)
    assert second.mismatches == first.mismatches - 1
    assert c.s.db.scalar(select(func.count()).select_from(Mismatch)) == 4  # none duplicated
    c.s.db.refresh(name)
    assert name.state == MismatchState.GONE and name.closed_run_id == second.id
    points = comparisons.history(c.s.db, actor=c.s.op, comparison_id=comparison.id)
    assert [(r.mismatches, r.cases_live) for r in points] == [(4, 4), (3, 3)]


def test_a_failed_run_is_recorded_with_its_reason(c: Compared) -> None:
    comparison = defined(c)
    c.center.table(
        c.left_binding.center_table, c.left_binding.columns, c.left_binding.key_columns
    ).drop(c.center.engine)
    run = _run(c, comparison.id)
    assert run.state == RunState.FAILED and "不存在" in run.error
    assert c.s.db.scalar(select(func.count()).select_from(Mismatch)) == 0


def test_scheduled_comparisons_run_when_due(c: Compared) -> None:
    from govshare.verification.comparison_jobs import SCHEDULER

    with clock.frozen(RUN_AT):
        comparison = defined(c, schedule="daily")
        ran = comparisons.run_due(c.s.db, actor=SCHEDULER, profile=PROFILE, center=c.center)
        again = comparisons.run_due(c.s.db, actor=SCHEDULER, profile=PROFILE, center=c.center)
    assert [r.comparison_id for r in ran] == [comparison.id] and again == []
    with clock.frozen("2026-09-29T09:31:00+08:00"):
        due = comparisons.run_due(c.s.db, actor=SCHEDULER, profile=PROFILE, center=c.center)
        assert len(due) == 1


def test_cases_filter_by_the_item_that_differs_in_sql(c: Compared) -> None:
    comparison = defined(c)
    _run(c, comparison.id)
    found = comparisons.list_mismatches(
        c.s.db, actor=c.s.op, comparison_id=comparison.id, item="姓名"
    )
    assert [m.key[0] for m in found] == [NAME]
    assert found[0].item_names == "|姓名|"
    assert comparisons.count_mismatches(c.s.db, actor=c.s.op, item="户籍地址") == 1
    for pattern in ("%", "_", "姓"):  # a wildcard or a part of a name matches nothing
        assert comparisons.count_mismatches(c.s.db, actor=c.s.op, item=pattern) == 0


# --- answering and mediating -----------------------------------------------------------------


def test_a_dispute_may_rest_on_a_scan_uploaded_before_or_with_the_answer(c: Compared) -> None:
    comparison = defined(c)
    _run(c, comparison.id)
    cases = _cases(c)
    address, name = cases[(ADDRESS, MismatchKind.DIFFERS)], cases[(NAME, MismatchKind.DIFFERS)]
    scan = Document("户籍登记表.pdf", "application/pdf", b"%PDF-1.4\n% register\n")
    disputed = CaseAnswerIn(corrected=False, answer="以公安登记为准")
    comparisons.answer_case(
        c.s.db, actor=c.s.provider_officer, mismatch_id=address.id, data=disputed, documents=[scan]
    )
    officer = c.s.consumer_officer  # 公安 is authoritative for 姓名: the other side settles
    evidence.attach_to_mismatch(c.s.db, actor=officer, mismatch=name, documents=[scan])
    comparisons.answer_case(c.s.db, actor=officer, mismatch_id=name.id, data=disputed)
    assert address.state == name.state == MismatchState.DISPUTED
    assert [e.filename for e in address.attachments] == [scan.filename]
    assert evidence.read(c.s.db, actor=c.s.op, evidence_id=name.attachments[0].id).content == (
        scan.content
    )


def test_a_dispute_needs_evidence_and_the_operator_settles_it(c: Compared) -> None:
    comparison = defined(c)
    _run(c, comparison.id)
    address = _cases(c)[(ADDRESS, MismatchKind.DIFFERS)]
    with pytest.raises(Invalid) as refused:
        comparisons.answer_case(
            c.s.db,
            actor=c.s.provider_officer,
            mismatch_id=address.id,
            data=CaseAnswerIn(corrected=False, answer="户籍地址以公安登记为准"),
        )
    assert refused.value.field == "evidence"
    comparisons.answer_case(
        c.s.db,
        actor=c.s.provider_officer,
        mismatch_id=address.id,
        data=CaseAnswerIn(
            corrected=False, answer="户籍地址以公安登记为准", evidence="户籍登记表（2026年）"
        ),
    )
    assert address.state == MismatchState.DISPUTED
    comparisons.mediate(
        c.s.db,
        actor=c.s.op,
        profile=PROFILE,
        mismatch_id=address.id,
        data=MediationIn(outcome="settle", note="经协调，民政局更正为公安登记地址"),
    )
    assert address.state == MismatchState.SETTLED and address.closed_at is not None
    _run(c, comparison.id)  # still different: the settled case stays settled, not duplicated
    assert _cases(c)[(ADDRESS, MismatchKind.DIFFERS)].id == address.id
    assert address.state == MismatchState.SETTLED
    assert [e["outcome"] for e in audit_entries(c.s.db, "verification.mismatch.mediate")] == [
        "settle"
    ]
    assert audit_entries(c.s.db, "verification.mismatch.answer")[0]["corrected"] is False


def test_another_department_cannot_answer_a_case(c: Compared) -> None:
    comparison = defined(c)
    _run(c, comparison.id)
    name = _cases(c)[(NAME, MismatchKind.DIFFERS)]  # 民政's
    with pytest.raises(NotFound):
        comparisons.answer_case(
            c.s.db,
            actor=c.s.provider_officer,
            mismatch_id=name.id,
            data=CaseAnswerIn(corrected=True, answer="已在源头更正"),
        )


def test_a_reopened_case_gets_a_new_deadline_and_is_overdue_after_it(c: Compared) -> None:
    comparison = defined(c)
    _run(c, comparison.id)
    name = _cases(c)[(NAME, MismatchKind.DIFFERS)]
    comparisons.answer_case(
        c.s.db,
        actor=c.s.consumer_officer,
        mismatch_id=name.id,
        data=CaseAnswerIn(corrected=False, answer="申请人提供了户口簿", evidence="户口簿复印件"),
    )
    with clock.frozen("2026-10-09T10:00:00+08:00"):
        comparisons.mediate(
            c.s.db,
            actor=c.s.op,
            profile=PROFILE,
            mismatch_id=name.id,
            data=MediationIn(outcome="reopen", note="姓名以公安登记为准，请更正"),
        )
    assert name.state == MismatchState.OPEN and name.due_on == date(2026, 10, 22)
    with clock.frozen("2026-10-26T10:00:00+08:00"):
        overdue = comparisons.list_mismatches(c.s.db, actor=c.s.op, overdue=True)
        assert name in overdue and comparisons.is_overdue(name)
        mine = comparisons.list_mismatches(c.s.db, actor=c.s.provider_officer)
    assert {m.department_id for m in mine} == {c.s.provider.id}


def test_a_reopened_case_takes_its_new_deadline_from_the_profile(c: Compared) -> None:
    comparison = defined(c)
    _run(c, comparison.id)
    name = _cases(c)[(NAME, MismatchKind.DIFFERS)]
    comparisons.answer_case(
        c.s.db,
        actor=c.s.consumer_officer,
        mismatch_id=name.id,
        data=CaseAnswerIn(corrected=False, answer="申请人提供了户口簿", evidence="户口簿复印件"),
    )
    with clock.frozen("2026-10-09T10:00:00+08:00"):
        comparisons.mediate(
            c.s.db,
            actor=c.s.op,
            profile=_settling_in(3),
            mismatch_id=name.id,
            data=MediationIn(outcome="reopen", note="姓名以公安登记为准，请更正"),
        )
    # 3 working days from Friday 9 October, the make-up Saturday among them; not the 22nd the
    # default 10 would give
    assert name.due_on == date(2026, 10, 13)
    [entry] = audit_entries(c.s.db, "verification.mismatch.mediate")
    assert (entry["profile"], entry["due_on"]) == ("myshi", "2026-10-13")
