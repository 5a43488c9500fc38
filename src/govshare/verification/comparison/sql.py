"""The comparison's SQL: two statements that find the same differences, built from one plan
(`plan.py`). Each returns every key that is not a clean match, in key order: the key, its row
count per side, each item's two text forms, a 0/1 flag per item that differs (the join puts
two columns of its own in front).

- *The grouping* (`comparison_select`, ``Path.GROUP``, always on SQLite): both sides are read
  once, as ``SELECT key, 1, 0, left values … UNION ALL SELECT key, 0, 1, right values …``,
  grouped by the normalised key (PostgreSQL hashes it; SQLite sorts it). Each group carries its
  row count per side and each side's value (min(); a group of one row per side has exactly
  one), and the item normalisations run on the grouped values. The HAVING clause keeps only
  what is not a clean match — a side missing, a key duplicated, an item differing — sorted by
  key. One pass answers what a FULL OUTER JOIN answers *and* finds duplicate keys, which a join
  would silently multiply. Given keys, it groups only the rows of those keys (``= ANY``).
- *The join on raw keys* (`raw_join_select`, ``Path.JOIN``, PostgreSQL, when each side's key
  columns are text, NOT NULL and held unique by a constraint or a plain unique index): a FULL
  OUTER JOIN on the stored keys (hashed), keeping what is not a clean match. The unique raw
  keys rule out duplicates *unless normalisation changes a key* (``' 1'`` and ``'1'``; ``'x'``
  under case). So every joined row also says whether its key is *dirty* (its normalised form
  differs from the stored one), and the statement sorts dirty rows first; a run groups the
  dirty keys apart (`engine.py`). ``tests/verification/comparison/test_raw_key_join.py`` holds
  the two paths to the same differences, order and counts.

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
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from govshare.exchange import masking
from govshare.verification.comparison import normalise
from govshare.verification.comparison.model import KEY_SEPARATOR
from govshare.verification.comparison.normalise import Normaliser
from govshare.verification.comparison.plan import Plan, PlannedPair


def _normalised(
    dialect: str, value: ColumnElement[Any], steps: Sequence[Normaliser], kind: str
) -> ColumnElement[str]:
    if kind == "date":  # a date's text form is YYYY-MM-DD already: spare the patterns
        steps = [s for s in steps if s is not Normaliser.DATE]
    return normalise.normalise_expression(dialect, masking.text_expression(dialect, value), steps)


def _key(
    plan: Plan, parts: Sequence[ColumnElement[Any]], kinds: Sequence[str]
) -> ColumnElement[str]:
    """The normalised key of one row: its parts normalised, joined by KEY_SEPARATOR."""
    normalised = [
        _normalised(plan.dialect, part, key.steps, kind)
        for part, key, kind in zip(parts, plan.keys, kinds, strict=True)
    ]
    return _joined(plan, normalised)


def _joined(plan: Plan, parts: Sequence[ColumnElement[Any]]) -> ColumnElement[str]:
    separated: list[ColumnElement[Any]] = []
    for part in parts:
        if separated:
            separated.append(sa.literal(KEY_SEPARATOR, sa.String()))
        separated.append(part)
    joined = masking.sql_dialect(plan.dialect).concat(*separated) if len(parts) > 1 else parts[0]
    return sa.type_coerce(joined, sa.String())


def _side_select(plan: Plan, side: str, only_keys: Collection[str | None] | None) -> sa.Select[Any]:
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


def _grouped_value(plan: Plan, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The value of a one-row group (PostgreSQL has no min() of booleans)."""
    if plan.dialect == "postgresql" and isinstance(column.type, sa.Boolean):
        return sa.func.bool_or(column, type_=column.type)
    return sa.func.min(column, type_=column.type)


_SAME_TEXT_KINDS = ("text", "int", "date", "bool", "decimal")


def _equal_values_equal_texts(plan: Plan, item: PlannedPair) -> bool:
    """Whether two equal stored values always have equal text forms (PostgreSQL, one kind;
    not floats, where 0 = -0, nor times, whose zones may differ)."""
    if plan.dialect != "postgresql":
        return False
    kinds = {masking.value_kind(c.column.type) for c in (item.left, item.right)}
    return len(kinds) == 1 and kinds <= set(_SAME_TEXT_KINDS)


def _item_columns(
    plan: Plan, values: Sequence[tuple[ColumnElement[Any], ColumnElement[Any]]]
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
    plan: Plan, only_keys: Collection[str | None] | None = None
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


def raw_join_select(plan: Plan) -> sa.Select[Any]:
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
