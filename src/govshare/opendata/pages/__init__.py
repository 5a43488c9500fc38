"""Open-data pages, one module per topic; `router` gathers them: `releases` (opening a
resource), `applications` (the public's applications for conditional open data) and
`requests` (the public's requests for data not open yet)."""

from __future__ import annotations

from fastapi import APIRouter

from govshare.opendata.pages import applications, releases, requests

router = APIRouter(include_in_schema=False)
for _module in (releases, applications, requests):
    router.include_router(_module.router)
