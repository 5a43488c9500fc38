"""Builders for comparison tests: center tables with rows, and comparison definitions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from govshare.exchange.center import PORTABLE_TYPES, Center
from govshare.verification.comparison import ComparisonSpec, Pair


def center_table(
    center: Center,
    name: str,
    columns: Mapping[str, str],
    rows: Iterable[Sequence[Any]],
    *,
    primary_key: str | None = None,
) -> sa.Table:
    """A center table of portable columns, filled with `rows` in column order; without a key
    constraint (so duplicates can be planted) unless `primary_key` names a column."""
    table = sa.Table(
        name,
        sa.MetaData(),
        *(
            sa.Column(column, PORTABLE_TYPES[kind], primary_key=column == primary_key)
            for column, kind in columns.items()
        ),
        schema=center.schema,
    )
    names = list(columns)
    with center.engine.begin() as conn:
        table.create(conn)
        batch = [dict(zip(names, row, strict=True)) for row in rows]
        if batch:
            conn.execute(table.insert(), batch)
    return table


def spec(
    *items: Pair, key: Pair | None = None, left: str = "gaj_rk", right: str = "mzj_rk"
) -> ComparisonSpec:
    """公安局's population register (left) against 民政局's copy (right), keyed by ID number."""
    return ComparisonSpec(
        left_table=left,
        right_table=right,
        keys=(key or Pair("公民身份号码", "gmsfhm", "sfzh"),),
        items=items,
    )
