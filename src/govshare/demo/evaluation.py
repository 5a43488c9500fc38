"""Demo evaluation (示范考核评价): scores need no building — they are computed from the facts
the other steps left — so the demo adds only the operator's adjustments to this year's scores,
each with its reason (texts in `demo/data/evaluation.yaml`). Built once: a city that has
adjustments is left as it is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from govshare.core.runtime import Runtime
from govshare.demo import sources
from govshare.demo.verification import Story
from govshare.evaluation.models import Adjustment
from govshare.evaluation.schemas import AdjustmentIn
from govshare.evaluation.service import results, scores
from govshare.identity.models import Organization

DATA: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "data" / "evaluation.yaml").read_text(encoding="utf-8")
)


def build(runtime: Runtime, *, progress: Callable[[str], None] = lambda _: None) -> bool:
    """Adds the operator's adjustments unless there are some; returns whether it added them."""
    with runtime.transaction() as db_session:
        if not sources.is_demo_city(db_session) or db_session.scalar(
            sa.select(sa.func.count(Adjustment.id))
        ):
            return False
        progress("考核评价")
        story = Story(runtime, db_session)
        operator = story.who("operator")
        year = scores.parse_period(str(story.today.year))
        for spec in DATA["adjustments"]:
            officer = story.users[f"{spec['department']}_officer"]
            department = db_session.get(Organization, officer.organization_id)
            assert department is not None
            data = AdjustmentIn(
                organization_id=department.id, points=spec["points"], reason=spec["reason"]
            )
            story.at(
                spec["days_ago"],
                15,
                lambda data=data: results.adjust(
                    db_session, actor=operator, period=year, data=data
                ),
            )
    return True
