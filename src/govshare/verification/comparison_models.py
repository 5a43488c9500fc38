"""Tables of comparisons (比对, 一数一源 多元校核, VER-3): definitions, runs, mismatch cases.

A comparison is defined by the platform operator between two table resources of different
departments, each bound and synchronised into the data resource center: the key mapping, the
compared items with their normalisation, and for each item the side whose department is its
authoritative source (一数一源). Each run records its figures; each key that does not match
becomes a case (mismatch) for the department that must settle it, with a deadline in working
days. A later run that no longer finds a case's key closes it as gone, so the mismatch count
of the history falls as departments correct their sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from govshare.catalog.models import Labelled, Resource
from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.identity.models import Organization
from govshare.verification.models import Evidence

LABELS: dict[str, dict[str, str]] = {
    "Side": {"left": "左方", "right": "右方"},
    "Schedule": {"none": "仅手动", "daily": "每日", "weekly": "每周"},
    "RunState": {"running": "比对中", "succeeded": "已完成", "failed": "失败"},
    "RunTrigger": {"manual": "手动", "scheduled": "定时"},
    "MismatchKind": {
        "differs": "数据项不一致",
        "only_left": "仅左方有记录",
        "only_right": "仅右方有记录",
        "duplicate": "主键重复",
    },
    "MismatchState": {
        "open": "待处理",
        "corrected": "已在源头更正，待复核",
        "disputed": "有异议，待平台协调",
        "settled": "已协调办结",
        "gone": "复核一致，已消除",
    },
}


class Side(Labelled):
    LEFT = "left"
    RIGHT = "right"

    @property
    def other(self) -> Side:
        return Side.RIGHT if self is Side.LEFT else Side.LEFT


class Schedule(Labelled):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"


class RunState(Labelled):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RunTrigger(Labelled):
    MANUAL = "manual"
    SCHEDULED = "scheduled"


class MismatchKind(Labelled):
    DIFFERS = "differs"
    ONLY_LEFT = "only_left"
    ONLY_RIGHT = "only_right"
    DUPLICATE = "duplicate"


class MismatchState(Labelled):
    OPEN = "open"  # waiting for the department's answer
    CORRECTED = "corrected"  # corrected at source, the next run will tell
    DISPUTED = "disputed"  # the department disputes with evidence; the operator mediates
    SETTLED = "settled"  # closed by the operator's mediation
    GONE = "gone"  # closed: a later run no longer found it

    @property
    def closed(self) -> bool:
        return self in (MismatchState.SETTLED, MismatchState.GONE)


LIVE_STATES = (MismatchState.OPEN, MismatchState.CORRECTED, MismatchState.DISPUTED)


class Comparison(Base):
    """A comparison (比对) between two departments' table resources in the center.

    `keys`: [{name, left, right, normalise}] and `items`: [{name, left, right, normalise,
    authority}], where left and right are data items of each resource (their center columns
    come from the bindings) and `authority` is the side whose department is the item's
    authoritative source. `key_authority`, if set, is the side authoritative for the records'
    existence (who decides whether a key should exist at all)."""

    __tablename__ = "verification_comparison"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    left_resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    right_resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    keys: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    key_authority: Mapped[Side | None] = mapped_column(str_enum(Side, 8))
    schedule: Mapped[Schedule] = mapped_column(str_enum(Schedule, 8))
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(120))

    left_resource: Mapped[Resource] = relationship(foreign_keys=[left_resource_id], lazy="joined")
    right_resource: Mapped[Resource] = relationship(foreign_keys=[right_resource_id], lazy="joined")

    def resource(self, side: Side) -> Resource:
        return self.left_resource if side is Side.LEFT else self.right_resource

    def department(self, side: Side | str) -> str:
        """The short name of the department holding `side` (its name when it has none)."""
        provider = self.resource(Side(side)).provider
        return provider.short_name or provider.name


class ComparisonRunRecord(Base):
    """One run of a comparison and its figures (`differing_by_item`: {item: keys})."""

    __tablename__ = "verification_comparison_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("verification_comparison.id"), index=True)
    trigger: Mapped[RunTrigger] = mapped_column(str_enum(RunTrigger, 16))
    state: Mapped[RunState] = mapped_column(str_enum(RunState, 16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(120))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    path: Mapped[str | None] = mapped_column(String(16))  # how the engine found them
    left_rows: Mapped[int] = mapped_column(Integer, default=0)
    right_rows: Mapped[int] = mapped_column(Integer, default=0)
    left_blank_keys: Mapped[int] = mapped_column(Integer, default=0)
    right_blank_keys: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    equal: Mapped[int] = mapped_column(Integer, default=0)
    differing: Mapped[int] = mapped_column(Integer, default=0)
    only_left: Mapped[int] = mapped_column(Integer, default=0)
    only_right: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_keys_left: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_keys_right: Mapped[int] = mapped_column(Integer, default=0)
    differing_by_item: Mapped[dict[str, int]] = mapped_column(JSON)
    cases_opened: Mapped[int] = mapped_column(Integer, default=0)
    cases_gone: Mapped[int] = mapped_column(Integer, default=0)
    cases_live: Mapped[int] = mapped_column(Integer, default=0)  # not closed after the run
    error: Mapped[str] = mapped_column(Text, default="")

    @property
    def mismatches(self) -> int:
        """Keys that are not a clean match (what the history's chart shows)."""
        return (
            self.differing
            + self.only_left
            + self.only_right
            + self.duplicate_keys_left
            + self.duplicate_keys_right
        )


def names_text(items: Sequence[dict[str, Any]]) -> str:
    """A case's item names as `Mismatch.item_names` holds them: "|姓名|户籍地址|"."""
    return "|" + "".join(f"{i['item']}|" for i in items)


class Mismatch(Base):
    """A mismatch (比对不一致) as a case for the department that must settle it: correct
    its source, or dispute with evidence for the operator to mediate, by `due_on`.

    `key` holds the normalised key parts (`key_text` joins them for matching); `items`:
    [{item, left, right}] with each side's value as found, `item_names` their names
    (`names_text`). One case per comparison, key,
    kind and settling side: a run that finds it again updates it, never duplicates it."""

    __tablename__ = "verification_mismatch"
    __table_args__ = (Index("ix_verification_mismatch_key", "comparison_id", "key_text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("verification_comparison.id"))
    found_run_id: Mapped[int] = mapped_column(ForeignKey("verification_comparison_run.id"))
    last_seen_run_id: Mapped[int] = mapped_column(
        ForeignKey("verification_comparison_run.id"), index=True
    )
    closed_run_id: Mapped[int | None] = mapped_column(ForeignKey("verification_comparison_run.id"))
    key: Mapped[list[str]] = mapped_column(JSON)
    key_text: Mapped[str] = mapped_column(String(500))
    kind: Mapped[MismatchKind] = mapped_column(str_enum(MismatchKind, 16))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # the items' names as "|姓名|户籍地址|", so that cases filter by item in SQL
    item_names: Mapped[str] = mapped_column(String(2000), default="")
    side: Mapped[Side] = mapped_column(str_enum(Side, 8))  # the side that settles it
    department_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    state: Mapped[MismatchState] = mapped_column(str_enum(MismatchState, 16), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    answer: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(120))
    mediation: Mapped[str] = mapped_column(Text, default="")
    mediated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mediated_by: Mapped[str | None] = mapped_column(String(120))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    comparison: Mapped[Comparison] = relationship(lazy="joined")
    department: Mapped[Organization] = relationship(lazy="joined")
    attachments: Mapped[list[Evidence]] = relationship(
        primaryjoin=lambda: Mismatch.id == foreign(Evidence.mismatch_id),
        order_by=lambda: Evidence.id,
        lazy="selectin",
        viewonly=True,
    )
