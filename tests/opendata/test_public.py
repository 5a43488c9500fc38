"""Acceptance: under Shangrao a citizen's application for conditional open data gets a
deadline 20 working days out, with its date; a refusal without a legal basis is refused; an
approval gives that citizen (and no one else) an entitlement on the portal."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.policy import load_profile
from govshare.exchange.center import Center
from govshare.opendata import publishing
from govshare.opendata.models import PublicApplicationState
from govshare.opendata.service import public
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalAccount, PortalApplication, PortalEntitlement
from tests.exchange.builders import audit_entries, settings_of
from tests.opendata.builders import conditional_world

SHANGRAO = load_profile("shangrao").rules


def _account(portal: PortalDatabase, name: str, id_number: str, mobile: str) -> int:
    with portal.session() as ps:
        account = PortalAccount(
            kind="person",
            name=name,
            id_number=id_number,
            mobile=mobile,
            login=mobile,
            password_hash="x",
            created_at=clock.now(),
        )
        ps.add(account)
        ps.flush()
        return account.id


def _apply(portal: PortalDatabase, account_id: int, dataset_id: int) -> int:
    with portal.session() as ps:
        application = PortalApplication(
            account_id=account_id,
            dataset_id=dataset_id,
            purpose="研究本市产业结构与能耗的关系，用于学位论文",
            usage="仅在校内研究使用，结果以统计形式发表",
            fields=["性别", "行政区划代码"],
            submitted_at=clock.now(),
            state="submitted",
        )
        ps.add(application)
        ps.flush()
        return application.id


@pytest.fixture
def applied(db: Session, center: Center, tmp_path: Path, portal: PortalDatabase):  # type: ignore[no-untyped-def]
    o = conditional_world(db, center)
    publishing.publish(
        db,
        actor=o.w.op,
        settings=settings_of(tmp_path),
        center=center,
        portal=portal,
        city_name="江州市",
    )
    citizen = _account(portal, "李明", "11010519491231002X", "13800138000")
    other = _account(portal, "王芳", "440524199001010027", "13900139000")
    portal_id = _apply(portal, citizen, o.resource.id)
    return o, citizen, other, portal_id


def test_the_deadline_is_twenty_working_days_out_with_its_date(
    db: Session, portal: PortalDatabase, applied
) -> None:  # type: ignore[no-untyped-def]
    o, _, _, portal_id = applied
    received = public.receive(db, actor=o.w.op, portal=portal, rules=SHANGRAO)
    assert len(received) == 1
    application = received[0]
    today = clock.today()
    expected = working_days.load(db).add_working_days(today, 20).on
    assert SHANGRAO.open_application_answer_days.value == 20
    assert application.due_on == expected
    assert working_days.load(db).working_days_between(today, expected) == 20
    with portal.session() as ps:
        on_portal = ps.get(PortalApplication, portal_id)
        assert on_portal.state == "accepted" and on_portal.due_on == expected
        assert on_portal.due_working_days == 20
        assert on_portal.number == application.number
    # Read once: a second pass receives nothing new.
    assert public.receive(db, actor=o.w.op, portal=portal, rules=SHANGRAO) == []
    assert audit_entries(db, "opendata.application.receive")[0]["due_on"] == expected.isoformat()


def test_a_refusal_needs_its_reasons_and_legal_basis(
    db: Session, portal: PortalDatabase, applied
) -> None:  # type: ignore[no-untyped-def]
    o, _, _, portal_id = applied
    application = public.receive(db, actor=o.w.op, portal=portal, rules=SHANGRAO)[0]
    with pytest.raises(ValidationError, match="法律政策依据"):
        public.PublicAnswerIn(approve=False, answer="涉及商业秘密，不宜开放")
    refusal = public.PublicAnswerIn(
        approve=False,
        answer="所申请数据涉及企业商业秘密",
        legal_basis="《江州市公共数据开放管理办法》第二十二条",
    )
    with pytest.raises(NotFound):  # another department does not see it
        public.answer(db, actor=o.w.consumer_officer, application_id=application.id, data=refusal)
    with pytest.raises(Forbidden):  # the provider's staff see it; its officer or head answers
        public.answer(db, actor=o.w.provider_staff, application_id=application.id, data=refusal)
    public.answer(db, actor=o.w.provider_officer, application_id=application.id, data=refusal)
    with pytest.raises(Conflict):
        public.answer(db, actor=o.w.provider_officer, application_id=application.id, data=refusal)
    assert public.deliver(db, actor=o.w.op, portal=portal) == 1
    with portal.session() as ps:
        on_portal = ps.get(PortalApplication, portal_id)
        assert on_portal.state == "refused" and "第二十二条" in on_portal.legal_basis
        assert ps.scalar(sa.select(sa.func.count()).select_from(PortalEntitlement)) == 0


def test_an_approval_entitles_that_applicant_alone(
    db: Session, portal: PortalDatabase, applied
) -> None:  # type: ignore[no-untyped-def]
    o, citizen, other, portal_id = applied
    application = public.receive(db, actor=o.w.op, portal=portal, rules=SHANGRAO)[0]
    with pytest.raises(Invalid, match="不在申请范围内"):
        public.answer(
            db,
            actor=o.w.provider_officer,
            application_id=application.id,
            data=public.PublicAnswerIn(
                approve=True, fields=["户籍地址"], valid_until=date(2027, 6, 30)
            ),
        )
    public.answer(
        db,
        actor=o.w.provider_officer,
        application_id=application.id,
        data=public.PublicAnswerIn(
            approve=True, answer="限学术研究使用", valid_until=date(2027, 6, 30)
        ),
    )
    assert application.state is PublicApplicationState.APPROVED
    public.deliver(db, actor=o.w.op, portal=portal)
    with portal.session() as ps:
        entitlements = list(ps.scalars(sa.select(PortalEntitlement)))
        assert [(e.account_id, e.dataset_id) for e in entitlements] == [(citizen, o.resource.id)]
        assert entitlements[0].fields == ["性别", "行政区划代码"]
        assert other not in {e.account_id for e in entitlements}
        assert ps.get(PortalApplication, portal_id).state == "approved"
    # Overdue ones are listed for the operator: none, it was answered.
    assert public.list_applications(db, actor=o.w.op, overdue=True) == []


def test_an_unanswered_application_past_its_deadline_is_overdue(
    db: Session, portal: PortalDatabase, applied
) -> None:  # type: ignore[no-untyped-def]
    o, _, _, _ = applied
    application = public.receive(db, actor=o.w.op, portal=portal, rules=SHANGRAO)[0]
    assert public.list_applications(db, actor=o.w.op, overdue=True) == []
    later = application.due_on.toordinal() + 1
    with clock.frozen(date.fromordinal(later).isoformat() + "T09:00:00+08:00"):
        overdue = public.list_applications(db, actor=o.w.op, overdue=True)
        assert [a.number for a in overdue] == [application.number]
        assert public.list_applications(db, actor=o.w.provider_officer, overdue=True) == overdue
