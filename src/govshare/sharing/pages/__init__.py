"""Sharing pages, one module per topic; `router` gathers them."""

from __future__ import annotations

from fastapi import APIRouter

from govshare.sharing.pages import applications, cases, grants, overview, review

router = APIRouter(include_in_schema=False)
for _module in (overview, applications, review, grants, cases):
    router.include_router(_module.router)
