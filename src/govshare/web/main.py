"""ASGI entry point for uvicorn: `govshare.web.main:app`."""

from govshare.web.app import create_app

app = create_app()
