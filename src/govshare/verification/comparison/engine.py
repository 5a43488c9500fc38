"""The comparison engine (比对, 一数一源): do two departments' copies of the same data agree?

A comparison names two tables of the data resource center (数据资源中心), a key mapping
(e.g. 公民身份号码 ↔ 身份证号) and the compared items (left column ↔ right column), each
with its normalisation steps (`normalise.py`). It runs where the data is, as SQL in the
center database (PostgreSQL or SQLite), so that only the keys that differ reach Python and
memory stays flat at any table size.

Two ways to the same result (``ComparisonRun.path``), chosen by the tables' constraints:

- *The grouping* (``Path.GROUP``, always on SQLite): both sides are read once, as
  ``SELECT key, 1, 0, left values … UNION ALL SELECT key, 0, 1, right values …``, grouped by
  the normalised key (PostgreSQL hashes it; SQLite sorts it). Each group carries its row
  count per side and each side's value (min(); a group of one row per side has exactly one),
  and the item normalisations run on the grouped values. The HAVING clause keeps only what is
  not a clean match — a side missing, a key duplicated, an item differing — sorted by key.
  One pass answers what a FULL OUTER JOIN answers *and* finds duplicate keys, which a join
  would silently multiply.
- *The join on raw keys* (``Path.JOIN``, PostgreSQL, when each side's key columns are text,
  NOT NULL and held unique by a constraint or a plain unique index): a FULL OUTER JOIN on the
  stored keys (hashed), keeping what is not a clean match. The unique raw keys rule out
  duplicates *unless normalisation changes a key* (``' 1'`` and ``'1'``; ``'x'`` under case).
  So every joined row also says whether its key is *dirty* (its normalised form differs from
  the stored one), and the statement sorts dirty rows first. None (the usual case): the join
  is the grouping's exact result. Up to ``DIRTY_LIMIT`` dirty keys (``Path.JOIN_AND_GROUP``):
  the grouping runs for those keys alone (``= ANY``), the join's rows of those keys are
  dropped, and both streams are merged in key order. More: the join is abandoned for the
  grouping. ``tests/verification/comparison/test_raw_key_join.py`` holds the two paths to the
  same differences, order and counts.

Why: grouping the *normalised* key, which no index serves, hashes 2,000,000 keys carrying
their values, and PostgreSQL, which expects a few hundred groups, chose a parallel partial
aggregation that sorted and spilled to disk (14 s under EXPLAIN ANALYZE at 1,000,000 rows
per side). Measured on one busy two-core machine at 1,000,000 rows per side: the grouping
4.3–5.4 s (parallel plan disabled: ``SET LOCAL max_parallel_workers_per_gather = 0``, kept for
it), the join on raw keys with every item's text form compared 3.3 s, of which the text
forms of dates (``to_char``) took most; comparing the stored values first (equal values of
one kind — text, integer, decimal, date, boolean — have equal text forms, so only unequal
ones are normalised) brought it to 1.5 s in the database. `bench/compare.py`, same run:
the join 1.75 s, with keys and items normalised 2.7 s, the grouping 4.1 s, reladiff's
joindiff 3.5 s. Finding dirty keys in a separate pass would have cost another
read of both tables (0.2 s per side); carried on the joined rows it costs a btrim per row.
Splitting the grouping over several connections by a hash of the key was not tried: on
two busy cores the join alone already halves the time. Digests (md5 per key) would make
rows narrower but say only *that* a row differs, needing a second read for the case.

Counts come without bringing equal rows to Python: every key left out by HAVING has one
row on each side, so ``equal = left rows − blank keys − left rows of the streamed keys``
(and the same on the right, which is checked). Both statements read one snapshot
(REPEATABLE READ on PostgreSQL, one read transaction on SQLite, which never takes the
center's write lock).

Meanings the caller can rely on:

- Keys are normalised too: always trimmed, an empty key part is NULL, and a key with a NULL
  part is *blank*: its rows are counted (``left_blank_keys``) but never compared.
  Several key columns are joined by U+001F, which no key may contain.
- A key found more than once on a side (after normalisation) is a duplicate: reported once
  with its row counts per side, and not compared at all (neither matched nor only-left).
- Differences stream in key order (byte order, ``COLLATE "C"``; blank keys are counted, not
  streamed). An only-left or only-right key carries every item's value of its one row.
- ``matched`` counts keys with exactly one row on each side; ``equal`` those of them equal in
  every item after normalisation; ``differing_by_item`` counts per item (a key may differ in
  several).
- Values are compared as text forms (`exchange.masking.text_form`): 5, 5.0 and 5.00 agree,
  a date is ``YYYY-MM-DD``. NULL equals NULL; NULL and the empty text differ unless the item
  asks for ``empty_as_null``. Reported values are the text forms before normalisation.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.sql.elements import ColumnElement

from govshare.exchange import masking
from govshare.exchange.center import Center
from govshare.verification.comparison import normalise
from govshare.verification.comparison.normalise import Normaliser

KEY_SEPARATOR = "\x1f"
KEY_STEPS = (Normaliser.TRIM, Normaliser.EMPTY_AS_NULL)  # every key part, whatever is chosen
WORK_MEM = "64MB"  # PostgreSQL: lets the grouping hash a million keys without spilling
FETCH_ROWS = 2000
DIRTY_LIMIT = 10_000  # raw-key join: more rows whose key normalisation changes → one grouping

_KIND_CLASS = {
    "text": "text",
    "int": "number",
    "float": "number",
    "decimal": "number",
    "date": "date",
    "datetime": "timestamp",
    "bool": "boolean",
    "other": "other",
}
_CLASS_LABEL = {
    "text": "文本",
    "number": "数值",
    "date": "日期",
    "timestamp": "日期时间",
    "boolean": "布尔",
    "other": "其他",
}
_SIDE_LABEL = {"left": "左表", "right": "右表"}


class ComparisonError(ValueError):
    """A comparison that cannot run as defined; the message names the field, in Chinese."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Pair:
    """A compared item (比对项), or one part of the key mapping: a column of each side."""

    name: str
    left: str
    right: str
    normalise: tuple[Normaliser | str, ...] = ()


@dataclass(frozen=True)
class ComparisonSpec:
    """What to compare: two center tables, the key mapping, the items."""

    left_table: str
    right_table: str
    keys: tuple[Pair, ...]
    items: tuple[Pair, ...]


class Path(StrEnum):
    """How a run found its differences (same results either way; see the module docstring)."""

    GROUP = "group"  # one grouping of both sides by the normalised key
    JOIN = "join"  # a join on the raw keys, every key already normalised
    JOIN_AND_GROUP = "join+group"  # the join, and a grouping of the keys normalisation changes


class DifferenceKind(StrEnum):
    DIFFERS = "differs"  # the key on both sides, at least one item differs
    ONLY_LEFT = "only_left"
    ONLY_RIGHT = "only_right"
    DUPLICATE = "duplicate"  # the key more than once on a side; not compared


@dataclass(frozen=True)
class ItemDifference:
    """One item of a key that differs: each side's text form before normalisation."""

    item: str
    left: str | None
    right: str | None


@dataclass(frozen=True)
class Difference:
    """One key that is not a clean match. `key` holds the normalised key parts."""

    kind: DifferenceKind
    key: tuple[str, ...]
    # DIFFERS: the items that differ; ONLY_LEFT / ONLY_RIGHT: every item, the missing side None
    items: tuple[ItemDifference, ...] = ()
    left_rows: int = 0  # rows with this key on each side
    right_rows: int = 0


@dataclass
class ComparisonCounts:
    """The figures of one comparison run."""

    left_rows: int = 0
    right_rows: int = 0
    left_blank_keys: int = 0  # rows whose key is NULL or empty after normalisation
    right_blank_keys: int = 0
    matched: int = 0  # keys with one row on each side
    equal: int = 0  # matched and equal in every item
    differing: int = 0  # matched, at least one item differs
    differing_by_item: dict[str, int] = field(default_factory=dict)
    only_left: int = 0
    only_right: int = 0
    duplicate_keys_left: int = 0  # keys found more than once on the left
    duplicate_keys_right: int = 0
    duplicate_rows_left: int = 0  # the rows those keys have there
    duplicate_rows_right: int = 0


# --- the definition, checked -----------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    column: sa.Column[Any]
    kind: str  # a class of _KIND_CLASS


@dataclass(frozen=True)
class _PlannedPair:
    pair: Pair
    left: _Column
    right: _Column
    steps: tuple[Normaliser, ...]


@dataclass(frozen=True)
class _Plan:
    dialect: str
    left: sa.Table
    right: sa.Table
    keys: tuple[_PlannedPair, ...]
    items: tuple[_PlannedPair, ...]
    raw_keys_unique: bool  # PostgreSQL, text keys, NOT NULL and unique on each side


def _unique_sets(table: sa.Table) -> list[set[str]]:
    """The column sets a constraint or a plain (not partial) unique index holds unique."""
    sets = [set(table.primary_key.columns.keys())]
    sets += [set(c.columns.keys()) for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    for index in table.indexes:
        plain = all(isinstance(e, sa.Column) for e in index.expressions)
        partial = index.dialect_options["postgresql"].get("where") is not None
        if index.unique and plain and not partial:
            sets.append({c.name for c in index.columns})
    return [s for s in sets if s]


def _raw_keys_unique(dialect: str, keys: Sequence[_PlannedPair]) -> bool:
    """Whether a join on the raw keys can stand for the grouping (module docstring)."""
    if dialect != "postgresql":
        return False
    for side in ("left", "right"):
        columns = [getattr(k, side) for k in keys]
        # CHAR compares blank-padded: its equality is not the text forms'
        if any(
            c.kind != "text" or c.column.nullable or isinstance(c.column.type, sa.CHAR)
            for c in columns
        ):
            return False
        names = {c.column.name for c in columns}
        if not any(unique <= names for unique in _unique_sets(columns[0].column.table)):
            return False
    return True


def _reflect(center: Center, name: str, side: str) -> sa.Table:
    if not name:
        raise ComparisonError(f"没有指定{_SIDE_LABEL[side]}", field=f"{side}_table")
    try:
        return sa.Table(name, sa.MetaData(), schema=center.schema, autoload_with=center.engine)
    except NoSuchTableError:
        raise ComparisonError(
            f"{_SIDE_LABEL[side]} {name} 不存在于数据资源中心", field=f"{side}_table"
        ) from None


def _column(table: sa.Table, name: str, side: str, what: str, path: str) -> _Column:
    if not name or name not in table.c:
        shown = name or "（空）"
        raise ComparisonError(f"{what}：{_SIDE_LABEL[side]}没有列 {shown}", field=f"{path}.{side}")
    column = table.c[name]
    return _Column(column, _KIND_CLASS[masking.value_kind(column.type)])


def _steps(pair: Pair, what: str, path: str) -> tuple[Normaliser, ...]:
    chosen = (pair.normalise,) if isinstance(pair.normalise, str) else pair.normalise
    for step in chosen:
        if step not in Normaliser.__members__.values():
            raise ComparisonError(f"{what}：未知的规范化方式 {step}", field=f"{path}.normalise")
    return normalise.steps(chosen)


def _check_types(
    left: _Column, right: _Column, steps: Sequence[Normaliser], what: str, path: str
) -> None:
    for side, col in (("left", left), ("right", right)):
        label = f"{_SIDE_LABEL[side]}列 {col.column.name}"
        if col.kind == "other":
            raise ComparisonError(
                f"{what}：{label} 的类型 {col.column.type} 不能比对", field=f"{path}.{side}"
            )
        if Normaliser.DATE in steps and col.kind not in ("text", "date", "timestamp"):
            raise ComparisonError(
                f"{what}：{label} 是{_CLASS_LABEL[col.kind]}类型，"
                f"不能按「{Normaliser.DATE.label}」规范化",
                field=f"{path}.normalise",
            )
    kinds = {left.kind, right.kind}
    if len(kinds) == 1 or "text" in kinds or Normaliser.DATE in steps:
        return
    described = (
        f"{what}：左表列 {left.column.name}（{_CLASS_LABEL[left.kind]}）与"
        f"右表列 {right.column.name}（{_CLASS_LABEL[right.kind]}）类型不同"
    )
    if kinds == {"date", "timestamp"}:
        raise ComparisonError(
            f"{described}，请选择「{Normaliser.DATE.label}」规范化", field=f"{path}.normalise"
        )
    raise ComparisonError(f"{described}，无法比对", field=path)


def _plan_pairs(
    pairs: Sequence[Pair], left: sa.Table, right: sa.Table, *, keys: bool
) -> tuple[_PlannedPair, ...]:
    planned = []
    seen: set[str] = set()
    for index, pair in enumerate(pairs):
        noun = "主键" if keys else "比对项"
        path = f"{'keys' if keys else 'items'}[{index}]"
        if not pair.name:
            raise ComparisonError(f"第 {index + 1} 个{noun}没有名称", field=f"{path}.name")
        what = f"{noun}「{pair.name}」"
        if pair.name in seen:
            raise ComparisonError(f"{what}重复", field=f"{path}.name")
        seen.add(pair.name)
        steps = _steps(pair, what, path)
        if keys:
            steps = normalise.steps((*steps, *KEY_STEPS))
        lcol = _column(left, pair.left, "left", what, path)
        rcol = _column(right, pair.right, "right", what, path)
        _check_types(lcol, rcol, steps, what, path)
        planned.append(_PlannedPair(pair, lcol, rcol, steps))
    return tuple(planned)


def _plan(center: Center, spec: ComparisonSpec) -> _Plan:
    if center.dialect not in ("postgresql", "sqlite"):
        raise ComparisonError(
            f"比对只支持 PostgreSQL 或 SQLite，不支持 {center.dialect}", field="center"
        )
    if not spec.keys:
        raise ComparisonError("比对没有主键映射", field="keys")
    if not spec.items:
        raise ComparisonError("比对没有比对项", field="items")
    left = _reflect(center, spec.left_table, "left")
    right = _reflect(center, spec.right_table, "right")
    keys = _plan_pairs(spec.keys, left, right, keys=True)
    items = _plan_pairs(spec.items, left, right, keys=False)
    return _Plan(center.dialect, left, right, keys, items, _raw_keys_unique(center.dialect, keys))


# --- SQL -------------------------------------------------------------------------------------


def _normalised(
    dialect: str, value: ColumnElement[Any], steps: Sequence[Normaliser], kind: str
) -> ColumnElement[str]:
    if kind == "date":  # a date's text form is YYYY-MM-DD already: spare the patterns
        steps = [s for s in steps if s is not Normaliser.DATE]
    return normalise.normalise_expression(dialect, masking.text_expression(dialect, value), steps)


def _key(
    plan: _Plan, parts: Sequence[ColumnElement[Any]], kinds: Sequence[str]
) -> ColumnElement[str]:
    """The normalised key of one row: its parts normalised, joined by KEY_SEPARATOR."""
    normalised = [
        _normalised(plan.dialect, part, key.steps, kind)
        for part, key, kind in zip(parts, plan.keys, kinds, strict=True)
    ]
    return _joined(plan, normalised)


def _joined(plan: _Plan, parts: Sequence[ColumnElement[Any]]) -> ColumnElement[str]:
    separated: list[ColumnElement[Any]] = []
    for part in parts:
        if separated:
            separated.append(sa.literal(KEY_SEPARATOR, sa.String()))
        separated.append(part)
    joined = masking.sql_dialect(plan.dialect).concat(*separated) if len(parts) > 1 else parts[0]
    return sa.type_coerce(joined, sa.String())


def _side_select(
    plan: _Plan, side: str, only_keys: Collection[str | None] | None
) -> sa.Select[Any]:
    """One side's rows: normalised key, which side, raw values in its own columns; with
    `only_keys`, only the rows of those normalised keys (None: the blank ones)."""
    table = plan.left if side == "left" else plan.right
    own_keys = [getattr(key, side) for key in plan.keys]
    key = _key(plan, [c.column for c in own_keys], [c.kind for c in own_keys])
    columns: list[ColumnElement[Any]] = [
        key.label("k"),
        sa.literal(int(side == "left"), sa.Integer()).label("n_l"),
        sa.literal(int(side == "right"), sa.Integer()).label("n_r"),
    ]
    for i, item in enumerate(plan.items):
        for own in ("left", "right"):
            column = getattr(item, own).column
            value = table.c[column.name] if own == side else sa.cast(sa.null(), column.type)
            columns.append(value.label(f"{own[0]}{i}"))
    select = sa.select(*columns).select_from(table)
    if only_keys is None:
        return select
    wanted = sa.bindparam("only_keys", [k for k in only_keys if k is not None], ARRAY(sa.String()))
    blank = [key.is_(None)] if None in only_keys else []
    return select.where(sa.or_(key == sa.any_(wanted), *blank))


def _grouped_value(plan: _Plan, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The value of a one-row group (PostgreSQL has no min() of booleans)."""
    if plan.dialect == "postgresql" and isinstance(column.type, sa.Boolean):
        return sa.func.bool_or(column, type_=column.type)
    return sa.func.min(column, type_=column.type)


_SAME_TEXT_KINDS = ("text", "int", "date", "bool", "decimal")


def _equal_values_equal_texts(plan: _Plan, item: _PlannedPair) -> bool:
    """Whether two equal stored values always have equal text forms (PostgreSQL, one kind;
    not floats, where 0 = -0, nor times, whose zones may differ)."""
    if plan.dialect != "postgresql":
        return False
    kinds = {masking.value_kind(c.column.type) for c in (item.left, item.right)}
    return len(kinds) == 1 and kinds <= set(_SAME_TEXT_KINDS)


def _item_columns(
    plan: _Plan, values: Sequence[tuple[ColumnElement[Any], ColumnElement[Any]]]
) -> tuple[list[ColumnElement[Any]], list[ColumnElement[Any]], list[ColumnElement[bool]]]:
    """For each item's (left, right) values: both text forms, a 0/1 flag, the condition."""
    raws: list[ColumnElement[Any]] = []
    flags: list[ColumnElement[Any]] = []
    differs: list[ColumnElement[bool]] = []
    # spelt out: SQLAlchemy's SQLite IS NOT drops literal_binds inside it
    distinct = "IS DISTINCT FROM" if plan.dialect == "postgresql" else "IS NOT"
    for item, (left, right) in zip(plan.items, values, strict=True):
        raws += [
            masking.text_expression(plan.dialect, left),
            masking.text_expression(plan.dialect, right),
        ]
        differ = _normalised(plan.dialect, left, item.steps, item.left.kind).op(
            distinct, is_comparison=True
        )(_normalised(plan.dialect, right, item.steps, item.right.kind))
        if _equal_values_equal_texts(plan, item):  # most pairs are equal: skip their text forms
            differ = sa.and_(left.is_distinct_from(right), differ)
        differs.append(differ)
        flags.append(sa.case((differ, 1), else_=0))
    return raws, flags, differs


def comparison_select(
    plan: _Plan, only_keys: Collection[str | None] | None = None
) -> sa.Select[Any]:
    """The grouping: every key that is not a clean match, in key order (of `only_keys`)."""
    union = sa.union_all(
        _side_select(plan, "left", only_keys), _side_select(plan, "right", only_keys)
    ).subquery("u")
    n_l = sa.func.sum(union.c.n_l, type_=sa.Integer())
    n_r = sa.func.sum(union.c.n_r, type_=sa.Integer())
    raws, flags, differs = _item_columns(
        plan,
        [
            (_grouped_value(plan, union.c[f"l{i}"]), _grouped_value(plan, union.c[f"r{i}"]))
            for i in range(len(plan.items))
        ],
    )
    order = union.c.k.collate("C") if plan.dialect == "postgresql" else union.c.k
    return (
        sa.select(union.c.k, n_l, n_r, *raws, *flags)
        .group_by(union.c.k)
        .having(sa.or_(union.c.k.is_(None), n_l != 1, n_r != 1, *differs))
        .order_by(order)
    )


def raw_join_select(plan: _Plan) -> sa.Select[Any]:
    """The join on the raw keys (PostgreSQL, keys unique and NOT NULL on each side): the rows
    whose key normalisation changes (*dirty*) first, with their normalised key, then every
    other key that is not a clean match, in key order; the grouping's columns after two."""
    left, right = plan.left.alias("l"), plan.right.alias("r")
    pairs = [(left.c[k.left.column.name], right.c[k.right.column.name]) for k in plan.keys]
    raw_parts = [sa.func.coalesce(lc, rc, type_=sa.String()) for lc, rc in pairs]
    raw_key = _joined(plan, raw_parts)
    normalised_key = _key(plan, raw_parts, ["text"] * len(raw_parts))
    dirty = normalised_key.is_distinct_from(raw_key)
    left_in, right_in = pairs[0][0].is_not(None), pairs[0][1].is_not(None)
    raws, flags, differs = _item_columns(
        plan,
        [(left.c[i.left.column.name], right.c[i.right.column.name]) for i in plan.items],
    )
    return (
        sa.select(
            dirty.label("dirty"),
            normalised_key.label("normalised"),
            raw_key.label("k"),
            sa.case((left_in, 1), else_=0),
            sa.case((right_in, 1), else_=0),
            *raws,
            *flags,
        )
        .select_from(left.join(right, sa.and_(*(lc == rc for lc, rc in pairs)), full=True))
        .where(sa.or_(dirty, ~left_in, ~right_in, *differs))
        .order_by(dirty.desc(), raw_key.collate("C"))
    )


def _counts_select(plan: _Plan) -> sa.Select[Any]:
    def rows(table: sa.Table) -> ColumnElement[int]:
        return sa.select(sa.func.count()).select_from(table).scalar_subquery()

    return sa.select(rows(plan.left), rows(plan.right))


# --- running ---------------------------------------------------------------------------------


class ComparisonRun:
    """One run of a checked comparison: iterate it for the differences (in key order); its
    `counts` are complete once the iteration has ended, and `path` tells how they were found."""

    def __init__(self, center: Center, spec: ComparisonSpec, *, raw_key_join: bool = True) -> None:
        self.center = center
        self.spec = spec
        self._plan = _plan(center, spec)
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
    plan: _Plan,
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


def _run_sqlite(center: Center, plan: _Plan, counts: ComparisonCounts) -> Iterator[Sequence[Any]]:
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
    plan: _Plan, rows: Iterator[Sequence[Any]], counts: ComparisonCounts
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
