"""The incident register: report deadlines by level from the profile, reports on time and
late, overdue reports listed, the timeline, the level changed, closing, who sees what."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox.models import Notification
from govshare.core.policy import IncidentLevel
from govshare.security.models import IncidentState, Recipient
from govshare.security.schemas import CloseIn, EntryIn, ReportIn
from govshare.security.service import incidents
from govshare.security.service.incidents import ReportStatus
from tests.builders import count
from tests.security.builders import AT, cast, incident_in, registered
from tests.sharing.builders import SHANGRAO


def _report(recipient: str, at: str) -> ReportIn:
    with clock.frozen("2026-11-05T12:00:00+08:00"):
        return ReportIn(
            recipient=recipient,
            reported_at=at,
            addressee="市委网信办" if recipient == "cyberspace" else "市数据局",
            reference="电话报告",
            content="已报告事件经过和已采取的措施",
        )


def test_an_incident_is_reported_handled_and_closed(db: Session) -> None:
    c = cast(db)
    incident = registered(c)
    # 重大: an hour after discovery at 09:00, both reports
    assert [(r.recipient, r.hours) for r in incident.reports] == [
        (Recipient.CYBERSPACE, 1),
        (Recipient.AUTHORITY, 1),
    ]
    due = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    assert all(clock.as_utc(r.due_at) == due for r in incident.reports)
    assert count(db, Notification) >= 3  # the police's officer, the operator, the authority

    with clock.frozen("2026-11-03T11:00:00+08:00"):
        assert incidents.list_incidents(db, actor=c.op, overdue=True) == [incident]
        assert {incidents.report_status(r) for r in incident.reports} == {ReportStatus.OVERDUE}
        incidents.report(
            db,
            actor=c.police_officer,
            incident_id=incident.id,
            data=_report("cyberspace", "2026-11-03T09:40:00"),
        )
        late = _report("authority", "2026-11-03T10:30:00")
        incidents.report(db, actor=c.op, incident_id=incident.id, data=late)
        statuses = {r.recipient: incidents.report_status(r) for r in incident.reports}
        assert statuses == {
            Recipient.CYBERSPACE: ReportStatus.ON_TIME,
            Recipient.AUTHORITY: ReportStatus.LATE,
        }
        assert incidents.list_incidents(db, actor=c.op, overdue=True) == []
        with pytest.raises(Conflict, match="已于 2026-11-03 10:30 向主管部门报告"):
            incidents.report(db, actor=c.op, incident_id=incident.id, data=late)
        entry = EntryIn(
            kind="action", at="2026-11-03T09:10:00", text="吊销泄露的令牌，封禁来源地址"
        )
        incidents.add_entry(db, actor=c.police_officer, incident_id=incident.id, data=entry)
        assert [e.text for e in incident.entries] == ["吊销泄露的令牌，封禁来源地址"]
        with pytest.raises(Forbidden):
            incidents.close(
                db,
                actor=c.police_officer,
                incident_id=incident.id,
                data=CloseIn(conclusion="已处置完毕"),
            )
        incidents.close(
            db, actor=c.op, incident_id=incident.id, data=CloseIn(conclusion="令牌泄露，已更换")
        )
    assert incident.state == IncidentState.CLOSED
    with pytest.raises(Conflict, match="已结案"):
        incidents.add_entry(db, actor=c.op, incident_id=incident.id, data=entry)


def test_closing_waits_for_both_reports(db: Session) -> None:
    c = cast(db)
    incident = registered(c, level="general")
    assert {r.hours for r in incident.reports} == {24}  # 一般: a day
    with clock.frozen(AT), pytest.raises(Conflict, match="尚未向网信部门、主管部门报告"):
        incidents.close(
            db, actor=c.op, incident_id=incident.id, data=CloseIn(conclusion="经核实为误报")
        )


def test_a_graver_level_shortens_the_reports_not_yet_made(db: Session) -> None:
    c = cast(db)
    incident = registered(c, level="general")
    with clock.frozen(AT):
        incidents.report(
            db, actor=c.op, incident_id=incident.id, data=_report("cyberspace", "2026-11-03T09:30")
        )
        with pytest.raises(Invalid, match="理由"):
            incidents.reclassify(
                db, actor=c.op, profile=SHANGRAO, incident_id=incident.id,
                level=IncidentLevel.LARGE, reason="",
            )  # fmt: skip
        incidents.reclassify(
            db, actor=c.op, profile=SHANGRAO, incident_id=incident.id,
            level=IncidentLevel.LARGE, reason="涉及人数超过一万",
        )  # fmt: skip
    reports = {r.recipient: r for r in incident.reports}
    assert reports[Recipient.CYBERSPACE].hours == 24  # already made: kept as it was
    assert reports[Recipient.AUTHORITY].hours == 4
    assert clock.as_utc(reports[Recipient.AUTHORITY].due_at) == datetime(2026, 11, 3, 5, tzinfo=UTC)
    assert "调整为“较大”" in incident.entries[-1].text


def test_departments_see_and_register_only_what_concerns_them(db: Session) -> None:
    c = cast(db)
    incident = registered(c)
    with clock.frozen(AT):
        assert incidents.list_incidents(db, actor=c.police_staff) == [incident]
        assert incidents.list_incidents(db, actor=c.civil_officer) == []
        assert incidents.list_incidents(db, actor=c.authority) == [incident]
        with pytest.raises(NotFound):
            incidents.get_incident(db, actor=c.civil_officer, incident_id=incident.id)
        assert not incidents.permitted(c.police_staff, incident).handle
        assert incidents.permitted(c.police_officer, incident).handle
        with pytest.raises(Forbidden):
            incidents.register(db, actor=c.police_staff, profile=SHANGRAO, data=incident_in(c))
        with pytest.raises(Invalid, match="只能登记涉及本部门"):
            incidents.register(
                db,
                actor=c.civil_officer,
                profile=SHANGRAO,
                data=incident_in(c),
            )
    own = registered(c, actor=c.civil_officer, department_ids=[c.civil.id])
    assert own.departments == [c.civil]


def test_bad_input_is_refused_naming_the_field(db: Session) -> None:
    c = cast(db)
    with pytest.raises(ValidationError, match="发现时间不能早于发生时间"):
        incident_in(c, discovered_at="2026-11-03T08:00:00+08:00")
    with pytest.raises(ValidationError, match="不能晚于当前时间"):
        incident_in(c, occurred_at="2026-11-04T08:00:00+08:00")
    with pytest.raises(ValidationError, match="level"):
        incident_in(c, level="huge")
    with clock.frozen(AT), pytest.raises(Invalid, match="没有编号为 99999 的部门"):
        incidents.register(
            db, actor=c.op, profile=SHANGRAO, data=incident_in(c, department_ids=[99999])
        )
