"""Inspections, risk assessments and secrecy checks (SEC-7): a finding becomes a
rectification notice to its department like any other, which answers it; the operator's
acceptance closes the notice and resolves the finding."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.policy import Violation
from govshare.security.schemas import CheckFindingIn
from govshare.security.service import checks
from govshare.supervision import detectors
from govshare.supervision.detectors import Found
from govshare.supervision.models import NoticeState
from govshare.supervision.schemas import NoticeAnswerIn, NoticeDecisionIn
from govshare.supervision.service import findings, notices
from tests.security.builders import AT, cast, checked, found_problem
from tests.sharing.builders import SHANGRAO
from tests.supervision.builders import JOB, detect, escalate


def test_a_check_finding_becomes_a_notice_answered_and_accepted(db: Session) -> None:
    c = cast(db)
    check = checked(c)
    notice = found_problem(c, check)
    finding = notice.finding
    assert (finding.kind, finding.department_id) == (Violation.SECURITY_ISSUE, c.police.id)
    assert (
        finding.article == "第三十条第（五）项" and finding.link == f"/security/checks/{check.id}"
    )
    assert "市保密局于 2026-11-02 开展保密检查" in finding.facts["summary"]
    assert notice.due_on.isoformat() == "2026-11-17"  # ten working days
    with clock.frozen(AT):
        assert checks.notices_of(db, actor=c.police_officer, check=check) == {
            check.findings[0].id: notice
        }
        assert checks.list_checks(db, actor=c.police_staff) == [check]
        assert checks.list_checks(db, actor=c.civil_officer) == []
        with pytest.raises(NotFound):
            checks.get_check(db, actor=c.civil_officer, check_id=check.id)
        notices.answer(
            db,
            actor=c.police_officer,
            notice_id=notice.id,
            data=NoticeAnswerIn(answer="已为 6 名经办人设立独立账号，均已签订保密协议"),
        )
        # a detection run leaves a recorded finding alone
        assert detect(db, at=AT, only=detectors.DETECTORS).resolved == []
        notices.decide(
            db,
            actor=c.op,
            profile=SHANGRAO,
            notice_id=notice.id,
            data=NoticeDecisionIn(accept=True, note="经复查已整改"),
        )
    assert notice.state == NoticeState.ACCEPTED
    assert finding.resolved_at is not None


def test_an_unanswered_check_notice_is_circulated(db: Session) -> None:
    c = cast(db)
    notice = found_problem(c, checked(c))
    (circulated,) = escalate(db, at="2026-11-18T10:00:00+08:00")
    assert circulated is notice and notice.circular_number


def test_only_the_operator_records_checks_and_findings(db: Session) -> None:
    c = cast(db)
    check = checked(c)
    data = CheckFindingIn(
        department_id=c.police.id, description="未定期修改口令", requirement="按月修改口令"
    )
    with clock.frozen(AT):
        with pytest.raises(Forbidden):
            checks.add_finding(
                db, actor=c.authority, profile=SHANGRAO, check_id=check.id, data=data
            )
        with pytest.raises(Invalid, match="没有编号为 99999 的部门"):
            checks.add_finding(
                db,
                actor=c.op,
                profile=SHANGRAO,
                check_id=check.id,
                data=data.model_copy(update={"department_id": 99999}),
            )


def test_a_detected_violation_cannot_be_recorded_by_hand(db: Session) -> None:
    c = cast(db)
    found = Found(
        Violation.DATA_STALE,
        "data_stale:resource:1",
        c.police.id,
        "resource",
        1,
        "资源",
        "",
        "数据未更新",
    )
    with clock.frozen(AT):
        with pytest.raises(Invalid, match="由平台监测发现"):
            findings.record_finding(db, actor=c.op, profile=SHANGRAO, found=found)
        with pytest.raises(Forbidden):
            findings.record_finding(db, actor=JOB, profile=SHANGRAO, found=found)
    notice = found_problem(c, checked(c))
    again = Found(
        Violation.SECURITY_ISSUE,
        notice.finding.key,
        c.police.id,
        "check_finding",
        1,
        "检查",
        "",
        "重复",
    )
    with clock.frozen(AT), pytest.raises(Conflict, match="已登记为违规发现"):
        findings.record_finding(db, actor=c.op, profile=SHANGRAO, found=again)
