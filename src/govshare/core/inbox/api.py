"""Inbox API: the caller's own notices."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from govshare.core.inbox import service
from govshare.core.inputs import Id, Page
from govshare.web.deps import DB, SignedIn

router = APIRouter(prefix="/inbox", tags=["站内消息"])


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class InboxOut(BaseModel):
    rows: list[NotificationOut]
    total: int
    unread: int
    page: int
    pages: int


@router.get("", summary="我的消息")
def inbox(db_session: DB, actor: SignedIn, page: Page = 1, unread_only: bool = False) -> InboxOut:
    found = service.list_notifications(db_session, actor=actor, page=page, unread_only=unread_only)
    return InboxOut(
        rows=[NotificationOut.model_validate(n) for n in found.rows],
        total=found.total,
        unread=found.unread,
        page=found.page,
        pages=found.pages,
    )


@router.post("/{notification_id}/read", summary="标记为已读")
def read_one(db_session: DB, actor: SignedIn, notification_id: Id) -> dict[str, int]:
    return {"marked": service.mark_read(db_session, actor=actor, notification_id=notification_id)}


@router.post("/read-all", summary="全部标记为已读")
def read_all(db_session: DB, actor: SignedIn) -> dict[str, int]:
    return {"marked": service.mark_read(db_session, actor=actor)}
