"""Catalog JSON API, one module per topic; `router` gathers them (mounted under /api/v1)."""

from __future__ import annotations

from fastapi import APIRouter

from govshare.catalog.api import changes, needs, projects, resources, search, spreadsheet, themes

router = APIRouter()
for _module in (resources, changes, needs, projects, themes, spreadsheet, search):
    router.include_router(_module.router)
