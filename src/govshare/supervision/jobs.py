"""Scheduled supervision (SUP-2): each hour the job workers probe the registered interfaces
and databases, detect violations and circulate the notices past their deadline
(`core.scheduler.TASKS`); `govshare supervision probe|detect|escalate` run them once, for cron.

Probing reaches out to other servers, so it runs between two short transactions, never inside
one: the targets are read, probed (a few at a time, each with a short timeout), and the
outcomes kept. Detection and escalation are one transaction each and idempotent: a finding is
updated, not doubled, and a notice is circulated once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.supervision.service import findings, notices, probes

SCHEDULER = Actor(label="job:supervision", roles=frozenset({Role.SYSTEM}))
PARALLEL_PROBES = 8  # targets probed at once, so a round of many is not many timeouts long


def probe(runtime: Runtime, *, actor: Actor = SCHEDULER) -> str:
    """One round of probes of every registered interface and database."""
    with runtime.transaction() as db_session:
        targets = probes.targets(db_session, actor=actor, settings=runtime.settings)
    if not targets:
        return "probed 0"
    with ThreadPoolExecutor(max_workers=min(PARALLEL_PROBES, len(targets))) as pool:
        outcomes = list(pool.map(probes.probe, targets))
    with runtime.transaction() as db_session:
        probes.record_probes(db_session, actor=actor, outcomes=outcomes)
    return f"probed {len(outcomes)}, unreachable {sum(not o.ok for o in outcomes)}"


def detect(runtime: Runtime, *, actor: Actor = SCHEDULER) -> findings.DetectionResult:
    """One detection run under the active profile, in its own transaction."""
    with runtime.transaction() as db_session:
        return findings.detect(db_session, actor=actor, profile=runtime.profile)


def escalate(runtime: Runtime, *, actor: Actor = SCHEDULER) -> str:
    """Circulates the notices past their deadline, in the city's name."""
    with runtime.transaction() as db_session:
        circulated = notices.escalate_due(db_session, actor=actor, city_name=runtime.city_name)
        numbers = [n.circular_number for n in circulated]
    return f"circulated {len(numbers)}" + (f": {', '.join(map(str, numbers))}" if numbers else "")
