"""Evaluation (考核评价, SUP-1, SUP-4): scores from the facts under the profile's weights, the
ranking, adjustments with reasons, and a published year that never changes afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.policy import Profile
from govshare.evaluation.schemas import AdjustmentIn, PublishIn
from govshare.evaluation.service import results, scores
from govshare.evaluation.service.results import Result
from tests.evaluation.builders import CITY, FACTS_AT, SHANGRAO, Evaluated, evaluated, reweighted
from tests.evaluation.builders import _finding as add_finding

SEPTEMBER = scores.parse_period("2026-09")
NEXT_YEAR = "2027-01-11T10:00:00+08:00"


def _evaluate(e: Evaluated, period: str = "2026-09", profile: Profile = SHANGRAO) -> Result:
    return results.evaluate(
        e.db, actor=e.op, profile=profile, city=CITY, period=scores.parse_period(period)
    )


def _unit(found: Result, unit_id: int) -> scores.UnitScore:
    return next(u for u in found.units if u.unit_id == unit_id)


def test_scores_follow_the_facts_and_the_shipped_weights(db: Session) -> None:
    e = evaluated(db)
    found = _evaluate(e)
    steady, shaky = _unit(found, e.steady.id), _unit(found, e.shaky.id)
    by_code = {s.code: s for s in steady.indicators}
    assert by_code["availability"].facts == {"probes_ok": 4, "probes_failed": 0}
    assert by_code["violations"].facts == {"findings": 2}
    assert by_code["violations"].score == 80.0
    assert {s.code: s.score for s in shaky.indicators}["availability"] == 50.0
    assert (steady.total, shaky.total) == (78.0, 72.5)
    assert steady.rank < shaky.rank


def test_changing_a_weight_in_the_profile_changes_scores_and_ranking(db: Session) -> None:
    e = evaluated(db)
    shipped = _evaluate(e)
    profile = reweighted({"availability": 5, "violations": 20})
    changed = _evaluate(e, profile=profile)
    assert (_unit(changed, e.steady.id).total, _unit(changed, e.shaky.id).total) == (76.0, 77.5)
    assert _unit(shipped, e.steady.id).rank < _unit(shipped, e.shaky.id).rank
    assert _unit(changed, e.shaky.id).rank < _unit(changed, e.steady.id).rank


def test_a_published_year_does_not_change_afterwards(db: Session) -> None:
    e = evaluated(db)
    with clock.frozen(NEXT_YEAR):
        results.publish(db, actor=e.op, profile=SHANGRAO, city=CITY, data=PublishIn(year=2026))
        before = _evaluate(e, "2026")
        # new facts in the year, new weights and an adjustment attempt: none reaches it
        with clock.frozen(FACTS_AT):
            add_finding(db, e.shaky, 9)
            db.flush()
        after = _evaluate(e, "2026", reweighted({"availability": 5, "violations": 20}))
        with pytest.raises(Conflict, match="已发布"):
            results.adjust(
                db,
                actor=e.op,
                period=scores.parse_period("2026-Q4"),
                data=AdjustmentIn(organization_id=e.shaky.id, points=5, reason="补报数据"),
            )
        with pytest.raises(Conflict, match="已经发布"):
            results.publish(db, actor=e.op, profile=SHANGRAO, city=CITY, data=PublishIn(year=2026))
        live = _evaluate(e, "2026-09", reweighted({"availability": 5, "violations": 20}))
    assert after.published_at is not None
    rows = [(u.name, u.total, u.rank) for u in after.units]
    assert rows == [(u.name, u.total, u.rank) for u in before.units]
    assert [i["weight"] for i in after.indicators] == [i["weight"] for i in before.indicators]
    # the month itself is still computed live: the new finding and weights show there
    assert _unit(live, e.shaky.id).total != _unit(before, e.shaky.id).total


def test_adjustment_is_recorded_with_its_reason_and_moves_the_total(db: Session) -> None:
    e = evaluated(db)
    results.adjust(
        db,
        actor=e.op,
        period=SEPTEMBER,
        data=AdjustmentIn(organization_id=e.shaky.id, points=-3.5, reason="迟报数据目录两次"),
    )
    unit = _unit(_evaluate(e), e.shaky.id)
    assert (unit.computed, unit.adjustment, unit.total) == (72.5, -3.5, 69.0)
    assert unit.adjustments[0]["reason"] == "迟报数据目录两次"
    # another period is untouched
    assert _unit(_evaluate(e, "2026-Q3"), e.shaky.id).adjustment == 0


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"points": 0, "reason": "没有理由的调整"}, "points"),
        ({"points": 101, "reason": "超出上限的调整"}, "points"),
        ({"points": 5, "reason": "短"}, "reason"),
    ],
)
def test_bad_adjustment_is_refused_naming_the_field(values: dict[str, object], field: str) -> None:
    from govshare.web.forms import validated

    with pytest.raises(Invalid) as refused:
        validated(AdjustmentIn, {"organization_id": 1, **values})
    assert refused.value.field == field


def test_adjusting_something_not_evaluated_is_refused(db: Session) -> None:
    e = evaluated(db)
    with pytest.raises(Invalid) as refused:
        results.adjust(
            db,
            actor=e.op,
            period=SEPTEMBER,
            data=AdjustmentIn(organization_id=e.county_office.id, points=2, reason="县级部门单列"),
        )
    assert refused.value.field == "organization_id"


@pytest.mark.parametrize("value", ["2026-13", "26", "2026-Q5", "2026/09", "abcd"])
def test_bad_period_is_refused_naming_the_field(value: str) -> None:
    with pytest.raises(Invalid) as refused:
        scores.parse_period(value)
    assert refused.value.field == "period"


def test_periods_span_their_months() -> None:
    assert scores.parse_period("2026-Q3").months == 3
    assert scores.parse_period("2026-12").after.isoformat() == "2027-01-01"
    assert scores.parse_period("2026").label == "2026年度"


def test_a_county_is_evaluated_with_the_organisations_under_it(db: Session) -> None:
    e = evaluated(db)
    found = _evaluate(e)
    county = _unit(found, e.county.id)
    assert county.group == scores.REGIONS
    assert set(county.members) == {e.county.id, e.county_office.id}
    assert {s.code: s.facts for s in county.indicators}["availability"] == {
        "probes_ok": 0,
        "probes_failed": 1,
    }
    assert e.county_office.id not in [u.unit_id for u in found.units]


def test_a_department_sees_its_own_line_and_rank_only(db: Session) -> None:
    e = evaluated(db)
    found = results.evaluate(
        db, actor=e.steady_actor, profile=SHANGRAO, city=CITY, period=SEPTEMBER
    )
    assert [u.unit_id for u in found.units] == [e.steady.id]
    assert found.units[0].of >= 3
    with pytest.raises(NotFound):
        results.unit_detail(
            db,
            actor=e.steady_actor,
            profile=SHANGRAO,
            city=CITY,
            period=SEPTEMBER,
            unit_id=e.shaky.id,
        )


def test_only_the_operator_adjusts_and_publishes(db: Session) -> None:
    e = evaluated(db)
    with pytest.raises(Forbidden):
        results.adjust(
            db,
            actor=e.steady_actor,
            period=SEPTEMBER,
            data=AdjustmentIn(organization_id=e.steady.id, points=10, reason="给自己加分"),
        )
    with pytest.raises(Forbidden), clock.frozen(NEXT_YEAR):
        results.publish(
            db, actor=e.steady_actor, profile=SHANGRAO, city=CITY, data=PublishIn(year=2026)
        )


def test_a_year_not_over_cannot_be_published(db: Session) -> None:
    e = evaluated(db)
    with pytest.raises(Invalid) as refused:
        results.publish(db, actor=e.op, profile=SHANGRAO, city=CITY, data=PublishIn(year=2026))
    assert refused.value.field == "year"


def test_standing_for_it_projects_reads_the_latest_published_year(db: Session) -> None:
    e = evaluated(db)
    live = results.standing(db, actor=e.op, profile=SHANGRAO, city=CITY, organization_id=e.shaky.id)
    assert live is not None and not live.published
    with clock.frozen(NEXT_YEAR):
        results.publish(db, actor=e.op, profile=SHANGRAO, city=CITY, data=PublishIn(year=2026))
        found = results.standing(
            db, actor=e.op, profile=SHANGRAO, city=CITY, organization_id=e.county_office.id
        )
    assert found is not None
    assert (found.year, found.published, found.unit) == (2026, True, "青山县人民政府")
