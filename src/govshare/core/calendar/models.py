"""Operator-entered calendar days, for years the official data does not cover yet."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from govshare.core.db import Base, UTCDateTime


class CalendarYear(Base):
    """A year whose official schedule the operator has entered (节假日安排已录入).
    Until a year is entered (or known to the official data), deadlines in it are provisional."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200))  # e.g. the State Council notice
    entered_by: Mapped[str] = mapped_column(String(120))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarDay(Base):
    """An exception to the weekday rule: a holiday on a weekday (节假日) or a working
    weekend day (调休上班). Days not listed follow Monday–Friday."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(40))
