"""The demo city's security operations: an incident with its report to the authority overdue,
this year's drill done with its scan, a secrecy check whose finding became a notice."""

from __future__ import annotations

from sqlalchemy import select

from govshare.core import clock
from govshare.core.policy import Violation
from govshare.security.models import Check, Exercise, ExerciseKind, Incident, Recipient
from govshare.security.service.incidents import ReportStatus, report_status
from govshare.supervision.models import Notice, NoticeState
from tests.demo.conftest import City


def test_the_demo_has_an_incident_a_drill_and_a_check_with_its_notice(city: City) -> None:
    assert "安全管理" in city.progress
    with city.session() as db:
        (incident,) = db.scalars(select(Incident))
        statuses = {r.recipient: report_status(r) for r in incident.reports}
        assert statuses[Recipient.CYBERSPACE] == ReportStatus.ON_TIME
        assert statuses[Recipient.AUTHORITY] == ReportStatus.OVERDUE
        assert len(incident.entries) == 2
        drills = db.scalars(select(Exercise).where(Exercise.kind == ExerciseKind.DRILL)).all()
        assert [d.year for d in drills] == [clock.today().year]
        assert drills[0].documents
        (check,) = db.scalars(select(Check))
        (problem,) = check.findings
        notice = db.scalar(
            select(Notice).where(Notice.finding_id == problem.supervision_finding_id)
        )
        assert notice is not None and notice.state == NoticeState.ISSUED
        assert notice.finding.kind == Violation.SECURITY_ISSUE
        assert problem.department.name == "江州市民政局"
