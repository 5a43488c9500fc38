"""Normalisation (规范化) of compared values: one rule, once in Python and once in SQL.

A comparison never compares stored values directly: it compares their *text forms*
(`exchange.masking.text_form`, the same on PostgreSQL and SQLite) after the steps the
operator chose for the item. `normalise_text` is the reference; `normalise_expression`
compiles the same steps for PostgreSQL (translate, btrim, regexp_replace) and for SQLite
(built-in trim/upper plus two deterministic functions registered on the connection by
`register_sqlite_functions`). `tests/verification/comparison/test_normalise.py` holds the
two to each other on both databases.

The steps always run in this order, whatever order they are given in:

=================  ===============================================================================
step               effect on the text form t
=================  ===============================================================================
halfwidth          full-width ASCII (U+FF01–U+FF5E) to ASCII, the ideographic space U+3000 to a
                   space: ``１２３ＡＢ`` → ``123AB``
trim               leading and trailing spaces, tabs, CR, LF, U+3000 and U+00A0 removed
case               ASCII letters to upper case (``x`` → ``X`` in an ID number); other
                   letters are left alone, as SQLite's upper() does
date               ``YYYY-M-D``, ``YYYY/M/D``, ``YYYY.M.D``, ``YYYY年M月D日`` (month and day of one
                   or two digits, an optional time after a space or ``T``) and ``YYYYMMDD``
                   become ``YYYY-MM-DD``; anything else is left as it is (and will differ). The
                   calendar is not checked: ``2026-02-30`` stays a date.
empty_as_null      the empty text becomes NULL
=================  ===============================================================================

NULL stays NULL under every step. Without ``empty_as_null`` an empty text and NULL differ;
two NULLs are equal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement


class Normaliser(StrEnum):
    """A normalisation step an item (or a key) may ask for."""

    HALFWIDTH = "halfwidth"
    TRIM = "trim"
    CASE = "case"
    DATE = "date"
    EMPTY_AS_NULL = "empty_as_null"

    @property
    def label(self) -> str:
        """The step's name as the operator sees it."""
        return _LABELS[self]


_LABELS = {
    Normaliser.HALFWIDTH: "全角转半角",
    Normaliser.TRIM: "去除首尾空白",
    Normaliser.CASE: "忽略大小写",
    Normaliser.DATE: "日期格式统一",
    Normaliser.EMPTY_AS_NULL: "空串视为空值",
}
ORDER = tuple(Normaliser)  # the order steps run in (the enum's order)

FULL_WIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
HALF_WIDTH = "".join(chr(c) for c in range(0x21, 0x7F)) + " "
LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER = LOWER.upper()
BLANKS = " \t\r\n\u3000\u00a0"

_HALFWIDTH_TABLE = str.maketrans(FULL_WIDTH, HALF_WIDTH)
_UPPER_TABLE = str.maketrans(LOWER, UPPER)
# One pattern for Python and PostgreSQL (ARE): only features both read the same way.
DATE_PATTERN = "^([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?([ T].*)?$"
ISO_DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
COMPACT_DATE_PATTERN = "^([0-9]{4})([0-9]{2})([0-9]{2})$"
_DATE = re.compile(DATE_PATTERN, re.DOTALL)
_COMPACT_DATE = re.compile(COMPACT_DATE_PATTERN)


def steps(chosen: Iterable[Normaliser | str]) -> tuple[Normaliser, ...]:
    """The chosen steps in the order they run, each once (ValueError for an unknown one)."""
    wanted = {Normaliser(s) for s in chosen}
    return tuple(s for s in ORDER if s in wanted)


# --- the reference -------------------------------------------------------------------------


def normalise_date(t: str) -> str:
    """A date text as YYYY-MM-DD, or `t` unchanged when it is not one."""
    found = _DATE.fullmatch(t) or _COMPACT_DATE.fullmatch(t)  # fullmatch: '$' as in SQL
    if found is None:
        return t
    year, month, day = found.group(1), found.group(2), found.group(3)
    return f"{year}-{month.zfill(2)}-{day.zfill(2)}"


def normalise_text(t: str | None, chosen: Iterable[Normaliser | str]) -> str | None:
    """The text form after the chosen steps: the reference the SQL must reproduce."""
    for step in steps(chosen):
        if t is None:
            return None
        if step is Normaliser.HALFWIDTH:
            t = t.translate(_HALFWIDTH_TABLE)
        elif step is Normaliser.TRIM:
            t = t.strip(BLANKS)
        elif step is Normaliser.CASE:
            t = t.translate(_UPPER_TABLE)
        elif step is Normaliser.DATE:
            t = normalise_date(t)
        elif t == "":
            t = None
    return t


# --- SQL -----------------------------------------------------------------------------------


def _lit(value: str) -> ColumnElement[str]:
    return sa.literal(value, sa.String())


def _date_sql_postgres(t: ColumnElement[str]) -> ColumnElement[str]:
    def replace(text: ColumnElement[str], pattern: str, into: str) -> ColumnElement[str]:
        return sa.func.regexp_replace(text, _lit(pattern), _lit(into), type_=sa.String())

    # Zero-pad both parts, then cut the pad where the part already had two digits.
    padded = replace(t, DATE_PATTERN, r"\1-0\2-0\3")
    dashed = replace(padded, "^([0-9]{4})-0?([0-9]{2})-0?([0-9]{2})$", r"\1-\2-\3")
    compact = replace(t, COMPACT_DATE_PATTERN, r"\1-\2-\3")
    return sa.case(
        (t.op("~", is_comparison=True)(_lit(ISO_DATE_PATTERN)), t),  # the common case, cheaply
        (t.op("~", is_comparison=True)(_lit(DATE_PATTERN)), dashed),
        (t.op("~", is_comparison=True)(_lit(COMPACT_DATE_PATTERN)), compact),
        else_=t,
    )


def normalise_expression(
    dialect: str, t: ColumnElement[str], chosen: Iterable[Normaliser | str]
) -> ColumnElement[str]:
    """`normalise_text` as SQL over a text form `t` for 'postgresql' or 'sqlite'."""
    if dialect not in ("postgresql", "sqlite"):
        raise ValueError(f"comparisons run on PostgreSQL or SQLite, not {dialect!r}")
    postgres = dialect == "postgresql"
    for step in steps(chosen):
        t = _step_sql(postgres, step, t)
    return sa.type_coerce(t, sa.String())


def _step_sql(postgres: bool, step: Normaliser, t: ColumnElement[str]) -> ColumnElement[str]:
    if step is Normaliser.HALFWIDTH:
        if postgres:  # translate() searches its 96 characters for each one: only when needed
            wide = t.op("~", is_comparison=True)(_lit(f"[{FULL_WIDTH[0]}-{FULL_WIDTH[-2]}\u3000]"))
            full = sa.func.translate(t, _lit(FULL_WIDTH), _lit(HALF_WIDTH), type_=sa.String())
            return sa.case((wide, full), else_=t)
        return sa.func.govshare_halfwidth(t, type_=sa.String())
    if step is Normaliser.TRIM:
        return (sa.func.btrim if postgres else sa.func.trim)(t, _lit(BLANKS), type_=sa.String())
    if step is Normaliser.CASE:
        if postgres:  # under the C collation upper() changes ASCII letters only
            return sa.func.upper(sa.collate(t, "C"), type_=sa.String())
        return sa.func.upper(t, type_=sa.String())  # ASCII only in SQLite without ICU
    if step is Normaliser.DATE:
        return _date_sql_postgres(t) if postgres else sa.func.govshare_date(t, type_=sa.String())
    return sa.func.nullif(t, _lit(""), type_=sa.String())


# --- SQLite helpers ------------------------------------------------------------------------


def _sqlite_halfwidth(t: str | None) -> str | None:
    return None if t is None else t.translate(_HALFWIDTH_TABLE)


def _sqlite_date(t: str | None) -> str | None:
    return None if t is None else normalise_date(t)


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Give a sqlite3 connection the steps SQLite lacks (deterministic, so usable anywhere)."""
    dbapi_connection.create_function("govshare_halfwidth", 1, _sqlite_halfwidth, deterministic=True)
    dbapi_connection.create_function("govshare_date", 1, _sqlite_date, deterministic=True)
