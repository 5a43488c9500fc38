"""Row scope (数据范围): a grant's row filter and a consumer's own filters, once in Python and
once in SQL, plus the masked, filtered SELECT the exchange runs in the provider's database.

`row_matches` is the reference; `filter_clause` compiles the same test for PostgreSQL,
MySQL/MariaDB and SQLite. Conditions work on a column value's text form
(`masking.text_form`, the same on both sides) and follow the order the sharing domain fixed
(`sharing.service.common.sort_key`): a value and a filter value that are both numbers compare
as numbers; otherwise a number sorts before any text and texts compare by code point (binary
collation in SQL: "C" in PostgreSQL, the UTF-8 bytes in MySQL, BINARY in SQLite).

Number syntax (`sharing.service.common.NUMBER_PATTERN`): optional sign, 1–30 ASCII digits, optionally a point
and 1–30 ASCII digits; compared exactly (Decimal, NUMERIC, DECIMAL(65, 30)), never as floats,
so two 18-digit ID numbers stay apart. Narrower than `float()` on purpose: ``1e3``, `` 1``,
``.5``, ``nan``, ``inf`` are text.

========  ======================================================================================
op        a row matches when (NULL never matches)
========  ======================================================================================
eq        its value equals the one filter value: same number, or same text ('010' eq '10',
          '10' eq '10.0'; 'a' eq 'A' is false)
in        it equals one of the filter values (≥ 1)
between   low ≤ value ≤ high, both ends included, in the order above
prefix    its text form starts with the filter value (always text: 10.50 has prefix '10.5')
========  ======================================================================================

`scoped_select` ANDs the grant's conditions with the consumer's `where`. Both apply to the
ORIGINAL values, so a lookup by ID number works while the ID is masked in the output. To keep
masking meaningful a consumer may filter only on projected columns, and on a masked column only
with eq / in (a lookup needs the whole value already); prefix and between on it would reveal the
hidden characters by bisection. `order_by` is the caller's choice (e.g. a stable key for paging)
and sorts on original values; do not pass a consumer's choice of masked column through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from govshare.core.errors import Invalid
from govshare.exchange.masking import (
    Mask,
    Utf8mb4,
    decimal_text,
    mask_expression,
    sql_dialect,
    text_expression,
    text_form,
    value_kind,
)
from govshare.sharing.models import RowOp
from govshare.sharing.service.common import NUMBER_PATTERN, parse_number

_INT64 = (-(2**63), 2**63 - 1)
_ARITY = {RowOp.EQ: (1, 1), RowOp.PREFIX: (1, 1), RowOp.BETWEEN: (2, 2), RowOp.IN: (1, None)}


@dataclass(frozen=True)
class Condition:
    """One filter condition on a physical column (field names are mapped by the caller)."""

    column: str
    op: RowOp
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "op", RowOp(self.op))
        object.__setattr__(self, "values", tuple(self.values))
        if not all(isinstance(v, str) for v in self.values):
            raise ValueError(f"filter values on {self.column!r} must be strings")
        if any("\0" in v for v in self.values):  # PostgreSQL text cannot hold NUL, nor SQL text
            raise ValueError(f"filter values on {self.column!r} must not contain NUL")
        low, high = _ARITY[self.op]
        if len(self.values) < low or (high is not None and len(self.values) > high):
            raise ValueError(
                f"{self.op.value} on {self.column!r} takes {low}..{high or 'n'} values"
            )


# --- the reference -------------------------------------------------------------------------

_Key = tuple[int, Decimal, str]


def _key(text: str) -> _Key:
    """Where `text` sits in the shared order: numbers first, by value; then texts."""
    number = parse_number(text)
    return (0, number, "") if number is not None else (1, Decimal(0), text)


def value_matches(value: object, condition: Condition) -> bool:
    """Whether one value satisfies one condition (the reference)."""
    text = text_form(value)
    if text is None:
        return False
    if condition.op is RowOp.PREFIX:
        return text.startswith(condition.values[0])
    key = _key(text)
    if condition.op is RowOp.BETWEEN:
        low, high = condition.values
        return _key(low) <= key <= _key(high)
    return any(key == _key(v) for v in condition.values)


def row_matches(row: Mapping[str, object], conditions: Iterable[Condition]) -> bool:
    """Whether a row (column name → value) satisfies every condition."""
    return all(value_matches(row[c.column], c) for c in conditions)


# --- SQL -----------------------------------------------------------------------------------


class _Compare:
    """How one database tests the number syntax and compares numbers and texts exactly."""

    def is_number(self, t: ColumnElement[str]) -> ColumnElement[bool]:
        raise NotImplementedError

    def numbers(self, t: ColumnElement[str], op: str, number: Decimal) -> ColumnElement[bool]:
        raise NotImplementedError

    def texts(self, t: ColumnElement[str], op: str, text: str) -> ColumnElement[bool]:
        raise NotImplementedError

    def starts_with(self, t: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
        raise NotImplementedError


def _text(value: str) -> ColumnElement[str]:
    return sa.literal(value, sa.String())


class _PostgresCompare(_Compare):
    def is_number(self, t: ColumnElement[str]) -> ColumnElement[bool]:
        # PostgreSQL's '$' matches only at the very end (no newline-sensitive flag)
        return t.op("~", is_comparison=True)(_text(f"^{NUMBER_PATTERN}$"))

    def numbers(self, t: ColumnElement[str], op: str, number: Decimal) -> ColumnElement[bool]:
        value = sa.cast(_text(decimal_text(number)), sa.Numeric())
        return sa.cast(t, sa.Numeric()).op(op, is_comparison=True)(value)

    def texts(self, t: ColumnElement[str], op: str, text: str) -> ColumnElement[bool]:
        return t.collate("C").op(op, is_comparison=True)(_text(text))

    def starts_with(self, t: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
        head = sa.func.left(t, sa.literal(len(prefix), sa.Integer()), type_=sa.String())
        return self.texts(head, "=", prefix)


class _MySqlCompare(_Compare):
    def is_number(self, t: ColumnElement[str]) -> ColumnElement[bool]:
        # MariaDB's PCRE lets '$' match before a final newline: rule out any other character first
        only = sa.not_(t.op("REGEXP", is_comparison=True)(_text("[^0-9.+-]")))
        return sa.and_(only, t.op("REGEXP", is_comparison=True)(_text(f"^{NUMBER_PATTERN}$")))

    def numbers(self, t: ColumnElement[str], op: str, number: Decimal) -> ColumnElement[bool]:
        exact = sa.Numeric(65, 30)
        value = sa.cast(_text(decimal_text(number)), exact)
        return sa.cast(t, exact).op(op, is_comparison=True)(value)

    @staticmethod
    def _bytes(t: ColumnElement[str]) -> ColumnElement[bytes]:
        # UTF-8 byte order is code point order; a binary string has no PAD SPACE and no case folding
        return sa.cast(Utf8mb4(t), sa.LargeBinary())

    def texts(self, t: ColumnElement[str], op: str, text: str) -> ColumnElement[bool]:
        return self._bytes(t).op(op, is_comparison=True)(self._bytes(_text(text)))

    def starts_with(self, t: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
        size = sa.literal(len(prefix.encode("utf-8")), sa.Integer())
        head = sa.func.left(self._bytes(t), size, type_=sa.LargeBinary())
        return head == self._bytes(_text(prefix))


class _SqliteCompare(_Compare):
    def is_number(self, t: ColumnElement[str]) -> ColumnElement[bool]:
        return sa.func.govshare_is_number(t, type_=sa.Integer()) == 1

    def numbers(self, t: ColumnElement[str], op: str, number: Decimal) -> ColumnElement[bool]:
        order = sa.func.govshare_numcmp(t, _text(decimal_text(number)), type_=sa.Integer())
        return order.op(op, is_comparison=True)(sa.literal(0, sa.Integer()))

    def texts(self, t: ColumnElement[str], op: str, text: str) -> ColumnElement[bool]:
        return t.collate("BINARY").op(op, is_comparison=True)(_text(text))

    def starts_with(self, t: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
        head = sa.func.substr(t, 1, sa.literal(len(prefix), sa.Integer()), type_=sa.String())
        return self.texts(head, "=", prefix)


_COMPARE: dict[str, _Compare] = {
    "postgresql": _PostgresCompare(),
    "mysql": _MySqlCompare(),
    "sqlite": _SqliteCompare(),
}

# For a number bound: (text-form value is a number → compare, value is text → constant).
_TEXT_SIDE = {">=": True, "<=": False, "=": False}


def _against(compare: _Compare, t: ColumnElement[str], op: str, bound: str) -> ColumnElement[bool]:
    """`t op bound` in the shared order, for a non-NULL `t` (op is =, >= or <=)."""
    number = parse_number(bound)
    is_number = compare.is_number(t)
    if number is not None:
        return sa.case(
            (is_number, compare.numbers(t, op, number)), else_=sa.literal(_TEXT_SIDE[op])
        )
    if op == "=":
        return compare.texts(t, op, bound)  # equal texts are both numbers or both not
    # a number sits below any text: never >= a text bound, always <= it
    return sa.case((is_number, sa.literal(op == "<=")), else_=compare.texts(t, op, bound))


def _generic(dialect: str, column: ColumnElement[Any], condition: Condition) -> ColumnElement[bool]:
    compare = _COMPARE[dialect]
    t = text_expression(dialect, column)
    if condition.op is RowOp.PREFIX:
        test = compare.starts_with(t, condition.values[0])
    elif condition.op is RowOp.BETWEEN:
        low, high = condition.values
        test = sa.and_(_against(compare, t, ">=", low), _against(compare, t, "<=", high))
    else:
        test = sa.or_(*(_against(compare, t, "=", v) for v in condition.values))
    return sa.and_(t.is_not(None), test)


def _numeric_column(dialect: str, column: ColumnElement[Any]) -> Callable[[Decimal], Any] | None:
    """A literal maker when the column's values are always numbers in the shared syntax."""
    kind = value_kind(column.type)
    if kind == "int":
        return lambda d: sa.literal(int(d), sa.BigInteger())  # an INTEGER bind overflows
    if kind != "decimal" or dialect == "sqlite":  # SQLite keeps NUMERIC as a float
        return None
    precision, scale = (
        getattr(column.type, "precision", None),
        getattr(column.type, "scale", None) or 0,
    )
    if precision is None or precision - scale > 30 or scale > 30:
        return None
    exact = sa.Numeric(65, 30) if dialect == "mysql" else sa.Numeric()
    return lambda d: sa.cast(sa.literal(decimal_text(d), sa.String()), exact)


def _fits_int64(condition: Condition) -> bool:
    numbers = (parse_number(v) for v in condition.values)
    return all(n is None or _INT64[0] <= n <= _INT64[1] for n in numbers)


def _fast(
    column: ColumnElement[Any], condition: Condition, literal: Callable[[Decimal], Any], whole: bool
) -> Any:
    """A numeric column compared directly (index-friendly); text filter values become constants.

    `whole` (an integer column) rounds bounds inward and drops fractional equals, so no literal
    is ever a fraction and SQLite never falls back to floats.
    """
    numbers = [parse_number(v) for v in condition.values]
    if condition.op is RowOp.BETWEEN:
        low, high = numbers
        if low is None:  # a text low bound is above every number
            return sa.false()
        parts = [column >= literal(low.to_integral_value(ROUND_CEILING) if whole else low)]
        if high is not None:  # a text high bound is above every number: no upper limit
            parts.append(column <= literal(high.to_integral_value(ROUND_FLOOR) if whole else high))
        return sa.and_(*parts)
    wanted = [n for n in numbers if n is not None and not (whole and n != n.to_integral_value())]
    return sa.or_(*(column == literal(n) for n in wanted)) if wanted else sa.false()


def condition_clause(
    dialect: str, column: ColumnElement[Any], condition: Condition
) -> ColumnElement[bool]:
    """One condition on one column expression, equal to `value_matches`."""
    literal = _numeric_column(dialect, column)
    if literal is None or condition.op is RowOp.PREFIX:
        return _generic(dialect, column, condition)
    whole = value_kind(column.type) == "int"
    if whole and not _fits_int64(condition):
        return _generic(dialect, column, condition)
    return sa.and_(column.is_not(None), _fast(column, condition, literal, whole))


def filter_clause(
    dialect: str, table: sa.Table, conditions: Iterable[Condition]
) -> ColumnElement[bool]:
    """All conditions ANDed, equal to `row_matches` (true when there are none)."""
    sql_dialect(dialect)  # rejects an unknown dialect
    clauses = [condition_clause(dialect, _column(table, c.column), c) for c in conditions]
    return sa.and_(sa.true(), *clauses)


def _column(table: sa.Table, name: str) -> ColumnElement[Any]:
    try:
        return table.c[name]
    except KeyError:
        raise ValueError(f"table {table.name!r} has no column {name!r}") from None


def _check_where(
    where: Sequence[Condition], columns: Sequence[str], masks: Mapping[str, Mask]
) -> None:
    for condition in where:
        if condition.column not in columns:
            raise Invalid(f"不能按未授权的字段“{condition.column}”筛选", field=condition.column)
        if condition.column in masks and condition.op not in (RowOp.EQ, RowOp.IN):
            raise Invalid(
                f"字段“{condition.column}”已脱敏，只能按“等于”或“属于其一”筛选",
                field=condition.column,
            )


def scoped_select(
    table: sa.Table,
    *,
    dialect: str,
    columns: Sequence[str],
    conditions: Sequence[Condition],
    masks: Mapping[str, Mask],
    key: bytes,
    where: Sequence[Condition] = (),
    order_by: Sequence[str] = (),
) -> sa.Select[Any]:
    """The granted columns in order, masked, of the rows the grant and `where` admit."""
    if not columns or len(set(columns)) != len(columns):
        raise ValueError("columns must be a non-empty list without repeats")
    for name in (*columns, *masks, *order_by):
        _column(table, name)
    _check_where(where, columns, masks)
    projection = [
        (
            mask_expression(dialect, table.c[name], masks[name], key=key)
            if name in masks
            else table.c[name]
        ).label(name)
        for name in columns
    ]
    return (
        sa.select(*projection)
        .select_from(table)
        .where(filter_clause(dialect, table, [*conditions, *where]))
        .order_by(*(table.c[name] for name in order_by))
    )


def _literal_dialect(dialect: str) -> Dialect:
    # a named paramstyle keeps '%' single in rendered literals (pyformat would double it)
    dialects: dict[str, Callable[[], Dialect]] = {
        "postgresql": lambda: postgresql.psycopg.dialect(paramstyle="named"),
        "mysql": lambda: mysql.pymysql.dialect(paramstyle="named"),
        "sqlite": lambda: sqlite.pysqlite.dialect(paramstyle="named"),
    }
    sql_dialect(dialect)
    return dialects[dialect]()


def literal_sql(select: sa.Select[Any], dialect: str) -> str:
    """The statement as plain SQL with every value inlined (for `COPY (…) TO STDOUT`).

    MySQL text assumes the server's default backslash escapes (no NO_BACKSLASH_ESCAPES mode).
    """
    compiled = select.compile(
        dialect=_literal_dialect(dialect), compile_kwargs={"literal_binds": True}
    )
    return str(compiled)
