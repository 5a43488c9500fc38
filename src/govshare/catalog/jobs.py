"""Scheduled catalog work: announced changes and retirements take effect on their date.

`govshare catalog apply-due` runs it once (for cron); the job workers run it every hour
(`govshare.core.scheduler`). It is idempotent and safe when several processes run
it at once: due rows are locked, and a row already made effective no longer matches.
"""

from __future__ import annotations

from govshare.catalog.service import retirements
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime

SCHEDULER = Actor(label="job:catalog.apply_due", roles=frozenset({Role.SYSTEM}))


def apply_due(runtime: Runtime) -> retirements.DueResult:
    """One run, in its own transaction."""
    with runtime.transaction() as db_session:
        return retirements.apply_due_changes(db_session, actor=SCHEDULER)
