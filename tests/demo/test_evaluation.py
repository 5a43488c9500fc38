"""The demo city's evaluation: scores from the facts the other steps left, and the
operator's two adjustments with their reasons."""

from __future__ import annotations

from govshare import demo
from govshare.core.permissions import Actor
from govshare.evaluation.models import Adjustment
from govshare.evaluation.service import results, scores
from tests.demo.conftest import City


def test_scores_and_adjustments(city: City) -> None:
    with city.session() as db:
        year = scores.parse_period("")
        found = results.evaluate(
            db,
            actor=Actor.command_line(),
            profile=city.runtime.profile,
            city=city.runtime.city_name,
            period=year,
        )
        by_name = {u.name: u for u in found.units}
        assert by_name["江州市卫生健康委员会"].adjustment == 2
        assert by_name["江州市住房和城乡建设局"].adjustment == -3
        assert "青山县人民政府" in by_name and "江州市人民政府" not in by_name
        # facts the demo left show in the scores
        facts = {u.name: {s.code: sum(s.facts.values()) for s in u.indicators} for u in found.units}
        assert any(f["opening"] for f in facts.values())
        assert any(f["violations"] for f in facts.values())
        assert len({u.total for u in found.group(scores.DEPARTMENTS)}) > 3
    assert demo.evaluation.build(city.runtime) is False  # built once
    with city.session() as db:
        assert db.query(Adjustment).count() == 2
