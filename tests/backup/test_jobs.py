"""The daily backup: off without a directory; once a day from its hour, whichever tick comes
first; the newest backups kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.backup import jobs
from govshare.backup.archive import archives
from govshare.core import clock, scheduler
from govshare.core.audit.models import AuditEntry
from govshare.core.runtime import Runtime, build_runtime
from govshare.core.settings import load_settings
from tests.backup.conftest import Deployment


@pytest.fixture
def scheduled(sqlite_deployment: Deployment, tmp_path: Path) -> Iterator[Runtime]:
    """The deployment with daily backups into a directory of their own, keeping two."""
    environ = sqlite_deployment.environ | {
        "GOVSHARE_BACKUP_DIR": str(tmp_path / "backups"),
        "GOVSHARE_BACKUP_KEEP": "2",
    }
    runtime = build_runtime(load_settings(environ=environ))
    yield runtime
    runtime.engine.dispose()


def test_the_daily_backup_is_a_periodic_task() -> None:
    [task] = [t for t in scheduler.TASKS if t.name == "backup.daily"]
    assert (task.every, task.load()) == ("hour", jobs.daily)


def test_without_a_directory_there_is_no_daily_backup(sqlite_deployment: Deployment) -> None:
    assert jobs.daily(sqlite_deployment.runtime) == "off (GOVSHARE_BACKUP_DIR not set)"


def test_the_daily_backup_runs_once_a_day_and_keeps_the_newest(scheduled: Runtime) -> None:
    directory = scheduled.settings.backup_dir
    assert directory is not None
    with clock.frozen("2026-12-16T01:05:00+08:00"):
        assert jobs.daily(scheduled) == "not before 02:00"
    with clock.frozen("2026-12-16T02:05:00+08:00"):
        assert jobs.daily(scheduled) == "backup govshare-backup-20261216-020500, removed 0"
    with clock.frozen("2026-12-16T03:05:00+08:00"):
        assert jobs.daily(scheduled) == "today's backup exists"
    with clock.frozen("2026-12-17T09:05:00+08:00"):  # no worker at two: the next tick does it
        assert jobs.daily(scheduled).endswith("removed 0")
    with clock.frozen("2026-12-18T02:05:00+08:00"):
        assert jobs.daily(scheduled) == "backup govshare-backup-20261218-020500, removed 1"
    assert [p.name for p in archives(directory)] == [
        "govshare-backup-20261217-090500",
        "govshare-backup-20261218-020500",
    ]
    with Session(scheduled.engine) as db:
        entries = db.scalars(
            select(AuditEntry).where(AuditEntry.action == "backup.create").order_by(AuditEntry.seq)
        ).all()
    assert {e.actor_label for e in entries} == {"job:backup.daily"}
    assert json.loads(entries[-1].details)["removed"] == ["govshare-backup-20261216-020500"]


def test_an_unfinished_backup_left_by_a_dead_process_is_cleared(scheduled: Runtime) -> None:
    directory = scheduled.settings.backup_dir
    assert directory is not None
    leftover = directory / "govshare-backup-20261215-020500.partial"
    (leftover / "platform").mkdir(parents=True)
    with clock.frozen("2026-12-16T02:05:00+08:00"):
        jobs.daily(scheduled)
    assert [p.name for p in directory.iterdir() if not p.name.startswith(".")] == [
        "govshare-backup-20261216-020500"
    ]
