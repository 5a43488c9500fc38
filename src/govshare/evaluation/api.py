"""JSON routes of evaluation (考核评价) under /api/v1/evaluation."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from govshare.core.inputs import Id
from govshare.evaluation.schemas import AdjustmentIn, PublishIn
from govshare.evaluation.service import results, scores
from govshare.evaluation.service.scores import UnitScore
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/evaluation", tags=["考核评价"])


class IndicatorOut(BaseModel):
    code: str
    name: str
    weight: float
    formula: str
    citation: str
    note: str


class IndicatorScoreOut(BaseModel):
    code: str
    name: str
    weight: float
    score: float
    facts: dict[str, int]


class AdjustmentOut(BaseModel):
    id: int
    points: float
    reason: str
    made_at: str
    made_by: str


class UnitOut(BaseModel):
    unit_id: int
    name: str
    group: str
    group_label: str
    rank: int
    of: int
    computed: float
    adjustment: float
    total: float
    indicators: list[IndicatorScoreOut]
    adjustments: list[AdjustmentOut]


class EvaluationOut(BaseModel):
    period: str
    label: str
    city: str
    evaluator: str
    published_at: datetime | None
    indicators: list[IndicatorOut]
    units: list[UnitOut]


class SnapshotOut(BaseModel):
    year: int
    published_at: datetime
    published_by: str
    profile_code: str


def unit_out(u: UnitScore) -> UnitOut:
    return UnitOut(
        unit_id=u.unit_id,
        name=u.name,
        group=u.group,
        group_label=u.group_label,
        rank=u.rank,
        of=u.of,
        computed=u.computed,
        adjustment=u.adjustment,
        total=u.total,
        indicators=[
            IndicatorScoreOut(
                code=s.code, name=s.name, weight=s.weight, score=s.score, facts=s.facts
            )
            for s in u.indicators
        ],
        adjustments=[AdjustmentOut(**a) for a in u.adjustments],
    )


def evaluation_out(found: results.Result) -> EvaluationOut:
    return EvaluationOut(
        period=found.period.key,
        label=found.period.label,
        city=found.city,
        evaluator=found.evaluator,
        published_at=found.published_at,
        indicators=[
            IndicatorOut(**{k: i[k] for k in IndicatorOut.model_fields}) for i in found.indicators
        ],
        units=[unit_out(u) for u in found.units],
    )


@router.get("", summary="考核排名（年 2026、季度 2026-Q3 或月 2026-09；部门只看本单位）")
def evaluation(
    request: Request, db_session: DB, actor: SignedIn, period: str = ""
) -> EvaluationOut:
    runtime = runtime_of(request)
    found = results.evaluate(
        db_session,
        actor=actor,
        profile=runtime.profile,
        city=runtime.city_name,
        period=scores.parse_period(period),
    )
    return evaluation_out(found)


@router.get("/units/{unit_id}", summary="一个考核对象的各项指标、事实和调整")
def unit(
    request: Request, db_session: DB, actor: SignedIn, unit_id: Id, period: str = ""
) -> UnitOut:
    runtime = runtime_of(request)
    _, found = results.unit_detail(
        db_session,
        actor=actor,
        profile=runtime.profile,
        city=runtime.city_name,
        period=scores.parse_period(period),
        unit_id=unit_id,
    )
    return unit_out(found)


@router.post(
    "/adjustments",
    status_code=201,
    summary="调整考核得分并说明理由（平台管理员；已发布年度不可调整）",
)
def adjust(db_session: DB, actor: SignedIn, data: AdjustmentIn, period: str = "") -> AdjustmentOut:
    made = results.adjust(db_session, actor=actor, period=scores.parse_period(period), data=data)
    return AdjustmentOut(
        id=made.id,
        points=made.points,
        reason=made.reason,
        made_at=made.made_at.isoformat(),
        made_by=made.made_by,
    )


@router.post(
    "/snapshots", status_code=201, summary="发布年度考核结果（平台管理员；发布后不再变动）"
)
def publish(request: Request, db_session: DB, actor: SignedIn, data: PublishIn) -> SnapshotOut:
    runtime = runtime_of(request)
    made = results.publish(
        db_session, actor=actor, profile=runtime.profile, city=runtime.city_name, data=data
    )
    return SnapshotOut(
        year=made.year,
        published_at=made.published_at,
        published_by=made.published_by,
        profile_code=made.profile_code,
    )


@router.get("/snapshots", summary="已发布的年度考核")
def snapshots(db_session: DB, actor: SignedIn) -> list[SnapshotOut]:
    return [
        SnapshotOut(
            year=s.year,
            published_at=s.published_at,
            published_by=s.published_by,
            profile_code=s.profile_code,
        )
        for s in results.list_snapshots(db_session, actor=actor)
    ]
