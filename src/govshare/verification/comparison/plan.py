"""A comparison's definition checked against the center's tables, into the plan its SQL is
built from (`sql.py`): both tables exist, every key part and item names a column of each side,
its normalisation steps are known, and the two columns' types can be compared under them. A
definition that cannot run raises `ComparisonError`, naming the field, in Chinese.

The plan also says whether the join on raw keys may stand for the grouping: on PostgreSQL,
when each side's key columns are text, NOT NULL and held unique by a constraint or a plain
unique index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError

from govshare.exchange import masking
from govshare.exchange.center import Center
from govshare.verification.comparison import normalise
from govshare.verification.comparison.model import ComparisonError, ComparisonSpec, Pair
from govshare.verification.comparison.normalise import Normaliser

KEY_STEPS = (Normaliser.TRIM, Normaliser.EMPTY_AS_NULL)  # every key part, whatever is chosen

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


@dataclass(frozen=True)
class PlannedColumn:
    column: sa.Column[Any]
    kind: str  # a class of _KIND_CLASS


@dataclass(frozen=True)
class PlannedPair:
    pair: Pair
    left: PlannedColumn
    right: PlannedColumn
    steps: tuple[Normaliser, ...]


@dataclass(frozen=True)
class Plan:
    dialect: str
    left: sa.Table
    right: sa.Table
    keys: tuple[PlannedPair, ...]
    items: tuple[PlannedPair, ...]
    raw_keys_unique: bool  # PostgreSQL, text keys, NOT NULL and unique on each side


def plan_comparison(center: Center, spec: ComparisonSpec) -> Plan:
    """The comparison's plan in this center (ComparisonError if it cannot run as defined)."""
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
    return Plan(center.dialect, left, right, keys, items, _raw_keys_unique(center.dialect, keys))


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


def _raw_keys_unique(dialect: str, keys: Sequence[PlannedPair]) -> bool:
    """Whether a join on the raw keys can stand for the grouping (`sql.py`)."""
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


def _column(table: sa.Table, name: str, side: str, what: str, path: str) -> PlannedColumn:
    if not name or name not in table.c:
        shown = name or "（空）"
        raise ComparisonError(f"{what}：{_SIDE_LABEL[side]}没有列 {shown}", field=f"{path}.{side}")
    column = table.c[name]
    return PlannedColumn(column, _KIND_CLASS[masking.value_kind(column.type)])


def _steps(pair: Pair, what: str, path: str) -> tuple[Normaliser, ...]:
    chosen = (pair.normalise,) if isinstance(pair.normalise, str) else pair.normalise
    for step in chosen:
        if step not in Normaliser.__members__.values():
            raise ComparisonError(f"{what}：未知的规范化方式 {step}", field=f"{path}.normalise")
    return normalise.steps(chosen)


def _check_types(
    left: PlannedColumn, right: PlannedColumn, steps: Sequence[Normaliser], what: str, path: str
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
) -> tuple[PlannedPair, ...]:
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
        planned.append(PlannedPair(pair, lcol, rcol, steps))
    return tuple(planned)
