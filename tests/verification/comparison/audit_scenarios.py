"""Audit scenarios for the comparison services (see tests/test_audit_coverage.py), on a real
SQLite center in a temporary folder."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from govshare.core import clock
from govshare.core.db import make_engine
from govshare.exchange.center import Center
from govshare.verification.comparison_jobs import SCHEDULER
from govshare.verification.comparison_models import Comparison, Mismatch, MismatchKind
from govshare.verification.comparison_schemas import CaseAnswerIn, MediationIn
from govshare.verification.service import comparisons
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.verification.comparison.cases import (
    ADDRESS,
    NAME,
    PROFILE,
    Compared,
    compared_world,
    comparison_in,
    defined,
)

CMP = "govshare.verification.service.comparisons."
RUN_AT = "2026-09-28T09:30:00+08:00"


def _center() -> Center:
    folder = Path(tempfile.mkdtemp(prefix="govshare-comparison-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Center(make_engine(f"sqlite:///{folder / 'center.db'}"), None)


def _defined(w: World) -> tuple[Compared, Comparison]:
    c = compared_world(w.db, _center(), op=w.op)
    return c, defined(c)


def _ran(w: World) -> tuple[Compared, Comparison, dict[str, Mismatch]]:
    c, comparison = _defined(w)
    with clock.frozen(RUN_AT):
        comparisons.run_now(
            w.db, actor=w.op, profile=PROFILE, center=c.center, comparison_id=comparison.id
        )
    cases = comparisons.list_mismatches(w.db, actor=w.op, kind=MismatchKind.DIFFERS)
    return c, comparison, {m.key[0]: m for m in cases}


def _disputed(w: World) -> tuple[Compared, Comparison, dict[str, Mismatch]]:
    c, comparison, cases = _ran(w)
    comparisons.answer_case(
        w.db,
        actor=c.s.provider_officer,
        mismatch_id=cases[ADDRESS].id,
        data=CaseAnswerIn(corrected=False, answer="以户籍登记为准", evidence="户籍登记表"),
    )
    return c, comparison, cases


def _mediate(w: World) -> None:
    _, _, cases = _disputed(w)
    comparisons.mediate(
        w.db,
        actor=w.op,
        profile=PROFILE,
        mismatch_id=cases[ADDRESS].id,
        data=MediationIn(outcome="settle", note="经协调，以公安登记为准"),
    )


def _update(w: World) -> None:
    c, comparison = _defined(w)
    comparisons.update(
        w.db,
        actor=w.op,
        center=c.center,
        comparison_id=comparison.id,
        data=comparison_in(c, schedule="weekly"),
    )


def _run_due(w: World) -> None:
    c = compared_world(w.db, _center(), op=w.op)
    with clock.frozen(RUN_AT):
        defined(c, schedule="daily")
        assert comparisons.run_due(w.db, actor=SCHEDULER, profile=PROFILE, center=c.center)


SCENARIOS: dict[str, Writes | Reads] = {
    CMP + "define": Writes("verification.comparison.define", _defined),
    CMP + "update": Writes("verification.comparison.update", _update),
    CMP + "run_now": Writes("verification.comparison.run", _ran),
    CMP + "run_due": Writes("verification.comparison.run", _run_due),
    CMP + "answer_case": Writes("verification.mismatch.answer", _disputed),
    CMP + "mediate": Writes("verification.mismatch.mediate", _mediate),
    CMP + "settling_sides": READ_ONLY,
    CMP + "is_overdue": READ_ONLY,
    CMP + "get_comparison": Reads(
        lambda w: comparisons.get_comparison(w.db, actor=w.op, comparison_id=w.prepared[1].id),
        prepare=_ran,
    ),
    CMP + "list_comparisons": Reads(
        lambda w: comparisons.list_comparisons(w.db, actor=w.op), prepare=_ran
    ),
    CMP + "history": Reads(
        lambda w: comparisons.history(w.db, actor=w.op, comparison_id=w.prepared[1].id),
        prepare=_ran,
    ),
    CMP + "last_run": Reads(
        lambda w: comparisons.last_run(w.db, actor=w.op, comparison_id=w.prepared[1].id),
        prepare=_ran,
    ),
    CMP + "get_mismatch": Reads(
        lambda w: comparisons.get_mismatch(w.db, actor=w.op, mismatch_id=w.prepared[2][NAME].id),
        prepare=_ran,
    ),
    CMP + "list_mismatches": Reads(
        lambda w: comparisons.list_mismatches(w.db, actor=w.op, overdue=True), prepare=_ran
    ),
    CMP + "count_mismatches": Reads(
        lambda w: comparisons.count_mismatches(w.db, actor=w.op, kind=MismatchKind.DIFFERS),
        prepare=_ran,
    ),
}
