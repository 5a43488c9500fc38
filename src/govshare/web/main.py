"""ASGI entry point for uvicorn (`govshare.web.main:app`): the application plus the
background schedule of daily work (catalog changes taking effect)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from govshare.catalog import jobs as catalog_jobs
from govshare.web.app import create_app

app = create_app()
_stop = threading.Event()


@asynccontextmanager
async def _lifespan(application: FastAPI) -> AsyncIterator[None]:
    catalog_jobs.start_background(application.state.runtime, _stop)
    yield
    _stop.set()


app.router.lifespan_context = _lifespan
