"""The yearly security test and emergency drill (SR§25): planned with a scan, done with a
result, read by overseers only; a year without one by the profile's date is a finding against
the platform's management unit, resolved once its result is recorded."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.policy import Violation
from govshare.security.models import ExerciseKind
from govshare.security.schemas import ExerciseIn, ExerciseResultIn
from govshare.security.service import common, exercises
from govshare.supervision import detectors
from govshare.supervision.models import Notice, NoticeState
from govshare.supervision.schemas import NoticeAnswerIn, NoticeDecisionIn
from govshare.supervision.service import notices
from tests.security.builders import AT, SCAN, cast, planned
from tests.sharing.builders import SHANGRAO
from tests.supervision.builders import detect


def test_a_drill_is_planned_done_and_its_scan_kept(db: Session) -> None:
    c = cast(db)
    drill = planned(c)
    assert [d.filename for d in drill.documents] == ["演练方案.pdf"]
    with clock.frozen("2026-11-20T17:00:00+08:00"):
        data = ExerciseResultIn(
            conducted_on="2026-11-20", conducted_by="市大数据中心", result="演练达到预期目标"
        )
        exercises.record_result(db, actor=c.op, exercise_id=drill.id, data=data, documents=[SCAN])
        with pytest.raises(Conflict, match="已登记结果"):
            exercises.record_result(db, actor=c.op, exercise_id=drill.id, data=data)
        duties = exercises.year_duties(db, actor=c.authority, profile=SHANGRAO, year=2026)
        assert [(d.kind, d.done is not None, d.missed) for d in duties] == [
            (ExerciseKind.TEST, False, False),
            (ExerciseKind.DRILL, True, False),
        ]
        document = drill.documents[-1]
        assert (
            common.read_document(db, actor=c.authority, document_id=document.id).content
            == SCAN.content
        )
        with pytest.raises(NotFound):
            common.read_document(db, actor=c.police_officer, document_id=document.id)
        with pytest.raises(Forbidden):
            exercises.list_exercises(db, actor=c.police_officer)
        with pytest.raises(Forbidden):
            exercises.plan(
                db,
                actor=c.authority,
                data=ExerciseIn(
                    kind="test",
                    year=2026,
                    title="等级保护测评",
                    planned_on="2026-12-01",
                    plan="委托测评机构开展",
                ),
            )


def test_bad_input_is_refused(db: Session) -> None:
    c = cast(db)
    drill = planned(c)
    with clock.frozen(AT):
        with pytest.raises(ValidationError, match="计划日期须在 2026 年内"):
            ExerciseIn(
                kind="drill", year=2026, title="应急演练", planned_on="2027-01-10", plan="计划内容"
            )
        with pytest.raises(ValidationError, match="开展日期不能晚于今天"):
            ExerciseResultIn(
                conducted_on="2026-11-30", conducted_by="大数据中心", result="演练结果"
            )
        with pytest.raises(Invalid, match=r"附件“a\.exe”须为 PDF"):
            exercises.attach(
                db,
                actor=c.op,
                exercise_id=drill.id,
                documents=[SCAN.__class__("a.exe", "application/pdf", b"MZ\x90")],
            )


def test_a_year_without_its_test_is_found_and_resolved_once_done(db: Session) -> None:
    c = cast(db)
    drill, test = planned(c, "drill"), planned(c, "test")
    with clock.frozen("2026-11-20T17:00:00+08:00"):
        data = ExerciseResultIn(
            conducted_on="2026-11-20", conducted_by="市大数据中心", result="演练达到预期目标"
        )
        exercises.record_result(db, actor=c.op, exercise_id=drill.id, data=data)
    only = (detectors.exercise_missing,)
    assert detect(db, at="2026-12-31T20:00:00+08:00", only=only).found == []  # still in time
    result = detect(db, at="2027-01-04T10:00:00+08:00", only=only)
    (finding,) = result.found
    assert finding.kind == Violation.EXERCISE_MISSING
    assert finding.department_id == c.unit.id
    assert finding.article == "第三十条第（五）项"
    assert "2026-12-31 前开展安全测评" in finding.facts["summary"]
    (notice,) = result.issued
    assert isinstance(notice, Notice) and notice.department_id == c.unit.id
    with clock.frozen("2027-01-05T10:00:00+08:00"):
        late = ExerciseResultIn(
            conducted_on="2026-12-28", conducted_by="测评机构", result="发现中危漏洞 2 个，已修复"
        )
        exercises.record_result(db, actor=c.op, exercise_id=test.id, data=late)
    assert detect(db, at="2027-01-05T11:00:00+08:00", only=only).resolved == [finding]


def test_the_platform_units_own_notice_is_answered_by_its_operators_and_reviewed_by_the_authority(
    db: Session,
) -> None:
    c = cast(db)
    planned(c, "drill"), planned(c, "test")
    result = detect(db, at="2027-01-04T10:00:00+08:00", only=(detectors.exercise_missing,))
    notice = result.issued[0]
    assert notices.permitted(c.op, notice, c.unit.id).answer
    assert not notices.permitted(c.op, notice).answer  # outside its own unit: a department's
    with clock.frozen("2027-01-05T10:00:00+08:00"):
        answered = notices.answer(
            db,
            actor=c.op,
            notice_id=notice.id,
            data=NoticeAnswerIn(answer="已补开展演练并登记结果"),
        )
        assert answered.state == NoticeState.ANSWERED
        with pytest.raises(Forbidden, match="由主管部门审核"):
            notices.decide(
                db,
                actor=c.op,
                profile=SHANGRAO,
                notice_id=notice.id,
                data=NoticeDecisionIn(accept=True),
            )
        assert notices.permitted(c.authority, notice, c.unit.id).decide
        done = notices.decide(
            db,
            actor=c.authority,
            profile=SHANGRAO,
            notice_id=notice.id,
            data=NoticeDecisionIn(accept=True, note="演练记录齐全"),
        )
    assert done.state == NoticeState.ACCEPTED
