"""The scheduled comparisons (比对, VER-3): each hour the job workers run the daily and weekly
comparisons that are due (`core.scheduler.TASKS`), in one platform transaction."""

from __future__ import annotations

from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.verification.service import comparisons

SCHEDULER = Actor(label="job:verification.comparisons", roles=frozenset({Role.SYSTEM}))


def run_due(runtime: Runtime, *, actor: Actor = SCHEDULER) -> str:
    """Runs every comparison due; says how many ran and how many of them failed."""
    with runtime.transaction() as db_session:
        runs = comparisons.run_due(
            db_session, actor=actor, profile=runtime.profile, center=runtime.center
        )
        failed = sum(run.error != "" for run in runs)
    return f"comparisons run {len(runs)}, failed {failed}"
