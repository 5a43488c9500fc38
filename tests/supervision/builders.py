"""Supervision test data: violations made through the other domains' services at `BUILT_AT`,
found by the detectors at a later moment, every step under a frozen clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.permissions import Actor, Role
from govshare.core.policy import Profile
from govshare.sharing.models import Application
from govshare.supervision import detectors
from govshare.supervision.detectors import Detector
from govshare.supervision.models import Finding, Notice
from govshare.supervision.schemas import NoticeAnswerIn, NoticeDecisionIn
from govshare.supervision.service import findings, notices
from tests.sharing.builders import SHANGRAO, Sharing, deciding, sharing_world

JOB = Actor(label="job:supervision.detect", roles=frozenset({Role.SYSTEM}))
CITY = "江州市"
# A Tuesday: the world is built, an application forwarded to the provider (SR: decision due
# ten working days later, 2026-11-17).
BUILT_AT = "2026-11-03T10:00:00+08:00"
DECISION_DUE = "2026-11-17T10:00:00+08:00"  # the decision's last day: not overdue yet
FOUND_AT = "2026-11-20T10:00:00+08:00"  # three days past it: found, notice due 2026-12-04
NOTICE_DUE = "2026-12-04T10:00:00+08:00"
PAST_NOTICE = "2026-12-08T10:00:00+08:00"  # the notice's deadline passed


@dataclass
class Overdue:
    """A provider sitting on an application, the finding and the notice it became."""

    s: Sharing
    application: Application
    finding: Finding
    notice: Notice


def overdue_application(db: Session, op: Actor | None = None) -> tuple[Sharing, Application]:
    """The sharing cast, and an application waiting for the provider's decision."""
    with clock.frozen(BUILT_AT):
        s = sharing_world(db, op)
        return s, deciding(s)


def detect(
    db: Session,
    at: str = FOUND_AT,
    only: Sequence[Detector] = (detectors.decision_overdue,),
    profile: Profile = SHANGRAO,
) -> findings.DetectionResult:
    with clock.frozen(at):
        return findings.detect(db, actor=JOB, profile=profile, only=only)


def overdue(db: Session, op: Actor | None = None) -> Overdue:
    """An overdue decision found, and its notice issued on `FOUND_AT`."""
    s, application = overdue_application(db, op)
    result = detect(db)
    (finding,), (notice,) = result.found, result.issued
    return Overdue(s, application, finding, notice)


def answered(o: Overdue, at: str = FOUND_AT) -> Notice:
    with clock.frozen(at):
        return notices.answer(
            o.s.db,
            actor=o.s.provider_officer,
            notice_id=o.notice.id,
            data=NoticeAnswerIn(answer="已答复该申请，并指定专人每日查看待办申请"),
        )


def decided(o: Overdue, accept: bool, note: str = "", at: str = FOUND_AT) -> Notice:
    with clock.frozen(at):
        return notices.decide(
            o.s.db,
            actor=o.s.op,
            profile=SHANGRAO,
            notice_id=o.notice.id,
            data=NoticeDecisionIn(accept=accept, note=note),
        )


def escalate(db: Session, at: str = PAST_NOTICE) -> list[Notice]:
    with clock.frozen(at):
        return notices.escalate_due(db, actor=JOB, city_name=CITY)
