"""What the public submitted on the portal, as the platform reads it in: the rows still to
read, whether one was read already, and the platform's number for it. Shared by the
applications (`public`) and the data requests (`requests`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.service.common import next_sequence

Row = TypeVar("Row")


def waiting(portal_session: Session, model: type[Row]) -> list[Row]:
    """The portal's submitted rows, and the accepted ones too: if the platform transaction
    that read one was rolled back after the portal had been marked, it is read again (the
    platform's `portal_id` is unique, so nothing is read twice)."""
    column: Any = model
    stmt = select(model).where(column.state.in_(("submitted", "accepted"))).order_by(column.id)
    return list(portal_session.scalars(stmt))


def already_read(db_session: Session, model: type[Row], portal_id: int) -> Row | None:
    """The platform's record of the portal row `portal_id`, if it was read before."""
    column: Any = model
    return db_session.scalars(select(model).where(column.portal_id == portal_id)).one_or_none()


def number(db_session: Session, prefix: str, now: datetime) -> str:
    """The next number of `prefix` this year, never reused: KF2026000001."""
    return f"{prefix}{now.year}{next_sequence(db_session, f'{prefix}{now.year}'):06d}"
