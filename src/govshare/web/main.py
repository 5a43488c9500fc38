"""ASGI entry point for uvicorn (`govshare.web.main:app`): the application plus the
background schedule of periodic work (catalog changes taking effect, sharing reminders)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from govshare.catalog import jobs as catalog_jobs
from govshare.core import scheduler
from govshare.sharing import jobs as sharing_jobs
from govshare.web.app import create_app

app = create_app()
_stop = threading.Event()
TASKS: list[scheduler.Task] = [
    ("catalog.apply_due", catalog_jobs.apply_due),
    ("sharing.reminders", sharing_jobs.send_reminders),
]


@asynccontextmanager
async def _lifespan(application: FastAPI) -> AsyncIterator[None]:
    scheduler.start(application.state.runtime, _stop, TASKS)
    yield
    _stop.set()


app.router.lifespan_context = _lifespan
