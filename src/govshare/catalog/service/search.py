"""Catalog search (CAT-11). Being built: `refresh` keeps the index in line with publication."""

from __future__ import annotations

from sqlalchemy.orm import Session

from govshare.catalog.models import Resource


def refresh(db_session: Session, resource: Resource) -> None:
    """Brings the index entry of `resource` in line with its published state."""
    return None
