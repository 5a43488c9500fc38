"""Open-data test data: an open population-like resource, bound and loaded in the center."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core.permissions import Actor
from govshare.exchange.center import Center
from govshare.exchange.models import TableBinding
from govshare.opendata import service
from govshare.opendata.models import OpenRelease, SecrecyOutcome
from govshare.opendata.schemas import OpenViewIn, ReleaseDecisionIn, SecrecyReviewIn
from tests.catalog.builders import published
from tests.exchange.builders import POPULATION, bind, load_center, population
from tests.sharing.builders import Sharing, sharing_world

PERSONAL = ("id_number", "name", "phone", "address", "email")
OPEN_FIELDS = ["公民身份号码", "性别", "出生日期", "行政区划代码", "户籍地址"]
OPEN_MASKING = [
    {"field": "公民身份号码", "rule": "hash"},
    {"field": "户籍地址", "rule": "keep_first", "n": 6},
]
OPEN_FILTER = [{"field": "行政区划代码", "op": "in", "values": ["361102"]}]
REVIEW = SecrecyReviewIn(
    reviewer="王明（市公安局保密办主任）",
    reviewed_on=date(2026, 12, 10),
    basis="依据《保守国家秘密法》和本局公共数据开放保密审查办法逐项审查，不涉及国家秘密",
    outcome=SecrecyOutcome.PASSED,
)


@dataclass
class Open:
    w: Sharing
    resource: Resource
    binding: TableBinding
    rows: list[dict[str, Any]]
    center: Center


def open_world(db: Session, center: Center, *, rows: int = 40) -> Open:
    """The sharing cast and a published, unconditionally shared and unconditionally open
    resource with the 15 population items, bound and loaded in the center."""
    w = sharing_world(db)
    items = [
        {"name": i, "data_type": d, "personal": c in PERSONAL} | ({"length": n} if n else {})
        for i, c, _, d, n in POPULATION
    ]
    resource = published(
        db,
        w.provider_officer,
        w.op,
        name="户籍人口统计样本",
        summary="按行政区划统计的户籍人口样本数据",
        share_type="unconditional",
        open_type="unconditional",
        domain="statistics",
        items=items,
    )
    binding = bind(db, w, resource)
    data = population(rows)
    load_center(center, binding, data)
    return Open(w, resource, binding, data, center)


def view(**kw: Any) -> OpenViewIn:
    return OpenViewIn.model_validate(
        {
            "fields": OPEN_FIELDS,
            "masking": OPEN_MASKING,
            "row_filter": OPEN_FILTER,
            "tags": ["人口"],
        }
        | kw
    )


def opened(db: Session, o: Open, op: Actor | None = None, **kw: Any) -> OpenRelease:
    """The resource's open view defined, reviewed, submitted and confirmed."""
    officer = o.w.provider_officer
    release = service.define_view(db, actor=officer, resource_code=o.resource.code, data=view(**kw))
    service.record_secrecy_review(db, actor=officer, release_id=release.id, data=REVIEW)
    service.submit(db, actor=officer, release_id=release.id)
    return service.decide(
        db, actor=op or o.w.op, release_id=release.id, data=ReleaseDecisionIn(approve=True)
    )


def conditional_world(db: Session, center: Center, op: Actor | None = None) -> Open:
    """A conditionally open resource (open on conditions), opened and confirmed; `op` is an
    existing operator (else one is created)."""
    w = sharing_world(db, op)
    items = [
        {"name": i, "data_type": d, "personal": c in PERSONAL} | ({"length": n} if n else {})
        for i, c, _, d, n in POPULATION
    ]
    resource = published(
        db,
        w.provider_officer,
        w.op,
        name="企业用电量月度数据",
        summary="按行政区划汇总的企业月度用电量",
        share_type="unconditional",
        open_type="conditional",
        open_conditions="仅限用于学术研究，须签署数据使用协议",
        domain="energy",
        items=items,
    )
    binding = bind(db, w, resource)
    data = population(20)
    load_center(center, binding, data)
    o = Open(w, resource, binding, data, center)
    opened(db, o)
    return o
