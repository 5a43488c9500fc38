"""Inbox page: the signed-in user's notices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from govshare.core.inbox import service
from govshare.core.inputs import Id, Page
from govshare.web.deps import DB, PageActor
from govshare.web.templating import redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/inbox", response_class=HTMLResponse)
def inbox(
    request: Request, db_session: DB, actor: PageActor, page: Page = 1, unread: bool = False
) -> Response:
    found = service.list_notifications(db_session, actor=actor, page=page, unread_only=unread)
    return render(request, "inbox/inbox.html", {"inbox": found, "unread_only": unread})


@router.post("/inbox/{notification_id}/open")
def open_notice(db_session: DB, actor: PageActor, notification_id: Id) -> Response:
    notice = service.get_notification(db_session, actor=actor, notification_id=notification_id)
    target = notice.link or "/inbox"
    if notice.read_at is None:
        service.mark_read(db_session, actor=actor, notification_id=notification_id)
    return redirect(target)


@router.post("/inbox/read-all")
def read_all(db_session: DB, actor: PageActor, csrf_token: Annotated[str, Form()] = "") -> Response:
    marked = service.mark_read(db_session, actor=actor)
    return redirect("/inbox", flash=f"已将 {marked} 条消息标为已读")
