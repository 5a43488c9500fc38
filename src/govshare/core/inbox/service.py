"""Inbox: other services address notices to people, organisations or roles; each person
reads and marks their own. Sending is part of the caller's audited change, so `notify`
writes no entry of its own; marking as read is the reader's bookkeeping, audited once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import NotFound, Unauthenticated
from govshare.core.inbox.models import Notification
from govshare.core.permissions import Actor, Role
from govshare.identity.models import User, UserRole

PAGE_SIZE = 30


@dataclass(frozen=True)
class Notice:
    """What to tell: a short title, an optional body and a link to where to act."""

    kind: str
    title: str
    body: str = ""
    link: str | None = None


def recipients(
    db_session: Session,
    *,
    organization_ids: Iterable[int] = (),
    roles: Iterable[Role] = (),
    user_ids: Iterable[int] = (),
) -> set[int]:
    """Active users of the organisations, holders of the roles, and the named users."""
    found = set(user_ids)
    org_ids = set(organization_ids)
    if org_ids:
        found |= set(
            db_session.execute(
                select(User.id).where(User.organization_id.in_(org_ids), User.active.is_(True))
            ).scalars()
        )
    role_values = [r.value for r in roles]
    if role_values:
        found |= set(
            db_session.execute(
                select(User.id)
                .join(UserRole, UserRole.user_id == User.id)
                .where(UserRole.role.in_(role_values), User.active.is_(True))
            ).scalars()
        )
    return found


def notify(db_session: Session, *, user_ids: Iterable[int], notice: Notice) -> int:
    """Delivers `notice` to each user (once each); returns how many received it."""
    now = clock.now()
    targets = sorted(set(user_ids))
    db_session.add_all(
        Notification(
            recipient_id=uid,
            kind=notice.kind,
            title=notice.title,
            body=notice.body,
            link=notice.link,
            created_at=now,
        )
        for uid in targets
    )
    db_session.flush()
    return len(targets)


@dataclass(frozen=True)
class InboxPage:
    rows: list[Notification]
    total: int
    unread: int
    page: int
    pages: int


def _own(actor: Actor) -> int:
    if actor.user_id is None:
        raise Unauthenticated("请先登录")
    return actor.user_id


def unread_count(db_session: Session, *, actor: Actor) -> int:
    """How many of the actor's notices are unread (the header badge)."""
    if actor.user_id is None:
        return 0
    return db_session.execute(
        select(func.count())
        .select_from(Notification)
        .where(Notification.recipient_id == actor.user_id, Notification.read_at.is_(None))
    ).scalar_one()


def list_notifications(
    db_session: Session, *, actor: Actor, page: int = 1, unread_only: bool = False
) -> InboxPage:
    """The actor's own notices, newest first."""
    uid = _own(actor)
    where = [Notification.recipient_id == uid]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = db_session.execute(
        select(func.count()).select_from(Notification).where(*where)
    ).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = (
        db_session.execute(
            select(Notification)
            .where(*where)
            .order_by(Notification.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
        .scalars()
        .all()
    )
    return InboxPage(list(rows), total, unread_count(db_session, actor=actor), page, pages)


def get_notification(db_session: Session, *, actor: Actor, notification_id: int) -> Notification:
    """One of the actor's own notices."""
    uid = _own(actor)
    found = db_session.get(Notification, notification_id)
    if found is None or found.recipient_id != uid:
        raise NotFound(f"消息 {notification_id} 不存在", field="notification_id")
    return found


def mark_read(db_session: Session, *, actor: Actor, notification_id: int | None = None) -> int:
    """Marks one notice (or, without an id, all of the actor's notices) as read."""
    uid = _own(actor)
    stmt = update(Notification).where(
        Notification.recipient_id == uid, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        get_notification(db_session, actor=actor, notification_id=notification_id)
        stmt = stmt.where(Notification.id == notification_id)
    changed = db_session.execute(stmt.values(read_at=clock.now())).rowcount
    record(
        db_session,
        actor=actor,
        action="inbox.read",
        object_type="notification",
        object_id=notification_id,
        details={"marked": changed},
    )
    return changed
