"""The demo city's supervision: the jobs find the violations the other steps planted, each with
its article; a notice left past its deadline is circulated, a rectified one closed after the
operator accepted it, one waits for review."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import case, func, select

from govshare import demo
from govshare.core.policy import Violation
from govshare.supervision.models import Finding, Notice, NoticeState, Probe, ProbeTarget
from tests.demo.conftest import City


def test_the_planted_violations_are_found_with_their_articles(city: City) -> None:
    with city.session() as db:
        found = list(db.scalars(select(Finding).where(Finding.resolved_at.is_(None))))
        kinds = Counter(f.kind for f in found)
        for planted in (
            Violation.DECISION_OVERDUE,
            Violation.OBJECTION_OVERDUE,
            Violation.MISMATCH_OVERDUE,
            Violation.DATA_STALE,
            Violation.GRANT_SUSPENDED,
            Violation.INTERFACE_UNREACHABLE,
        ):
            assert kinds[planted], planted
        # the two private lines data/systems.yaml keeps open past their date, and no other
        assert kinds[Violation.PRIVATE_LINE_OVERDUE] == 2
        articles = {f.kind: f.article for f in found}
        assert articles[Violation.DECISION_OVERDUE] == "第三十条第（三）项"  # Shangrao
        assert articles[Violation.GRANT_SUSPENDED] == "第三十条第（四）项"
        assert articles[Violation.INTERFACE_UNREACHABLE] == "第三十条第（二）项"
        assert articles[Violation.PRIVATE_LINE_OVERDUE] == "第三十条第（五）项"
        assert all(f.facts["summary"] and f.department_id for f in found)
        stale = [f.subject_label for f in found if f.kind is Violation.DATA_STALE]
        assert any("用水户信息" in label for label in stale)
        (unreachable,) = [f for f in found if f.kind is Violation.INTERFACE_UNREACHABLE]
        assert "环境空气质量监测数据" in unreachable.subject_label
        # every finding became one notice
        assert db.scalar(select(func.count(Notice.id))) == db.scalar(select(func.count(Finding.id)))
        assert "监督考核" in city.progress


def test_notices_circulated_accepted_and_waiting(city: City) -> None:
    with city.session() as db:
        every = list(db.scalars(select(Notice).order_by(Notice.id)))
        (circulated,) = [n for n in every if n.circular_number]
        assert circulated.state is NoticeState.ESCALATED
        assert "青山县农村留守儿童信息" in circulated.circular_text
        assert circulated.circular_issuer.startswith("江州市")
        (accepted,) = [n for n in every if n.state is NoticeState.ACCEPTED]
        assert accepted.finding.kind is Violation.GRANT_SUSPENDED
        assert accepted.finding.resolved_at is None  # the grant is still suspended
        assert [s.step.value for s in accepted.steps] == ["issued", "answered", "accepted"]
        (answered,) = [n for n in every if n.state is NoticeState.ANSWERED]
        assert answered.finding.kind is Violation.OBJECTION_OVERDUE
        assert sum(n.state is NoticeState.ISSUED for n in every) >= 4


def test_availability_is_kept_per_day(city: City) -> None:
    with city.session() as db:
        interface = db.execute(
            select(func.count(Probe.id), func.sum(case((Probe.ok.is_(True), 1), else_=0))).where(
                Probe.target == ProbeTarget.INTERFACE
            )
        ).one()
        assert interface == (7, 0)  # three rounds on each of two days, and this hour's
        days = db.scalars(
            select(func.count(func.distinct(Probe.probed_on))).where(
                Probe.target == ProbeTarget.INTERFACE
            )
        ).one()
        assert days == 3
        connections = db.scalars(
            select(Probe.ok).where(Probe.target == ProbeTarget.CONNECTION)
        ).all()
        assert connections and all(connections)


def test_building_again_adds_no_finding(city: City) -> None:
    with city.session() as db:
        before = db.scalar(select(func.count(Finding.id)))
    demo.build_city(city.runtime)
    with city.session() as db:
        assert db.scalar(select(func.count(Finding.id))) == before
