"""Scheduled catalog work: announced changes and retirements take effect on their date.

`govshare catalog apply-due` runs it once (for cron); a served platform also runs it in the
background every hour (see `govshare.web.main`). It is idempotent and safe when several
processes run it at once: due rows are locked, and a row already made effective no longer
matches.
"""

from __future__ import annotations

import logging
import threading

from govshare.catalog.service import resources
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime

log = logging.getLogger(__name__)
SCHEDULER = Actor(label="job:catalog.apply_due", roles=frozenset({Role.SYSTEM}))
INTERVAL_SECONDS = 3600


def apply_due(runtime: Runtime) -> resources.DueResult:
    """One run, in its own transaction."""
    with runtime.transaction() as db_session:
        return resources.apply_due_changes(db_session, actor=SCHEDULER)


def start_background(runtime: Runtime, stop: threading.Event) -> threading.Thread:
    """Runs `apply_due` now and then every hour until `stop` is set."""

    def loop() -> None:
        while not stop.is_set():
            try:
                result = apply_due(runtime)
                if result.published or result.retired:
                    log.info(
                        "catalog changes made effective: %s %s", result.published, result.retired
                    )
            except Exception:  # a failed run is retried on the next tick, never fatal
                log.exception("catalog.apply_due failed")
            stop.wait(INTERVAL_SECONDS)

    thread = threading.Thread(target=loop, name="catalog-apply-due", daemon=True)
    thread.start()
    return thread
