"""The background schedule of a served platform: each domain's periodic work, run in one
thread every hour (catalog changes taking effect, sharing deadline reminders). Each task is
idempotent and runs in its own transaction; a failure is logged and retried next time.
The same tasks run from the command line for cron."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from govshare.core.runtime import Runtime

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 3600

Task = tuple[str, Callable[[Runtime], object]]


def run_once(runtime: Runtime, tasks: Sequence[Task]) -> None:
    """Runs every task once; one failing does not stop the others."""
    for name, task in tasks:
        try:
            result = task(runtime)
            log.info("%s: %s", name, result)
        except Exception:
            log.exception("%s failed", name)


def start(runtime: Runtime, stop: threading.Event, tasks: Sequence[Task]) -> threading.Thread:
    """Runs the tasks now and then every hour until `stop` is set."""

    def loop() -> None:
        while not stop.is_set():
            run_once(runtime, tasks)
            stop.wait(INTERVAL_SECONDS)

    thread = threading.Thread(target=loop, name="govshare-scheduler", daemon=True)
    thread.start()
    return thread
