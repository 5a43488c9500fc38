"""Catalog pages, one module per topic; `router` gathers them."""

from __future__ import annotations

from fastapi import APIRouter

from govshare.catalog.pages import changes, needs, projects, resources, search, spreadsheet, themes

router = APIRouter(include_in_schema=False)
for _module in (resources, changes, needs, projects, themes, spreadsheet, search):
    router.include_router(_module.router)
