"""The demo city's comparison: 市公安局's register against 市卫健委's copy reports exactly the
planted differences (and none of the differences of form), the cases reach the departments
the comparison's authorities name, and the count falls as cases settle."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from govshare import demo
from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.inbox.models import Notification
from govshare.demo import comparison as comparison_demo
from govshare.identity.models import User
from govshare.verification.comparison_models import (
    Comparison,
    ComparisonRunRecord,
    Mismatch,
    MismatchKind,
    MismatchState,
)
from govshare.verification.service import comparisons
from tests.demo.conftest import City


def _comparison(db) -> Comparison:
    return db.scalars(select(Comparison).where(Comparison.name == comparison_demo.NAME)).one()


def _runs(db, comparison: Comparison) -> list[ComparisonRunRecord]:
    return list(
        db.scalars(
            select(ComparisonRunRecord)
            .where(ComparisonRunRecord.comparison_id == comparison.id)
            .order_by(ComparisonRunRecord.id)
        )
    )


def test_the_first_run_reports_exactly_the_planted_differences(city: City) -> None:
    planted = comparison_demo.planted_differences()
    assert (len(planted.only_left), len(planted.only_right)) == (50, 30)
    assert Counter(planted.differing.values()) == {
        "姓名": 50, "户籍地址": 50, "婚姻状况": 50, "出生日期": 20,
    }  # fmt: skip
    with city.session() as db:
        comparison = _comparison(db)
        first = _runs(db, comparison)[0]
        assert (first.left_rows, first.right_rows) == (20_000, 20_000 - 50 + 30)
        assert (first.only_left, first.only_right) == (50, 30)
        assert first.matched == 20_000 - 50
        assert first.differing == len(planted.differing)
        assert first.differing_by_item == {
            item: Counter(planted.differing.values())[item] for item in comparison_demo.ITEMS
        }
        found = db.scalars(select(Mismatch).where(Mismatch.found_run_id == first.id)).all()
        by_kind: dict[MismatchKind, set[str]] = {}
        for case in found:
            by_kind.setdefault(case.kind, set()).add(case.key[0])
        assert by_kind[MismatchKind.ONLY_LEFT] == planted.only_left
        assert by_kind[MismatchKind.ONLY_RIGHT] == planted.only_right
        assert {c.key[0]: c.items[0]["item"] for c in found if c.kind == MismatchKind.DIFFERS} == (
            planted.differing
        )
        assert MismatchKind.DUPLICATE not in by_kind


def test_each_case_goes_to_the_department_that_is_not_the_authority(city: City) -> None:
    with city.session() as db:
        comparison = _comparison(db)
        police, health = comparison.left_resource.provider, comparison.right_resource.provider
        assert "公安" in police.name and "卫生健康" in health.name
        cases = db.scalars(select(Mismatch).where(Mismatch.comparison_id == comparison.id)).all()
        assert len(cases) == 250
        for case in cases:
            births = case.kind == MismatchKind.DIFFERS and case.items[0]["item"] == "出生日期"
            # the birth certificate is authoritative for birth dates; the register for the rest
            assert case.department_id == (police.id if births else health.id), case.key
        # both departments were told of the cases the first run opened for them
        for username, count in (("gaj_officer", 20), ("wjw_officer", 230)):
            bodies = db.scalars(
                select(Notification.body)
                .join(User, User.id == Notification.recipient_id)
                .where(User.username == username, Notification.title.contains(comparison.name))
            ).all()
            assert any(f"新发现 {count} 条" in b for b in bodies), (username, bodies)


def test_the_count_falls_as_cases_settle(city: City) -> None:
    with city.session() as db:
        comparison = _comparison(db)
        runs = _runs(db, comparison)
        assert [r.cases_live for r in runs] == [250, 174, 149]
        assert [r.cases_gone for r in runs] == [0, 75, 25]
        # the center holds what 市卫健委 corrected at its source and synced: every name, half
        # the addresses and half the missing people (the marital statuses come after the run)
        last = {item: count for item, count in runs[-1].differing_by_item.items() if count}
        assert last == {"户籍地址": 25, "婚姻状况": 50, "出生日期": 20}
        assert (runs[-1].only_left, runs[-1].only_right) == (25, 30)
        cases = db.scalars(select(Mismatch).where(Mismatch.comparison_id == comparison.id)).all()
        states = Counter(c.state for c in cases)
        assert states == {
            MismatchState.GONE: 100,
            MismatchState.SETTLED: 1,
            MismatchState.DISPUTED: 1,
            MismatchState.CORRECTED: 10,
            MismatchState.OPEN: 138,
        }
        today = clock.today()
        open_cases = [c for c in cases if c.state == MismatchState.OPEN]
        overdue = [c for c in open_cases if comparisons.is_overdue(c, today)]
        assert len(overdue) == 137  # all but the one sent back with a new deadline
        actions = Counter(
            db.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.action.like("verification.%"),
                    AuditEntry.action.notlike("verification.objection%"),
                )
            )
        )
        assert actions["verification.comparison.define"] == 1
        assert actions["verification.comparison.run"] == 3
        assert actions["verification.mismatch.answer"] == 50 + 25 + 25 + 10 + 3
        assert actions["verification.mismatch.mediate"] == 2
        assert "数据比对" in city.progress


def test_building_again_adds_no_comparison(city: City) -> None:
    demo.build_city(city.runtime)
    with city.session() as db:
        assert db.scalar(select(func.count(Comparison.id))) == 1
        assert len(_runs(db, _comparison(db))) == 3
