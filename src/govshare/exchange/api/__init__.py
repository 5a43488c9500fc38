"""Exchange JSON API, one module per topic; `router` gathers them (mounted under /api/v1)."""

from __future__ import annotations

from fastapi import APIRouter

from govshare.exchange.api import connections, delivery, files, interfaces, pushes

router = APIRouter()
# Delivery first: the router tries routes in order, and the keyed lookup is the busiest call.
for _module in (delivery, connections, files, interfaces, pushes):
    router.include_router(_module.router)
