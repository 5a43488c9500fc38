"""The demo city's objections: every state the pages show, on records that are in the center,
each with its audit entries and notices."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from govshare import demo
from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.verification.models import ExtensionState, Objection, ObjectionState
from govshare.verification.service import objections
from tests.demo.conftest import City


def test_objections_in_every_state(city: City) -> None:
    with city.session() as db:
        found = list(db.scalars(select(Objection).order_by(Objection.id)))
        states = Counter(o.state for o in found)
        assert states[ObjectionState.OPEN] == 4  # overdue, extended, due soon, on metadata
        assert states[ObjectionState.CONFIRMED] == 1 and states[ObjectionState.REJECTED] == 1
        today = clock.today()
        assert [o.number for o in found if objections.is_overdue(o, today)] == [found[0].number]
        extended = [o for o in found if o.extension == ExtensionState.APPROVED]
        assert len(extended) == 1 and not objections.is_overdue(extended[0], today)
        assert extended[0].due_on > extended[0].raised_on
        assert {o.subject.value for o in found} == {"records", "metadata"}
        # the records named are in the center, and marked while their objection is open
        marked = objections.under_verification(db, found[0].resource_id, ["公民身份号码"])
        assert len(marked) == 3  # overdue, extended, confirmed (not yet corrected)
        raised = db.scalars(
            select(AuditEntry).where(AuditEntry.action == "verification.objection.raise")
        ).all()
        assert len(raised) == len(found)
        assert "疑义校核" in city.progress


def test_building_again_adds_no_objection(city: City) -> None:
    with city.session() as db:
        before = len(db.scalars(select(Objection.id)).all())
    demo.build_city(city.runtime)
    with city.session() as db:
        assert len(db.scalars(select(Objection.id)).all()) == before
