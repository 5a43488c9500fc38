"""Audit scenarios for the evaluation services (see tests/test_audit_coverage.py)."""

from __future__ import annotations

from govshare.core import clock
from govshare.evaluation.schemas import AdjustmentIn, PublishIn
from govshare.evaluation.service import results, scores
from tests.evaluation.builders import CITY, SHANGRAO
from tests.scenarios import READ_ONLY, Reads, World, Writes

RES = "govshare.evaluation.service.results."
SCO = "govshare.evaluation.service.scores."
SEPTEMBER = scores.parse_period("2026-09")
NEXT_YEAR = "2027-01-11T10:00:00+08:00"


def _adjust(w: World) -> None:
    data = AdjustmentIn(organization_id=w.dept.id, points=2, reason="按期报送整改材料")
    results.adjust(w.db, actor=w.op, period=SEPTEMBER, data=data)


def _publish(w: World) -> None:
    with clock.frozen(NEXT_YEAR):
        results.publish(w.db, actor=w.op, profile=SHANGRAO, city=CITY, data=PublishIn(year=2026))


def _published(w: World) -> None:
    _publish(w)


SCENARIOS: dict[str, Writes | Reads] = {
    RES + "adjust": Writes("evaluation.adjust", _adjust),
    RES + "publish": Writes("evaluation.publish", _publish),
    RES + "report": Writes(
        "evaluation.export",
        lambda w: results.report(
            w.db, actor=w.op, profile=SHANGRAO, city=CITY, period=SEPTEMBER, kind="pdf"
        ),
    ),
    RES + "evaluate": Reads(
        lambda w: results.evaluate(
            w.db, actor=w.op, profile=SHANGRAO, city=CITY, period=scores.parse_period("2026")
        ),
        prepare=_published,
    ),
    RES + "unit_detail": Reads(
        lambda w: results.unit_detail(
            w.db, actor=w.op, profile=SHANGRAO, city=CITY, period=SEPTEMBER, unit_id=w.dept.id
        )
    ),
    RES + "list_snapshots": Reads(lambda w: results.list_snapshots(w.db, actor=w.op)),
    RES + "standing": Reads(
        lambda w: results.standing(
            w.db, actor=w.op, profile=SHANGRAO, city=CITY, organization_id=w.dept.id
        ),
        prepare=_published,
    ),
    SCO + "parse_period": READ_ONLY,
    SCO + "indicator_definition": READ_ONLY,
    SCO + "fact_labels": READ_ONLY,
    SCO + "rank": READ_ONLY,
    SCO + "units": Reads(lambda w: scores.units(w.db)),
    SCO + "facts_by_organization": Reads(lambda w: scores.facts_by_organization(w.db, SEPTEMBER)),
    SCO + "compute": Reads(lambda w: scores.compute(w.db, SHANGRAO, SEPTEMBER)),
}
