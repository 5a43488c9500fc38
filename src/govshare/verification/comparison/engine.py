"""The comparison engine (比对, 一数一源): do two departments' copies of the same data agree?

A comparison (`model.py`) names two tables of the data resource center (数据资源中心), a key
mapping (e.g. 公民身份号码 ↔ 身份证号) and the compared items (left column ↔ right column),
each with its normalisation steps (`normalise.py`); `plan.py` checks it against the center's
tables. It runs where the data is, as SQL in the center database (PostgreSQL or SQLite,
`sql.py`), so that only the keys that differ reach Python and memory stays flat at any table
size.

Two ways to the same result (``ComparisonRun.path``), chosen by the tables' constraints: the
grouping of both sides by the normalised key (``Path.GROUP``, always on SQLite), or, on
PostgreSQL where each side's key is unique NOT NULL text, the join on raw keys, whose rows say
whether normalisation changes their key (*dirty*, streamed first). None (the usual case): the
join is the grouping's exact result (``Path.JOIN``). Up to ``DIRTY_LIMIT`` dirty keys
(``Path.JOIN_AND_GROUP``): the grouping runs for those keys alone (``= ANY``), the join's rows
of those keys are dropped, and both streams are merged in key order. More: the join is
abandoned for the grouping.

Counts come without bringing equal rows to Python: every key left out by HAVING has one
row on each side, so ``equal = left rows − blank keys − left rows of the streamed keys``
(and the same on the right, which is checked). Both statements read one snapshot
(REPEATABLE READ on PostgreSQL, one read transaction on SQLite, which never takes the
center's write lock).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from govshare.exchange import masking
from govshare.exchange.center import Center
from govshare.verification.comparison import normalise
from govshare.verification.comparison.model import (
    KEY_SEPARATOR,
    ComparisonCounts,
    ComparisonSpec,
    Difference,
    DifferenceKind,
    ItemDifference,
    Path,
)
from govshare.verification.comparison.plan import Plan, plan_comparison
from govshare.verification.comparison.sql import comparison_select, raw_join_select

WORK_MEM = "64MB"  # PostgreSQL: lets the grouping hash a million keys without spilling
FETCH_ROWS = 2000
DIRTY_LIMIT = 10_000  # raw-key join: more rows whose key normalisation changes → one grouping


class ComparisonRun:
    """One run of a checked comparison: iterate it for the differences (in key order); its
    `counts` are complete once the iteration has ended, and `path` tells how they were found."""

    def __init__(self, center: Center, spec: ComparisonSpec, *, raw_key_join: bool = True) -> None:
        self.center = center
        self.spec = spec
        self._plan = plan_comparison(center, spec)
        self._raw_key_join = raw_key_join and self._plan.raw_keys_unique
        self._counts: ComparisonCounts | None = None
        self.path: Path | None = None

    @property
    def counts(self) -> ComparisonCounts:
        if self._counts is None:
            raise RuntimeError("the comparison's counts are known only after iterating it")
        return self._counts

    def sql(self) -> str:
        """The comparison's first statement (for reading and for EXPLAIN)."""
        select = raw_join_select if self._raw_key_join else comparison_select
        return _literal(select(self._plan), self.center)

    def __iter__(self) -> Iterator[Difference]:
        counts = ComparisonCounts(differing_by_item={i.pair.name: 0 for i in self._plan.items})
        if self._plan.dialect == "sqlite":
            self.path = Path.GROUP
            rows = _run_sqlite(self.center, self._plan, counts)
        else:
            rows = _run_postgres(self, counts)
        yield from _differences(self._plan, rows, counts)
        self._counts = counts


def compare(center: Center, spec: ComparisonSpec, *, raw_key_join: bool = True) -> ComparisonRun:
    """A comparison run, its definition checked against the center (ComparisonError if bad).
    `raw_key_join=False` keeps to the one grouping even where the join could serve."""
    return ComparisonRun(center, spec, raw_key_join=raw_key_join)


def run_comparison(
    center: Center, spec: ComparisonSpec, on_difference: Callable[[Difference], None] | None = None
) -> ComparisonCounts:
    """Runs a comparison to its end, handing each difference to `on_difference`."""
    run = compare(center, spec)
    for difference in run:
        if on_difference is not None:
            on_difference(difference)
    return run.counts


def _literal(select: sa.Select[Any], center: Center) -> str:
    compiled = select.compile(dialect=center.engine.dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)


def _counts_select(plan: Plan) -> sa.Select[Any]:
    def rows(table: sa.Table) -> ColumnElement[int]:
        return sa.select(sa.func.count()).select_from(table).scalar_subquery()

    return sa.select(rows(plan.left), rows(plan.right))


def _run_postgres(run: ComparisonRun, counts: ComparisonCounts) -> Iterator[Sequence[Any]]:
    plan = run._plan
    with (
        run.center.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
        conn.begin(),
    ):
        conn.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        # the grouping's parallel plan hashes partially per worker, then sorts and spills
        conn.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))
        counts.left_rows, counts.right_rows = conn.execute(_counts_select(plan)).one()
        streamed = conn.execution_options(stream_results=True, yield_per=FETCH_ROWS)
        if run._raw_key_join:
            joined = streamed.execute(raw_join_select(plan))
            rows = iter(joined)
            dirty: set[str | None] = set()
            first = None
            for row in rows:
                if not row[0]:
                    first = row
                    break
                dirty.add(row[1])
                if len(dirty) > DIRTY_LIMIT:
                    joined.close()
                    break
            else:
                first = None
            if len(dirty) <= DIRTY_LIMIT:
                run.path = Path.JOIN_AND_GROUP if dirty else Path.JOIN
                clean = itertools.chain([first] if first is not None else [], rows)
                yield from _merged(conn, plan, clean, dirty)
                return
        run.path = Path.GROUP
        yield from streamed.execute(comparison_select(plan))


def _merged(
    conn: sa.Connection,
    plan: Plan,
    joined: Iterator[Sequence[Any]],
    dirty: set[str | None],
) -> Iterator[Sequence[Any]]:
    """The join's rows of clean keys merged in key order with the grouping of the dirty ones
    (at most DIRTY_LIMIT groups, so they may be held)."""
    clean = (row[2:] for row in joined if row[2] not in dirty)
    if not dirty:
        yield from clean
        return
    grouped = conn.execute(comparison_select(plan, dirty)).all()
    yield from (row for row in grouped if row[0] is None)  # the blank keys
    keyed = [row for row in grouped if row[0] is not None]
    yield from heapq.merge(keyed, clean, key=lambda row: row[0])


def _run_sqlite(center: Center, plan: Plan, counts: ComparisonCounts) -> Iterator[Sequence[Any]]:
    # The raw connection: the engine's own BEGIN is IMMEDIATE (the write lock), and a
    # comparison that only reads must not hold the sync engine up for its whole length.
    raw = center.engine.raw_connection()
    try:
        connection = raw.driver_connection
        masking.register_sqlite_functions(connection)
        normalise.register_sqlite_functions(connection)
        connection.execute("BEGIN")
        try:
            counts.left_rows, counts.right_rows = connection.execute(
                _literal(_counts_select(plan), center)
            ).fetchone()
            cursor = connection.execute(_literal(comparison_select(plan), center))
            while batch := cursor.fetchmany(FETCH_ROWS):
                yield from batch
        finally:
            connection.execute("ROLLBACK")
    finally:
        raw.close()


def _differences(
    plan: Plan, rows: Iterator[Sequence[Any]], counts: ComparisonCounts
) -> Iterator[Difference]:
    names = [item.pair.name for item in plan.items]
    size = len(names)
    streamed_left = streamed_right = 0
    for row in rows:
        key, n_l, n_r = row[0], int(row[1] or 0), int(row[2] or 0)
        if key is None:
            counts.left_blank_keys, counts.right_blank_keys = n_l, n_r
            continue
        streamed_left += n_l
        streamed_right += n_r
        parts = tuple(key.split(KEY_SEPARATOR))
        raws = row[3 : 3 + 2 * size]
        if n_l > 1 or n_r > 1:
            counts.duplicate_keys_left += n_l > 1
            counts.duplicate_keys_right += n_r > 1
            counts.duplicate_rows_left += n_l if n_l > 1 else 0
            counts.duplicate_rows_right += n_r if n_r > 1 else 0
            yield Difference(DifferenceKind.DUPLICATE, parts, left_rows=n_l, right_rows=n_r)
        elif n_r == 0:
            counts.only_left += 1
            values = tuple(ItemDifference(names[i], raws[2 * i], None) for i in range(size))
            yield Difference(DifferenceKind.ONLY_LEFT, parts, values, left_rows=1)
        elif n_l == 0:
            counts.only_right += 1
            values = tuple(ItemDifference(names[i], None, raws[2 * i + 1]) for i in range(size))
            yield Difference(DifferenceKind.ONLY_RIGHT, parts, values, right_rows=1)
        else:
            flags = row[3 + 2 * size : 3 + 3 * size]
            items = tuple(
                ItemDifference(names[i], raws[2 * i], raws[2 * i + 1])
                for i in range(size)
                if flags[i]
            )
            counts.differing += 1
            for difference in items:
                counts.differing_by_item[difference.item] += 1
            yield Difference(DifferenceKind.DIFFERS, parts, items, left_rows=1, right_rows=1)
    counts.equal = counts.left_rows - counts.left_blank_keys - streamed_left
    right_equal = counts.right_rows - counts.right_blank_keys - streamed_right
    if counts.equal != right_equal:
        raise RuntimeError(
            f"inconsistent comparison: {counts.equal} equal keys by the left, {right_equal} by the right"
        )
    counts.matched = counts.equal + counts.differing
