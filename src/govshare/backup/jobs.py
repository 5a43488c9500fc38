"""The daily backup (`core.scheduler.TASKS`): each hour the job workers ask whether the day's
backup is due — `GOVSHARE_BACKUP_DIR` set, the city's clock past `GOVSHARE_BACKUP_HOUR`, no
backup of today in the directory — and take it, keeping the newest `GOVSHARE_BACKUP_KEEP`.
A tick missed (no worker at that hour) is made good by the next."""

from __future__ import annotations

from govshare.backup.archive import archives, taken_on
from govshare.backup.create import create
from govshare.core import clock
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime

SCHEDULER = Actor(label="job:backup.daily", roles=frozenset({Role.SYSTEM}))


def daily(runtime: Runtime, *, actor: Actor = SCHEDULER) -> str:
    """Takes the day's backup when it is due; says what it did."""
    settings = runtime.settings
    if settings.backup_dir is None:
        return "off (GOVSHARE_BACKUP_DIR not set)"
    now = clock.to_city(clock.now())
    if now.hour < settings.backup_hour:
        return f"not before {settings.backup_hour:02d}:00"
    if any(taken_on(path.name) == now.date() for path in archives(settings.backup_dir)):
        return "today's backup exists"
    backup = create(runtime, actor=actor, to=settings.backup_dir, keep=settings.backup_keep)
    return f"backup {backup.path.name}, removed {len(backup.removed)}"
