"""Rectification notices and their circulation (SR§30): the department answers, the operator
accepts or returns; a notice left past its deadline is circulated (通报) once."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.documents import Document
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox.models import Notification
from govshare.core.permissions import Role
from govshare.sharing.schemas import DecisionIn
from govshare.sharing.service import decisions
from govshare.sharing.service.deadlines import Urgency
from govshare.supervision.models import NoticeState, NoticeStep
from govshare.supervision.schemas import NoticeAnswerIn, NoticeDecisionIn
from govshare.supervision.service import evidence, notices
from tests.builders import actor_of, user
from tests.sharing.builders import SHANGRAO
from tests.supervision.builders import (
    CITY,
    FOUND_AT,
    NOTICE_DUE,
    PAST_NOTICE,
    answered,
    decided,
    detect,
    escalate,
    overdue,
)

SCAN = Document("整改报告.pdf", "application/pdf", b"%PDF-1.4\n% report\n")


def test_an_accepted_rectification_closes_the_notice(db: Session) -> None:
    o = overdue(db)
    answered(o)
    assert o.notice.state is NoticeState.ANSWERED
    assert o.notice.answer.startswith("已答复该申请")
    notice = decided(o, accept=True, note="整改到位")
    assert notice.state is NoticeState.ACCEPTED and notice.closed_at is not None
    assert [s.step for s in notice.steps] == [
        NoticeStep.ISSUED,
        NoticeStep.ANSWERED,
        NoticeStep.ACCEPTED,
    ]
    # the finding stays until its facts go: the application is still unanswered
    assert o.finding.resolved_at is None
    assert escalate(db) == []


def test_a_returned_rectification_gets_a_new_deadline(db: Session) -> None:
    o = overdue(db)
    answered(o)
    notice = decided(
        o, accept=False, note="申请仍未答复，请尽快答复", at="2026-11-24T10:00:00+08:00"
    )
    assert notice.state is NoticeState.RETURNED
    assert notice.due_on == date(2026, 12, 8)  # ten working days from 11-24
    assert notice.steps[-1].due_on == date(2026, 12, 8)
    again = answered(o, at="2026-11-25T10:00:00+08:00")
    assert again.state is NoticeState.ANSWERED


def test_a_return_needs_its_reason() -> None:
    with pytest.raises(ValidationError, match="退回须说明理由"):
        NoticeDecisionIn(accept=False, note="")
    assert NoticeDecisionIn(accept=True).note == ""


def test_only_the_departments_officers_answer(db: Session) -> None:
    o = overdue(db)
    data = NoticeAnswerIn(answer="已整改完毕")
    with clock.frozen(FOUND_AT):
        with pytest.raises(NotFound):
            notices.answer(db, actor=o.s.consumer_officer, notice_id=o.notice.id, data=data)
        with pytest.raises(Forbidden):
            notices.answer(db, actor=o.s.provider_staff, notice_id=o.notice.id, data=data)
        with pytest.raises(Forbidden):
            notices.decide(
                db,
                actor=o.s.authority,
                profile=SHANGRAO,
                notice_id=o.notice.id,
                data=NoticeDecisionIn(accept=True),
            )
        with pytest.raises(Conflict, match="没有待审核"):
            notices.decide(
                db,
                actor=o.s.op,
                profile=SHANGRAO,
                notice_id=o.notice.id,
                data=NoticeDecisionIn(accept=True),
            )


def test_evidence_goes_with_the_answer_and_is_read_by_the_department_and_overseers(
    db: Session,
) -> None:
    o = overdue(db)
    with clock.frozen(FOUND_AT):
        notice = notices.answer(
            db,
            actor=o.s.provider_officer,
            notice_id=o.notice.id,
            data=NoticeAnswerIn(answer="已答复，附整改报告"),
            documents=[SCAN],
        )
        (scan,) = notice.attachments
        assert (scan.filename, scan.size) == ("整改报告.pdf", len(SCAN.content))
        assert evidence.read(db, actor=o.s.op, evidence_id=scan.id).content == SCAN.content
        assert evidence.read(db, actor=o.s.provider_officer, evidence_id=scan.id)
        with pytest.raises(NotFound):
            evidence.read(db, actor=o.s.consumer_officer, evidence_id=scan.id)


def test_a_bad_scan_leaves_the_notice_unanswered(db: Session) -> None:
    o = overdue(db)
    with clock.frozen(FOUND_AT), pytest.raises(Invalid, match="PDF 或图片"):
        notices.answer(
            db,
            actor=o.s.provider_officer,
            notice_id=o.notice.id,
            data=NoticeAnswerIn(answer="已答复，附整改报告"),
            documents=[Document("报告.pdf", "application/pdf", b"MZ\x90\x00")],
        )
    assert o.notice.state is NoticeState.ISSUED


def test_a_notice_left_past_its_deadline_is_circulated_once(db: Session) -> None:
    o = overdue(db)
    head = user(db, o.s.provider, [Role.DEPARTMENT_HEAD], "gaj-head")
    assert escalate(db, at=NOTICE_DUE) == []  # its last day
    (notice,) = escalate(db)
    assert notice.state is NoticeState.ESCALATED
    assert notice.circular_number is not None and notice.circular_number.startswith("TB2026")
    assert notice.escalated_on == date(2026, 12, 8)
    assert notice.circular_issuer == "江州市政务服务数据管理局"
    assert notice.circular_title == "关于市公安局逾期未完成整改的通报"
    assert "第三十条第（三）项" in notice.circular_text
    assert o.application.number in notice.circular_text
    assert escalate(db, at="2026-12-09T10:00:00+08:00") == []
    told = db.scalars(
        select(Notification.recipient_id).where(Notification.kind == "supervision.circular")
    ).all()
    assert head.id in told
    # the department still answers it
    again = answered(o, at="2026-12-09T10:00:00+08:00")
    assert again.state is NoticeState.ANSWERED and again.circular_number is not None
    assert db.scalar(
        select(AuditEntry.seq).where(AuditEntry.action == "supervision.notice.escalate")
    )


def test_a_notice_whose_facts_are_gone_is_not_circulated(db: Session) -> None:
    o = overdue(db)
    with clock.frozen("2026-11-23T09:00:00+08:00"):
        decisions.decide(
            db,
            actor=o.s.provider_officer,
            profile=SHANGRAO,
            application_id=o.application.id,
            data=DecisionIn(approve=True),
        )
    detect(db, at="2026-11-24T10:00:00+08:00")
    assert escalate(db) == []


def test_an_answered_notice_is_not_circulated(db: Session) -> None:
    o = overdue(db)
    answered(o)
    assert escalate(db) == []


def test_circular_issuer_without_an_authority_is_the_citys(db: Session) -> None:
    assert notices.circular_issuer(db, CITY) == "江州市政务信息资源共享主管部门"


def test_lists_and_urgency(db: Session) -> None:
    o = overdue(db)
    escalate(db)
    with clock.frozen(PAST_NOTICE):
        calendar = working_days.load(db)
        assert notices.urgency(o.notice, calendar, clock.today()) is Urgency.OVERDUE
        assert notices.is_overdue(o.notice)
        assert notices.list_notices(db, actor=o.s.op, circulated=True) == [o.notice]
        assert notices.count_notices(db, actor=o.s.provider_officer, overdue=True) == 1
        assert notices.list_notices(db, actor=o.s.consumer_officer) == []
        assert notices.get_circular(db, actor=o.s.authority, notice_id=o.notice.id) is o.notice
        assert notices.permitted(o.s.provider_officer, o.notice).answer
        assert not notices.permitted(o.s.op, o.notice).decide
    with clock.frozen(FOUND_AT):
        other = actor_of(user(db, o.s.consumer, [Role.DATA_OFFICER]))
        with pytest.raises(NotFound):
            notices.get_notice(db, actor=other, notice_id=o.notice.id)
