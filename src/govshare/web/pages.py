"""The home page: what each role needs first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from govshare.web import dashboard
from govshare.web.deps import DB, PageActor
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db_session: DB, actor: PageActor) -> HTMLResponse:
    return render(request, "home.html", dashboard.home(db_session, actor=actor))
