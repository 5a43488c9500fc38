"""Results (考核结果): a period's ranking and a unit's detail, the operator's adjustments with
their reasons, publishing a year as a frozen snapshot, and a department's standing where
IT projects are approved (SY§20, WH§15).

A year once published is read from its snapshot only: the facts, the profile's weights and
later adjustments no longer touch it (adjusting a published year is refused).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import Profile
from govshare.evaluation.models import Adjustment, Snapshot
from govshare.evaluation.schemas import AdjustmentIn, PublishIn
from govshare.evaluation.service import scores
from govshare.evaluation.service.scores import IndicatorScore, Period, UnitScore
from govshare.sharing.service.common import OVERSEERS, READERS

OPERATORS = (Role.PLATFORM_OPERATOR,)
EXPORT_KINDS = ("xlsx", "pdf")


@dataclass
class Result:
    """A period's evaluation as the actor may see it: live, or the published snapshot."""

    period: Period
    city: str
    evaluator: str
    profile_code: str
    indicators: list[dict[str, Any]]
    units: list[UnitScore]  # ranked, best first in each group
    published_at: datetime | None = None
    published_by: str = ""
    note: str = ""

    def group(self, group: str) -> list[UnitScore]:
        return [u for u in self.units if u.group == group]

    @property
    def groups(self) -> list[tuple[str, str, list[UnitScore]]]:
        return [
            (g, scores.GROUP_LABELS[g], self.group(g))
            for g in (scores.DEPARTMENTS, scores.REGIONS)
            if self.group(g)
        ]


def _visible(actor: Actor, units: list[UnitScore]) -> list[UnitScore]:
    if actor.has(*OVERSEERS):
        return units
    return [u for u in units if actor.organization_id in u.members]


def _adjustments(db_session: Session, period: str) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    rows = db_session.scalars(
        sa.select(Adjustment).where(Adjustment.period == period).order_by(Adjustment.id)
    )
    for a in rows:
        found.setdefault(a.organization_id, []).append(
            {
                "id": a.id,
                "points": a.points,
                "reason": a.reason,
                "made_at": clock.to_city(a.made_at).strftime("%Y-%m-%d %H:%M"),
                "made_by": a.made_by,
            }
        )
    return found


def _live(db_session: Session, profile: Profile, city: str, period: Period) -> Result:
    scored = scores.compute(db_session, profile, period)
    adjustments = _adjustments(db_session, period.key)
    for unit in scored:
        unit.adjustments = adjustments.get(unit.unit_id, [])
    return Result(
        period,
        city,
        profile.evaluation.evaluator,
        profile.code,
        [scores.indicator_definition(i) for i in profile.evaluation.indicators],
        scores.rank(scored),
    )


def _unit(data: dict[str, Any]) -> UnitScore:
    indicators = [IndicatorScore(**i) for i in data["indicators"]]
    return UnitScore(**{**data, "indicators": indicators})


def _from_snapshot(snapshot: Snapshot, period: Period) -> Result:
    content = snapshot.content
    return Result(
        period,
        snapshot.city,
        snapshot.evaluator,
        snapshot.profile_code,
        content["indicators"],
        [_unit(u) for u in content["units"]],
        snapshot.published_at,
        snapshot.published_by,
        snapshot.note,
    )


def _snapshot(db_session: Session, year: int) -> Snapshot | None:
    return db_session.scalar(sa.select(Snapshot).where(Snapshot.year == year))


def _result(
    db_session: Session, actor: Actor, profile: Profile, city: str, period: Period
) -> Result:
    snapshot = _snapshot(db_session, period.year) if period.kind == "year" else None
    found = (
        _from_snapshot(snapshot, period) if snapshot else _live(db_session, profile, city, period)
    )
    found.units = _visible(actor, found.units)
    return found


def evaluate(
    db_session: Session, *, actor: Actor, profile: Profile, city: str, period: Period
) -> Result:
    """The period's ranking: a published year from its snapshot, any other period computed
    now; a department sees its own unit's line only."""
    require(actor, *READERS, action="查看考核评价")
    return _result(db_session, actor, profile, city, period)


def unit_detail(
    db_session: Session,
    *,
    actor: Actor,
    profile: Profile,
    city: str,
    period: Period,
    unit_id: int,
) -> tuple[Result, UnitScore]:
    """One unit's evaluation with each indicator's facts; a unit the actor may not see is 404."""
    require(actor, *READERS, action="查看考核评价")
    found = _result(db_session, actor, profile, city, period)
    unit = next((u for u in found.units if u.unit_id == unit_id), None)
    if unit is None:
        raise NotFound(f"{period.label}没有编号为 {unit_id} 的考核对象", field="unit_id")
    return found, unit


def report(
    db_session: Session,
    *,
    actor: Actor,
    profile: Profile,
    city: str,
    period: Period,
    kind: str,
) -> Result:
    """The period's evaluation for a report (Excel or PDF): read as `evaluate`, and the export
    recorded."""
    require(actor, *READERS, action="导出考核评价")
    if kind not in EXPORT_KINDS:
        raise Invalid(f"导出格式应为 {'、'.join(EXPORT_KINDS)} 之一", field="kind")
    found = _result(db_session, actor, profile, city, period)
    record(
        db_session,
        actor=actor,
        action="evaluation.export",
        object_type="evaluation",
        object_id=period.key,
        details={"kind": kind, "units": len(found.units), "published": bool(found.published_at)},
    )
    return found


def adjust(db_session: Session, *, actor: Actor, period: Period, data: AdjustmentIn) -> Adjustment:
    """Records the operator's adjustment to a unit's score for the period, with the reason."""
    require(actor, *OPERATORS, action="调整考核得分")
    if _snapshot(db_session, period.year) is not None:
        raise Conflict(
            f"{period.year}年度考核已发布，不能再调整其中任何考核期的得分", field="period"
        )
    unit = next((u for u in scores.units(db_session) if u.id == data.organization_id), None)
    if unit is None:
        raise Invalid(
            f"编号为 {data.organization_id} 的单位不是考核对象（市直部门或县区、园区）",
            field="organization_id",
        )
    adjustment = Adjustment(
        period=period.key,
        organization_id=unit.id,
        points=data.points,
        reason=data.reason,
        made_at=clock.now(),
        made_by=actor.label,
    )
    db_session.add(adjustment)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="evaluation.adjust",
        object_type="evaluation",
        object_id=period.key,
        details={"unit": unit.name, "points": data.points, "reason": data.reason},
    )
    return adjustment


def publish(
    db_session: Session, *, actor: Actor, profile: Profile, city: str, data: PublishIn
) -> Snapshot:
    """Freezes a finished year's evaluation as published; it never changes afterwards."""
    require(actor, *OPERATORS, action="发布年度考核结果")
    if data.year >= clock.today().year:
        raise Invalid(f"{data.year}年度尚未结束，不能发布", field="year")
    if _snapshot(db_session, data.year) is not None:
        raise Conflict(f"{data.year}年度考核已经发布", field="year")
    period = scores.parse_period(str(data.year))
    live = _live(db_session, profile, city, period)
    units = [{**asdict(u), "rank": u.rank, "of": u.of} for u in live.units]
    snapshot = Snapshot(
        year=data.year,
        published_at=clock.now(),
        published_by=actor.label,
        profile_code=profile.code,
        city=city,
        evaluator=profile.evaluation.evaluator,
        note=data.note,
        content={"indicators": live.indicators, "units": units},
    )
    db_session.add(snapshot)
    try:
        db_session.flush()
    except IntegrityError as exc:  # published meanwhile by a concurrent request
        raise Conflict(f"{data.year}年度考核已经发布", field="year") from exc
    record(
        db_session,
        actor=actor,
        action="evaluation.publish",
        object_type="evaluation",
        object_id=str(data.year),
        details={
            "profile": profile.code,
            "weights": {i["code"]: i["weight"] for i in live.indicators},
            "ranking": [[u.name, u.total, u.rank] for u in live.units],
        },
    )
    return snapshot


def list_snapshots(db_session: Session, *, actor: Actor) -> list[Snapshot]:
    """The published years, latest first."""
    require(actor, *READERS, action="查看考核评价")
    return list(db_session.scalars(sa.select(Snapshot).order_by(Snapshot.year.desc())))


@dataclass(frozen=True)
class Standing:
    """Where a department stands in the latest evaluation, for IT project approval."""

    year: int
    published: bool
    unit: str
    total: float
    rank: int
    of: int
    group_label: str


def standing(
    db_session: Session, *, actor: Actor, profile: Profile, city: str, organization_id: int
) -> Standing | None:
    """The department's latest published year, or this year so far when none is published;
    None for an organisation that is not evaluated."""
    require(actor, *READERS, action="查看考核评价")
    latest = db_session.scalar(sa.select(Snapshot).order_by(Snapshot.year.desc()).limit(1))
    if latest is not None:
        found = _from_snapshot(latest, scores.parse_period(str(latest.year)))
    else:
        found = _live(db_session, profile, city, scores.parse_period(""))
    unit = next((u for u in found.units if organization_id in u.members), None)
    if unit is None:
        return None
    return Standing(
        found.period.year,
        latest is not None,
        unit.name,
        unit.total,
        unit.rank,
        unit.of,
        unit.group_label,
    )
