"""Audit scenarios for the push functions the push pages and API added (see
tests/test_audit_coverage.py); create, pause and run a push are in run_scenarios."""

from __future__ import annotations

from govshare.core import clock
from govshare.exchange.models import RunKind
from govshare.exchange.service import pushes, runs
from tests.exchange.run_scenarios import PUSH, RUNS, _push, world
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.sharing.builders import approved


def _options(w: World):
    x = world(w)
    with clock.frozen("2026-10-08T09:00:00+08:00"):
        approved(x.s, fields=["姓名", "公民身份号码"])
    return x


PUSH_SCENARIOS: dict[str, Writes | Reads] = {
    RUNS + "request_push_run": Writes(
        "exchange.run.queue",
        lambda w: runs.request_push_run(
            w.db,
            actor=(p := _push(w))[0].s.consumer_officer,
            push_id=p[1].id,
            kind=RunKind.FULL,
        ),
    ),
    PUSH + "row_key_secret": READ_ONLY,  # derives a key from the settings
    PUSH + "push_options": Reads(
        prepare=_options,
        call=lambda w: pushes.push_options(w.db, actor=w.prepared.s.consumer_officer),
    ),
    PUSH + "push_scope": Reads(
        prepare=_push,
        call=lambda w: pushes.push_scope(
            w.db, actor=w.prepared[0].s.consumer_officer, push_id=w.prepared[1].id
        ),
    ),
}
