"""The claim of one tick of a periodic task: the row that lets one worker, and only one, run it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from govshare.core.db import Base, UTCDateTime


class PeriodicTick(Base):
    """One tick (计划任务的一次执行) of a periodic task, claimed by the worker that runs it.
    Bookkeeping, not a business fact: what the task does is audited by the task itself."""

    __tablename__ = "periodic_tick"
    __audit_exempt__ = True

    task: Mapped[str] = mapped_column(String(60), primary_key=True)
    tick_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str] = mapped_column(String(200))
