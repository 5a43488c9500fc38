"""Sharing JSON API, one module per topic; `router` gathers them (mounted under /api/v1)."""

from __future__ import annotations

from fastapi import APIRouter

from govshare.sharing.api import applications, cases, grants, usage

router = APIRouter()
for _module in (applications, grants, usage, cases):
    router.include_router(_module.router)
