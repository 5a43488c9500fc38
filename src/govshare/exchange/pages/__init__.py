"""Exchange pages, one module per topic; `router` gathers them."""

from __future__ import annotations

from fastapi import APIRouter

from govshare.exchange.pages import (
    connections,
    delivery,
    files,
    interfaces,
    overview,
    pushes,
    source_directories,
)

router = APIRouter(include_in_schema=False)
for _module in (overview, connections, source_directories, delivery, files, interfaces, pushes):
    router.include_router(_module.router)
