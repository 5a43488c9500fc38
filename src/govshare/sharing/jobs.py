"""Scheduled sharing work: deadline reminders, overdue notices, grants about to expire.

`govshare sharing remind` runs it once (for cron); the job workers run it every hour
(`govshare.core.scheduler`). Each reminder is sent once: the step or grant records
the day it went out, under a row lock.
"""

from __future__ import annotations

from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.sharing.service import deadlines

SCHEDULER = Actor(label="job:sharing.reminders", roles=frozenset({Role.SYSTEM}))


def send_reminders(runtime: Runtime) -> deadlines.ReminderResult:
    """One run, in its own transaction."""
    with runtime.transaction() as db_session:
        return deadlines.send_reminders(db_session, actor=SCHEDULER)
