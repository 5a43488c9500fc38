"""The platform's periodic work, in one list: each task, how often it runs, and where.

Every periodic task runs on the job workers (`govshare worker`, Huey periodic tasks on the
platform database; `govshare demo` works the queue in-process), never in the web processes,
so a city with several app processes runs each task once. Huey's scheduler runs in every
worker and would enqueue a task once per worker, so a tick is claimed first: a row per
(task, tick) in `periodic_tick`, whose primary key lets one insert win. A worker that loses
the claim skips the tick. Each task is idempotent and catches up on what is due, so a tick
lost to a crash is made good by the next. Each also has a CLI command for cron.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.runtime import Runtime
from govshare.core.scheduler.models import PeriodicTick

log = logging.getLogger(__name__)
KEEP_TICKS = timedelta(days=2)  # claims older than this are pruned as new ones are made


@dataclass(frozen=True)
class PeriodicTask:
    """A periodic task: its name (the job's and the tick's), its period and its function, a
    `module:function` taking the runtime (imported when it runs, so core imports no domain)."""

    name: str
    every: str  # "minute" or "hour"
    function: str
    minute: int = 0  # for hourly tasks: the minute past the hour it runs at

    def load(self) -> Callable[[Runtime], object]:
        module, _, name = self.function.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


TASKS: tuple[PeriodicTask, ...] = (
    # queue due syncs and pushes, recover runs whose process died
    PeriodicTask("exchange.tick", "minute", "govshare.exchange.jobs:tick"),
    # announced catalog changes and retirements take effect (`govshare catalog apply-due`)
    PeriodicTask("catalog.apply_due", "hour", "govshare.catalog.jobs:apply_due", minute=1),
    # deadline reminders, overdue notices, grants about to expire (`govshare sharing remind`)
    PeriodicTask("sharing.reminders", "hour", "govshare.sharing.jobs:send_reminders", minute=2),
    # the open portal follows the platform: new and changed open data, withdrawals
    # (`govshare opendata publish`)
    PeriodicTask("opendata.publish", "hour", "govshare.opendata.jobs:publish", minute=3),
    # the public's applications for conditional open data read from the portal, with their
    # deadlines, and the providers' answers delivered to it (`govshare opendata applications`)
    PeriodicTask("opendata.applications", "minute", "govshare.opendata.jobs:applications"),
    # daily and weekly comparisons between departments' data that are due (比对, VER-3)
    PeriodicTask(
        "verification.comparisons",
        "hour",
        "govshare.verification.comparison_jobs:run_due",
        minute=4,
    ),
    # the day's backup into GOVSHARE_BACKUP_DIR once past GOVSHARE_BACKUP_HOUR, keeping the
    # newest GOVSHARE_BACKUP_KEEP (SR§25 灾难恢复; `govshare backup` by hand)
    PeriodicTask("backup.daily", "hour", "govshare.backup.jobs:daily", minute=5),
    # the certificate revocation list regenerated once half its validity has passed, so it
    # never outlives its next update (`govshare pki crl`)
    PeriodicTask("pki.crl", "hour", "govshare.pki.jobs:renew_crl", minute=6),
    # registered interfaces and databases probed, their availability kept
    # (`govshare supervision probe`)
    PeriodicTask("supervision.probe", "hour", "govshare.supervision.jobs:probe", minute=5),
    # violations found in the other domains' facts, each new one a rectification notice
    # (`govshare supervision detect`)
    PeriodicTask("supervision.detect", "hour", "govshare.supervision.jobs:detect", minute=7),
    # notices left past their deadline circulated (通报, `govshare supervision escalate`)
    PeriodicTask("supervision.escalate", "hour", "govshare.supervision.jobs:escalate", minute=8),
    # identities and CRLs exchanged with every peered platform (`govshare federation hello`)
    PeriodicTask("federation.hello", "hour", "govshare.federation.transport:greet_all", minute=9),
    # decisions on requests sent to the upper platform, and its grants mirrored (SHR-8)
    PeriodicTask("federation.requests", "minute", "govshare.federation.requests:pull_all"),
    # the peers' catalog changes and retirements mirrored here, this platform's and its lower
    # platforms' passed upwards (级联目录, `govshare federation sync-catalogs`)
    PeriodicTask("federation.catalogs", "minute", "govshare.federation.catalogs:sync_task"),
    # the audit chain's head signed into audit_checkpoint when it moved (`govshare audit
    # checkpoint`); the audit sequencer is a loop of its own in each worker, not a task here
    PeriodicTask("audit.checkpoint", "minute", "govshare.core.audit.jobs:checkpoint"),
    # the nginx data plane's access log into the usage and audit logs, from where it stopped
    # (`govshare gateway ingest`; nothing when no access log is there)
    PeriodicTask("gateway.ingest", "minute", "govshare.exchange.gateway_ingest:job"),
)


def tick_of(task: PeriodicTask, moment: datetime) -> datetime:
    """The tick a moment belongs to: the start of its minute, or of its hour."""
    moment = clock.as_utc(moment).replace(second=0, microsecond=0)
    return moment.replace(minute=0) if task.every == "hour" else moment


def claim(db_session: Session, task: PeriodicTask, tick_at: datetime, worker: str) -> bool:
    """Claims the tick for this worker; False when another worker claimed it first."""
    dialect = db_session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    claimed = db_session.execute(
        insert(PeriodicTick.__table__)
        .values(task=task.name, tick_at=tick_at, claimed_at=clock.now(), claimed_by=worker)
        .on_conflict_do_nothing()
        .returning(PeriodicTick.__table__.c.task)
    ).first()
    db_session.execute(
        delete(PeriodicTick).where(
            PeriodicTick.task == task.name, PeriodicTick.tick_at < tick_at - KEEP_TICKS
        )
    )
    return claimed is not None


def run(runtime: Runtime, task: PeriodicTask, *, worker: str | None = None) -> str:
    """One tick of the task: claimed in its own transaction, then run (the task opens its
    own). Returns what happened, for the worker's log."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    tick_at = tick_of(task, clock.now())
    with runtime.transaction() as db_session:
        if not claim(db_session, task, tick_at, worker):
            return f"{task.name} {tick_at:%Y-%m-%d %H:%M}: already run by another worker"
    result = task.load()(runtime)
    log.info("%s: %s", task.name, result)
    return f"{task.name} {tick_at:%Y-%m-%d %H:%M}: {result}"
