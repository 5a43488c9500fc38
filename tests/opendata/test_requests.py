"""Acceptance: a member of the public asks on the portal for data that is not open yet; the
platform reads the request in and numbers it, the operator assigns it to a department, where
it stands on the responsibility list with its deadline; the department answers, and the answer
is on the portal's public list of requests, the requester's name masked."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from govshare.catalog.models import LABELS as CATALOG_LABELS
from govshare.catalog.service import needs
from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor
from govshare.core.policy import load_profile
from govshare.opendata.models import PublicDataRequest, PublicRequestState
from govshare.opendata.service import requests
from govshare.opendata.service.requests import RequestAnswerIn, RequestAssignmentIn
from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalDataRequest
from govshare.portal.requests_pages import DOMAINS
from govshare.portal.settings import PortalSettings
from tests.exchange.builders import audit_entries
from tests.portal import signing
from tests.sharing.builders import Sharing, sharing_world

SHANGRAO = load_profile("shangrao").rules
ASKED = {
    "title": "公交车辆实时位置",
    "description": "用于开发公交到站提醒应用，需要各线路车辆的实时经纬度和所属线路",
    "domain": "transport",
    "department": "市交通运输局",
}


@dataclass
class Asking:
    w: Sharing
    portal: PortalDatabase
    client: TestClient  # the portal, signed in as the requester
    who: signing.Account


@pytest.fixture
def asking(db: Session, portal: PortalDatabase) -> Iterator[Asking]:
    w = sharing_world(db)
    app = create_portal_app(PortalSettings(database_url=portal.url), database=portal)
    with TestClient(app) as client:
        who = signing.sign_in(client, portal, signing.account(portal))
        yield Asking(w, portal, client, who)


def _ask(a: Asking, **changes: str) -> int:
    """The requester submits the portal's form; the request's portal id."""
    posted = a.client.post(
        "/request", data=ASKED | changes | {"csrf_token": a.who.csrf}, follow_redirects=False
    )
    assert posted.status_code == 303, posted.text
    with a.portal.session() as ps:
        return ps.scalars(
            sa.select(PortalDataRequest.id).order_by(PortalDataRequest.id.desc())
        ).first()  # type: ignore[return-value]


def _received(db: Session, a: Asking) -> PublicDataRequest:
    (found,) = requests.receive_requests(db, actor=a.w.op, portal=a.portal)
    return found


def _assign(db: Session, a: Asking, found: PublicDataRequest, org_id: int | None = None) -> None:
    requests.assign_request(
        db,
        actor=a.w.op,
        request_id=found.id,
        data=RequestAssignmentIn(organization_id=org_id or a.w.provider.id, note="请答复"),
        rules=SHANGRAO,
    )


def _titles(db: Session, actor: Actor) -> list[str]:
    return [n.title for n in inbox.list_notifications(db, actor=actor).rows]


def test_a_request_reaches_the_department_and_its_answer_the_portal(
    db: Session, asking: Asking
) -> None:
    a = asking
    portal_id = _ask(a)
    with a.portal.session() as ps:
        assert ps.get(PortalDataRequest, portal_id).state == "submitted"  # type: ignore[union-attr]
    listed = a.client.get("/requests").text
    assert ASKED["title"] in listed and "等待平台受理" in listed

    # Read in once, numbered KX<year><seq>, accepted on the portal; the operator is told.
    found = _received(db, a)
    assert found.number == f"KX{clock.now().year}000001"
    assert found.state is PublicRequestState.RECEIVED and found.domain == "transport"
    assert found.requester_name == "李明" and found.department == "市交通运输局"
    assert requests.receive_requests(db, actor=a.w.op, portal=a.portal) == []
    with a.portal.session() as ps:
        on_portal = ps.get(PortalDataRequest, portal_id)
        assert on_portal.state == "accepted" and on_portal.number == found.number  # type: ignore[union-attr]
    assert f"数据开放需求待分派：{ASKED['title']}" in _titles(db, a.w.op)
    assert needs.responsibility_list(db, actor=a.w.provider_staff) == []  # not assigned yet
    with pytest.raises(NotFound):  # nor visible to a department before
        requests.get_request(db, actor=a.w.provider_officer, request_id=found.id)

    # Assigned: due in the profile's catalog_update_days working days (Shangrao 15).
    _assign(db, a, found)
    expected = working_days.load(db).add_working_days(clock.today(), 15)
    assert SHANGRAO.catalog_update_days.value == 15
    assert (found.state, found.due_on) == (PublicRequestState.ASSIGNED, expected.on)
    assert audit_entries(db, "opendata.request.assign")[0]["due_on"] == expected.on.isoformat()
    assert f"公众数据开放需求待答复：{ASKED['title']}" in _titles(db, a.w.provider_staff)

    # On the department's responsibility list, beside its other duties, with its deadline.
    (owed,) = needs.responsibility_list(db, actor=a.w.provider_staff)
    assert (owed.kind, owed.kind_label) == ("open_request", "公众数据开放需求")
    assert owed.title == f"{ASKED['title']}（{found.number}）"
    assert (owed.due.on, owed.due.provisional) == (expected.on, expected.provisional)  # type: ignore[union-attr]
    assert owed.overdue is False
    assert owed.link == f"/opendata/requests/{found.id}"
    assert needs.responsibility_list(db, actor=a.w.consumer_officer) == []

    # The assignment reaches the portal: who answers.
    assert requests.deliver_requests(db, actor=a.w.op, portal=a.portal) == 1
    assert requests.deliver_requests(db, actor=a.w.op, portal=a.portal) == 0
    assert f"已转交{a.w.provider.name}办理" in a.client.get("/requests").text

    # The department answers: it will open the data by a date.
    planned = date(2027, 3, 31)
    requests.answer_request(
        db,
        actor=a.w.provider_officer,
        request_id=found.id,
        data=RequestAnswerIn(will_open=True, planned_on=planned, answer="将随交通数据一并开放"),
    )
    assert needs.responsibility_list(db, actor=a.w.provider_staff) == []  # done
    assert audit_entries(db, "opendata.request.answer")[0]["on_time"] is True
    assert f"数据开放需求已答复：{ASKED['title']}" in _titles(db, a.w.op)
    assert requests.deliver_requests(db, actor=a.w.op, portal=a.portal) == 1
    with a.portal.session() as ps:
        on_portal = ps.get(PortalDataRequest, portal_id)
        assert on_portal.state == "answered" and on_portal.planned_on == planned  # type: ignore[union-attr]

    # Everyone sees the answer; of the requester only the masked name.
    public = TestClient(a.client.app)
    shown = public.get("/requests")
    assert shown.status_code == 200
    assert "计划于 <strong>2027-03-31</strong> 前开放" in shown.text
    assert "将随交通数据一并开放" in shown.text and found.number in shown.text
    assert "提出人：李*" in shown.text
    for personal in ("李明", "11010519491231002X", "13800138000"):
        assert personal not in shown.text
    # The requester sees it among their own requests too.
    assert "将随交通数据一并开放" in a.client.get("/request").text


def test_a_department_that_cannot_open_the_data_gives_its_reasons(
    db: Session, asking: Asking
) -> None:
    a = asking
    _ask(a)
    found = _received(db, a)
    _assign(db, a, found)
    with pytest.raises(ValidationError, match="无法开放的，须说明理由"):
        RequestAnswerIn(will_open=False)
    with pytest.raises(ValidationError, match="计划开放日期"):
        RequestAnswerIn(will_open=True)
    cannot = RequestAnswerIn(will_open=False, answer="涉及车辆运营企业的商业秘密，暂不开放")
    with pytest.raises(NotFound):  # another department does not see it
        requests.answer_request(db, actor=a.w.consumer_officer, request_id=found.id, data=cannot)
    with pytest.raises(Forbidden):  # its staff see it; its officer or head answers
        requests.answer_request(db, actor=a.w.provider_staff, request_id=found.id, data=cannot)
    with pytest.raises(Invalid) as past:
        requests.answer_request(
            db,
            actor=a.w.provider_officer,
            request_id=found.id,
            data=RequestAnswerIn(will_open=True, planned_on=date(2020, 1, 1)),
        )
    assert past.value.field == "planned_on"
    requests.answer_request(db, actor=a.w.provider_officer, request_id=found.id, data=cannot)
    assert found.will_open is False and found.planned_on is None
    with pytest.raises(Conflict):
        requests.answer_request(db, actor=a.w.provider_officer, request_id=found.id, data=cannot)
    with pytest.raises(Conflict):  # answered: no longer assigned anywhere
        _assign(db, a, found, a.w.consumer.id)
    requests.deliver_requests(db, actor=a.w.op, portal=a.portal)
    shown = a.client.get("/requests").text
    assert "暂不能开放" in shown and "商业秘密" in shown


def test_the_operator_reassigns_the_deadline_starts_again_and_the_portal_learns_it(
    db: Session, asking: Asking
) -> None:
    a = asking
    _ask(a)
    found = _received(db, a)
    with clock.frozen("2026-12-16T09:00:00+08:00"):
        _assign(db, a, found, a.w.consumer.id)
    first_due = found.due_on
    assert requests.deliver_requests(db, actor=a.w.op, portal=a.portal) == 1
    assert f"已转交{a.w.consumer.name}办理" in a.client.get("/requests").text
    with pytest.raises(Conflict):  # to the same department again
        _assign(db, a, found, a.w.consumer.id)
    with pytest.raises(Forbidden):  # only the operator assigns
        requests.assign_request(
            db,
            actor=a.w.provider_officer,
            request_id=found.id,
            data=RequestAssignmentIn(organization_id=a.w.provider.id),
            rules=SHANGRAO,
        )
    with clock.frozen("2026-12-23T09:00:00+08:00"):
        _assign(db, a, found)
    assert found.organization_id == a.w.provider.id and found.due_on > first_due  # type: ignore[operator]
    assert requests.deliver_requests(db, actor=a.w.op, portal=a.portal) == 1  # the new one
    assert f"已转交{a.w.provider.name}办理" in a.client.get("/requests").text
    assert needs.responsibility_list(db, actor=a.w.consumer_officer) == []
    assert [r.kind for r in needs.responsibility_list(db, actor=a.w.provider_staff)] == [
        "open_request"
    ]
    # Past the deadline, the line is overdue.
    with clock.frozen(f"{found.due_on.isoformat()}T09:00:00+08:00"):  # type: ignore[union-attr]
        assert needs.responsibility_list(db, actor=a.w.provider_staff)[0].overdue is False
    with clock.frozen("2027-06-01T09:00:00+08:00"):
        (late,) = needs.responsibility_list(db, actor=a.w.provider_staff)
        assert late.overdue is True and requests.is_overdue(found)


def test_a_domain_the_catalog_does_not_know_is_not_kept(db: Session, asking: Asking) -> None:
    a = asking
    portal_id = _ask(a)
    with a.portal.session() as ps:  # as if the portal's database had been written around it
        ps.get(PortalDataRequest, portal_id).domain = "astrology"  # type: ignore[union-attr]
    assert _received(db, a).domain is None


def test_the_portal_names_the_domains_as_the_catalog_does() -> None:
    assert CATALOG_LABELS["Domain"] == DOMAINS


def test_the_list_shows_the_department_its_own_and_the_operator_all(
    db: Session, asking: Asking
) -> None:
    a = asking
    _ask(a)
    _ask(a, title="药品零售企业名录")
    first, second = requests.receive_requests(db, actor=a.w.op, portal=a.portal)
    _assign(db, a, first)
    assert [r.id for r in requests.list_requests(db, actor=a.w.op)] == [second.id, first.id]
    assert [r.id for r in requests.list_requests(db, actor=a.w.provider_staff)] == [first.id]
    assert requests.list_requests(db, actor=a.w.consumer_officer) == []
    waiting = requests.list_requests(db, actor=a.w.op, state=PublicRequestState.RECEIVED)
    assert [r.id for r in waiting] == [second.id]
