"""Tables of evaluation (考核评价): the operator's adjustments to a period's scores, and the
snapshot a year's evaluation is frozen into when published.

Scores themselves are not stored while a period is open: they are computed from the facts
and the profile's indicators each time, so a corrected fact or a changed weight shows at
once. Publishing a year copies everything shown — the indicators as they were, each unit's
facts, scores, adjustments and rank — into `evaluation_snapshot`, which nothing changes
afterwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.core.db import Base, UTCDateTime
from govshare.identity.models import Organization


class Adjustment(Base):
    """An adjustment (考核加减分) the operator made to a unit's score for a period, with the
    reason; never edited: a correction is another adjustment."""

    __tablename__ = "evaluation_adjustment"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(10), index=True)  # 2026, 2026-Q3, 2026-09
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    points: Mapped[float] = mapped_column(Float)  # added to the total (negative: deducted)
    reason: Mapped[str] = mapped_column(Text)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime)
    made_by: Mapped[str] = mapped_column(String(120))

    organization: Mapped[Organization] = relationship(lazy="joined")


class Snapshot(Base):
    """A year's evaluation as published (年度考核结果): frozen, whatever happens to the facts,
    the profile's weights or adjustments afterwards."""

    __tablename__ = "evaluation_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[str] = mapped_column(String(120))
    profile_code: Mapped[str] = mapped_column(String(32))
    city: Mapped[str] = mapped_column(String(100))
    evaluator: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[dict[str, Any]] = mapped_column(JSON)  # indicators and rows, as shown
