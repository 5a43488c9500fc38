"""Usage of the open data (使用情况): views, downloads and API calls per dataset and city day,
counted by the portal as they happen, shown on each dataset page and as monthly charts.

One row per (dataset, day), incremented by an upsert, so any number of portal processes count
into it without losing an increment and without a read before the write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.portal.models import PortalUsageDay

Kind = Literal["views", "downloads", "api_calls"]
KIND_LABELS: dict[str, str] = {"views": "浏览", "downloads": "下载", "api_calls": "接口调用"}


def count(db_session: Session, dataset_id: int, kind: Kind, n: int = 1) -> None:
    """Add `n` to today's count of `kind` for the dataset."""
    insert = (
        postgresql.insert if db_session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    table = PortalUsageDay.__table__
    values = {
        "dataset_id": dataset_id,
        "day": clock.today(),
        "views": 0,
        "downloads": 0,
        "api_calls": 0,
    }
    values[kind] = n
    stmt = insert(table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["dataset_id", "day"], set_={kind: getattr(table.c, kind) + n}
    )
    db_session.execute(stmt)


@dataclass(frozen=True)
class Totals:
    views: int = 0
    downloads: int = 0
    api_calls: int = 0


def totals(db_session: Session, dataset_id: int | None = None) -> Totals:
    """Every day's counts added up, for one dataset or the whole portal."""
    stmt = sa.select(
        sa.func.coalesce(sa.func.sum(PortalUsageDay.views), 0),
        sa.func.coalesce(sa.func.sum(PortalUsageDay.downloads), 0),
        sa.func.coalesce(sa.func.sum(PortalUsageDay.api_calls), 0),
    )
    if dataset_id is not None:
        stmt = stmt.where(PortalUsageDay.dataset_id == dataset_id)
    views, downloads, calls = db_session.execute(stmt).one()
    return Totals(int(views), int(downloads), int(calls))


@dataclass(frozen=True)
class Month:
    month: str  # YYYY-MM
    views: int
    downloads: int
    api_calls: int


def monthly(db_session: Session, dataset_id: int | None = None, *, months: int = 12) -> list[Month]:
    """The last `months` city months, oldest first, each with its counts (0 when unused)."""
    today = clock.today()
    firsts = []
    year, month = today.year, today.month
    for _ in range(months):
        firsts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    firsts.reverse()
    stmt = sa.select(
        PortalUsageDay.day, PortalUsageDay.views, PortalUsageDay.downloads, PortalUsageDay.api_calls
    ).where(PortalUsageDay.day >= firsts[0])
    if dataset_id is not None:
        stmt = stmt.where(PortalUsageDay.dataset_id == dataset_id)
    found = {f"{d:%Y-%m}": [0, 0, 0] for d in firsts}
    for day, views, downloads, calls in db_session.execute(stmt):
        slot = found.get(f"{day:%Y-%m}")
        if slot is not None:
            slot[0] += views
            slot[1] += downloads
            slot[2] += calls
    return [Month(key, *counts) for key, counts in found.items()]
