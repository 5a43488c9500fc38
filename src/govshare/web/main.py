"""ASGI entry point for uvicorn (`govshare.web.main:app`). The web processes run no periodic
work: every periodic task runs on the job workers (`govshare.core.scheduler`), so a city
with several app processes runs each once."""

from __future__ import annotations

from govshare.web.app import create_app

app = create_app()
