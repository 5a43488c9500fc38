"""Masking (脱敏): the rules a grant names per field, once in Python and once in SQL.

`mask_value` is the reference; `mask_expression` compiles the same rule for PostgreSQL,
MySQL/MariaDB and SQLite, so the exchange masks inside the provider's database (inside
`COPY (SELECT …)`) and the result equals what `mask_value` would give, character for character.
The agreement tests in `tests/exchange/test_masking.py` hold both sides to that.

Every rule works on the value's *text form* and counts characters (code points), never bytes:

=============  =================================================================================
value type     text form (same in Python and in SQL)
=============  =================================================================================
str            as is
bool           ``true`` / ``false``
int            decimal digits, ``-`` for negatives
Decimal        plain notation, no exponent, trailing fraction zeros and a bare point removed,
               zero is ``0``: 10.50 → ``10.5``, 0.000 → ``0``, 1E+2 → ``100``
float          as Decimal of its shortest repr: 1.0 → ``1``, 0.1 → ``0.1`` (see caveats)
date           ISO ``2020-01-31``
datetime       ``2020-01-31 08:05:09``, ``.ffffff`` appended only when microseconds are not 0;
               an offset is dropped (the wall time as read is kept)
other          ``str(value)`` / ``CAST(… AS TEXT)`` (no agreement promised)
=============  =================================================================================

With t the text form and L its length in characters. NULL stays NULL under every rule.

=============  =================================================================================
rule           result (text unless said otherwise)
=============  =================================================================================
(generic)      L > 2: first char + ``*`` × (L − 2) + last char; otherwise ``*`` × L
id_number      L is 15 or 18 (GB 11643): first 6 + ``*`` × (L − 10) + last 4
               (``110101********123X``); any other length: generic
mobile         exactly 11 ASCII digits: first 3 + ``****`` + last 4; otherwise generic
name           first char + ``*`` × (L − 1) (``张*``, ``欧阳**``); L ≤ 1: ``*`` × L
bank_card      L ≥ 12: first 6 + ``*`` × (L − 10) + last 4; otherwise generic
address        L > 6: first 6 + ``*`` × (L − 6); otherwise first ⌊L/2⌋ + ``*`` for the rest
email          with an ``@``: first char of the part before the first ``@`` (none when that
               part is empty) + ``***@`` + everything after the first ``@``; otherwise generic
keep_first n   L ≤ n: t; otherwise first n + ``*`` × (L − n)
keep_last n    L ≤ n: t; otherwise ``*`` × (L − n) + last n
hash           HMAC-SHA256 keyed with the exchange key over the UTF-8 of t, lowercase hex
null           NULL, whatever the value
year_only      t starts with 4 ASCII digits (dates and datetimes always do): those 4; else NULL
=============  =================================================================================

Caveats: SQLite keeps NUMERIC as a binary float, so there a decimal's text form is that of the
float (exact for up to 15 significant digits and no more decimals than the column's scale).
Floats agree on PostgreSQL and SQLite for any finite value and on MySQL below 1e35; NaN and
infinities have no promised form. CHAR(n) padding and TIME columns are not covered.

Numbers (used by the row filters in `scope`) have one syntax on both sides, deliberately
narrower than `float()`: an optional sign, 1–30 ASCII digits, optionally a point and 1–30 ASCII
digits (`NUMBER_PATTERN`). ``1e3``, `` 1``, ``.5``, ``5.``, ``nan`` and ``inf`` are text. The
bounds keep every number exact in MySQL's DECIMAL(65, 30).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from govshare.sharing.models import MaskRule
from govshare.sharing.service.common import parse_number

DIALECTS = ("postgresql", "mysql", "sqlite")
MAX_N = 64  # the grant schema's bound on keep_first / keep_last
MIN_KEY_BYTES = 16  # a shorter key makes the hash of an ID number guessable by brute force

_HMAC_BLOCK = 64  # SHA-256 block size in bytes
_STAR = "*"

# --- text forms and numbers (reference) ---------------------------------------------------


def decimal_text(value: Decimal) -> str:
    """Plain notation without exponent or trailing fraction zeros; never rounds."""
    if not value.is_finite():
        return str(value)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def text_form(value: object) -> str | None:
    """The text every masking rule and every filter works on (see the module table)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, float):
        return decimal_text(Decimal(repr(value)))
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def hmac_hex(text: str, key: bytes) -> str:
    """HMAC-SHA256 of the UTF-8 of `text`, lowercase hex."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


# --- the reference -------------------------------------------------------------------------


@dataclass(frozen=True)
class Mask:
    """One masking rule as the exchange applies it (n only for keep_first / keep_last)."""

    rule: MaskRule
    n: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", MaskRule(self.rule))
        if self.rule.takes_n:
            if isinstance(self.n, bool) or not isinstance(self.n, int):
                raise ValueError(f"{self.rule.value} needs an integer n")
            if not 1 <= self.n <= MAX_N:
                raise ValueError(f"{self.rule.value}: n must be within 1..{MAX_N}, got {self.n}")
        elif self.n is not None:
            raise ValueError(f"{self.rule.value} takes no n")


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the hash rule needs a key of at least {MIN_KEY_BYTES} bytes")


def _generic(t: str) -> str:
    size = len(t)
    return t[0] + _STAR * (size - 2) + t[-1] if size > 2 else _STAR * size


def _ends(t: str, head: int, tail: int) -> str:
    """First `head` and last `tail` characters kept, the middle starred."""
    size = len(t)
    return t[:head] + _STAR * (size - head - tail) + t[size - tail :]


def _email(t: str) -> str:
    if "@" not in t:
        return _generic(t)
    local, domain = t.split("@", 1)
    return local[:1] + "***@" + domain


def _address(t: str) -> str:
    keep = 6 if len(t) > 6 else len(t) // 2
    return t[:keep] + _STAR * (len(t) - keep)


def _mobile(t: str) -> str:
    if len(t) == 11 and all("0" <= c <= "9" for c in t):
        return t[:3] + "****" + t[7:]
    return _generic(t)


def _year(t: str) -> str | None:
    head = t[:4]
    return head if len(head) == 4 and all("0" <= c <= "9" for c in head) else None


def _masker(mask: Mask, key: bytes) -> Callable[[str], str | None]:
    n = mask.n or 0
    rules: dict[MaskRule, Callable[[str], str | None]] = {
        MaskRule.ID_NUMBER: lambda t: _ends(t, 6, 4) if len(t) in (15, 18) else _generic(t),
        MaskRule.MOBILE: _mobile,
        MaskRule.NAME: lambda t: t[:1] + _STAR * (len(t) - 1) if len(t) > 1 else _STAR * len(t),
        MaskRule.BANK_CARD: lambda t: _ends(t, 6, 4) if len(t) >= 12 else _generic(t),
        MaskRule.ADDRESS: _address,
        MaskRule.EMAIL: _email,
        MaskRule.KEEP_FIRST: lambda t: t if len(t) <= n else _ends(t, n, 0),
        MaskRule.KEEP_LAST: lambda t: t if len(t) <= n else _ends(t, 0, n),
        MaskRule.HASH: lambda t: hmac_hex(t, key),
        MaskRule.NULL: lambda t: None,
        MaskRule.YEAR_ONLY: _year,
    }
    return rules[mask.rule]


def mask_value(value: object, mask: Mask, *, key: bytes) -> object:
    """The masked value: the reference every SQL dialect must reproduce exactly."""
    if mask.rule is MaskRule.HASH:
        _check_key(key)
    t = text_form(value)
    return None if t is None else _masker(mask, key)(t)


# --- SQL -----------------------------------------------------------------------------------


class Utf8mb4(FunctionElement[str]):
    """MySQL's CONVERT(x USING utf8mb4): the bytes Python would hash, whatever the column's charset."""

    type = sa.String()
    inherit_cache = True
    name = "convert_utf8mb4"


@compiles(Utf8mb4)
def _compile_utf8mb4(element: Utf8mb4, compiler: Any, **kw: Any) -> str:
    return f"CONVERT({compiler.process(element.clauses, **kw)} USING utf8mb4)"


def _lit(value: str | int) -> ColumnElement[Any]:
    """A constant that renders under literal_binds and binds with a type otherwise."""
    return sa.literal(value, sa.Integer() if isinstance(value, int) else sa.String())


_Int = ColumnElement[Any] | int


def _args(t: ColumnElement[str], *numbers: _Int | None) -> list[ColumnElement[Any]]:
    return [t, *(_lit(x) if isinstance(x, int) else x for x in numbers if x is not None)]


def _plain_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    return type_.impl_instance if isinstance(type_, TypeDecorator) else type_


def value_kind(type_: TypeEngine[Any]) -> str:
    """Which text-form conversion a column of this SQL type needs."""
    type_ = _plain_type(type_)
    kinds: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
        (sa.Boolean, "bool"),
        (sa.Integer, "int"),
        (sa.Float, "float"),
        (sa.Numeric, "decimal"),
        (sa.DateTime, "datetime"),
        (sa.Date, "date"),
        (sa.Enum, "other"),
        (sa.String, "text"),
    )
    return next((kind for cls, kind in kinds if isinstance(type_, cls)), "other")


class SqlDialect:
    """The string primitives the rules are built from, in one database's spelling."""

    name = ""

    def text(self, column: ColumnElement[Any]) -> ColumnElement[str]:
        """The column's text form (see the module table), NULL for NULL."""
        kind = value_kind(column.type)
        build = getattr(self, f"_text_{kind}")
        return sa.type_coerce(build(column), sa.String())

    def _text_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return column

    def _text_other(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.cast(column, sa.Text())

    _text_int = _text_other
    _text_date = _text_other

    def _text_bool(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.case((column != 0, _lit("true")), (column == 0, _lit("false")))

    def concat(self, *parts: ColumnElement[Any]) -> ColumnElement[str]:
        result = parts[0]
        for part in parts[1:]:
            result = result.op("||", return_type=sa.String())(part)
        return result

    def length(self, t: ColumnElement[str]) -> ColumnElement[int]:
        return sa.func.length(t, type_=sa.Integer())

    def substr(
        self, t: ColumnElement[str], start: _Int, count: _Int | None = None
    ) -> ColumnElement[str]:
        """Characters from 1-based `start`, `count` of them or up to the end."""
        return sa.func.substr(*_args(t, start, count), type_=sa.String())

    def stars(self, count: ColumnElement[int]) -> ColumnElement[str]:
        return sa.func.repeat(_lit(_STAR), count, type_=sa.String())

    def half(self, count: ColumnElement[int]) -> ColumnElement[int]:
        return count.op("/", return_type=sa.Integer())(_lit(2))

    def find_at(self, t: ColumnElement[str]) -> ColumnElement[int]:
        raise NotImplementedError

    def digits_only(self, t: ColumnElement[str]) -> ColumnElement[bool]:
        """True when `t` holds no character other than ASCII digits (also for '')."""
        raise NotImplementedError

    def hmac(self, t: ColumnElement[str], key: bytes) -> ColumnElement[str]:
        raise NotImplementedError


def _padded(key: bytes, pad: int) -> str:
    """HMAC's inner or outer key block, as hex (RFC 2104)."""
    if len(key) > _HMAC_BLOCK:
        key = hashlib.sha256(key).digest()
    return bytes(b ^ pad for b in key.ljust(_HMAC_BLOCK, b"\0")).hex()


class _Postgres(SqlDialect):
    name = "postgresql"

    def _text_decimal(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.cast(sa.func.trim_scale(column), sa.Text())

    def _text_float(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # float8 → text is the shortest exact repr (PG ≥ 12), like Python's repr
        return self._text_decimal(sa.cast(sa.cast(column, sa.Text()), sa.Numeric()))

    def _text_bool(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.case((column, _lit("true")), (sa.not_(column), _lit("false")))

    def _text_date(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.func.to_char(column, _lit("YYYY-MM-DD"))

    def _text_datetime(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        micro = sa.func.to_char(column, _lit("US"))
        fraction = sa.case((micro != _lit("000000"), self.concat(_lit("."), micro)), else_=_lit(""))
        return self.concat(sa.func.to_char(column, _lit("YYYY-MM-DD HH24:MI:SS")), fraction)

    def find_at(self, t: ColumnElement[str]) -> ColumnElement[int]:
        return sa.func.strpos(t, _lit("@"), type_=sa.Integer())

    def digits_only(self, t: ColumnElement[str]) -> ColumnElement[bool]:
        return t.op("!~", is_comparison=True)(_lit("[^0-9]"))

    def hmac(self, t: ColumnElement[str], key: bytes) -> ColumnElement[str]:
        def block(pad: int) -> ColumnElement[bytes]:
            return sa.func.decode(_lit(_padded(key, pad)), _lit("hex"), type_=sa.LargeBinary())

        def cat(left: ColumnElement[bytes], right: ColumnElement[bytes]) -> ColumnElement[bytes]:
            return left.op("||", return_type=sa.LargeBinary())(right)

        message = sa.func.convert_to(t, _lit("UTF8"), type_=sa.LargeBinary())
        inner = sa.func.sha256(cat(block(0x36), message), type_=sa.LargeBinary())
        outer = sa.func.sha256(cat(block(0x5C), inner), type_=sa.LargeBinary())
        return sa.func.encode(outer, _lit("hex"), type_=sa.String())


class _MySql(SqlDialect):
    name = "mysql"

    def _text_other(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.cast(column, sa.String())

    _text_int = _text_other

    def _text_decimal(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        text = sa.cast(column, sa.String())
        trimmed = sa.func.regexp_replace(text, _lit("[.]?0+$"), _lit(""), type_=sa.String())
        return sa.case((sa.func.locate(_lit("."), text) > 0, trimmed), else_=text)

    def _text_float(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return self._text_decimal(sa.cast(sa.cast(column, sa.String()), sa.Numeric(65, 30)))

    def _text_date(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.func.date_format(column, _lit("%Y-%m-%d"))

    def _text_datetime(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        fraction = sa.case(
            (sa.func.microsecond(column) != 0, sa.func.date_format(column, _lit(".%f"))),
            else_=_lit(""),
        )
        return self.concat(sa.func.date_format(column, _lit("%Y-%m-%d %H:%i:%s")), fraction)

    def concat(self, *parts: ColumnElement[Any]) -> ColumnElement[str]:
        return sa.func.concat(*parts, type_=sa.String())

    def length(self, t: ColumnElement[str]) -> ColumnElement[int]:
        return sa.func.char_length(t, type_=sa.Integer())  # LENGTH counts bytes

    def substr(
        self, t: ColumnElement[str], start: _Int, count: _Int | None = None
    ) -> ColumnElement[str]:
        return sa.func.substring(*_args(t, start, count), type_=sa.String())

    def half(self, count: ColumnElement[int]) -> ColumnElement[int]:
        return count.op("DIV", return_type=sa.Integer())(_lit(2))

    def find_at(self, t: ColumnElement[str]) -> ColumnElement[int]:
        return sa.func.locate(_lit("@"), t, type_=sa.Integer())

    def digits_only(self, t: ColumnElement[str]) -> ColumnElement[bool]:
        # no anchors: MariaDB's PCRE lets '$' match before a final newline
        return sa.not_(t.op("REGEXP", is_comparison=True)(_lit("[^0-9]")))

    def hmac(self, t: ColumnElement[str], key: bytes) -> ColumnElement[str]:
        def block(pad: int) -> ColumnElement[bytes]:
            return sa.func.unhex(_lit(_padded(key, pad)), type_=sa.LargeBinary())

        inner = sa.func.sha2(sa.func.concat(block(0x36), Utf8mb4(t)), _lit(256))
        outer = sa.func.sha2(sa.func.concat(block(0x5C), sa.func.unhex(inner)), _lit(256))
        return sa.func.lower(outer, type_=sa.String())


class _Sqlite(SqlDialect):
    name = "sqlite"

    def _text_decimal(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.func.govshare_decimal_text(column, type_=sa.String())

    _text_float = _text_decimal

    def _text_datetime(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff'; drop a zero fraction as Python does
        text = sa.cast(column, sa.Text())
        bare = self.substr(text, 20).in_([_lit(""), _lit(".000000")])
        return sa.case((bare, self.substr(text, 1, 19)), else_=text)

    def stars(self, count: ColumnElement[int]) -> ColumnElement[str]:
        zeros = sa.func.hex(sa.func.zeroblob(count), type_=sa.String())  # no repeat() in SQLite
        return sa.func.replace(zeros, _lit("00"), _lit(_STAR), type_=sa.String())

    def find_at(self, t: ColumnElement[str]) -> ColumnElement[int]:
        return sa.func.instr(t, _lit("@"), type_=sa.Integer())

    def digits_only(self, t: ColumnElement[str]) -> ColumnElement[bool]:
        return t.op("NOT GLOB", is_comparison=True)(_lit("*[^0-9]*"))

    def hmac(self, t: ColumnElement[str], key: bytes) -> ColumnElement[str]:
        return sa.func.govshare_hmac_sha256(_lit(key.hex()), t, type_=sa.String())


_SQL: dict[str, SqlDialect] = {d.name: d for d in (_Postgres(), _MySql(), _Sqlite())}


def sql_dialect(dialect: str) -> SqlDialect:
    """The primitives for 'postgresql', 'mysql' (also MariaDB) or 'sqlite'."""
    try:
        return _SQL[dialect]
    except KeyError:
        raise ValueError(f"unsupported dialect {dialect!r}; expected one of {DIALECTS}") from None


def text_expression(dialect: str, column: ColumnElement[Any]) -> ColumnElement[str]:
    """The column's text form in SQL, equal to `text_form` of the value Python reads."""
    return sql_dialect(dialect).text(column)


def _generic_sql(sql: SqlDialect, t: ColumnElement[str], size: ColumnElement[int]) -> Any:
    ends = sql.concat(sql.substr(t, 1, 1), sql.stars(size - 2), sql.substr(t, size))
    return sa.case((size > 2, ends), else_=sql.stars(size))


def _ends_sql(
    sql: SqlDialect, t: ColumnElement[str], size: ColumnElement[int], head: int, tail: int
) -> ColumnElement[str]:
    parts = [sql.substr(t, 1, head)] if head else []
    parts.append(sql.stars(size - (head + tail)))
    if tail:
        parts.append(sql.substr(t, size - (tail - 1)))
    return sql.concat(*parts)


def _rule_sql(sql: SqlDialect, t: ColumnElement[str], mask: Mask, key: bytes) -> Any:
    """The rule's body for a non-NULL text form `t` (the caller handles NULL)."""
    size = sql.length(t)
    generic = _generic_sql(sql, t, size)
    n = mask.n or 0
    rule = mask.rule
    if rule is MaskRule.ID_NUMBER:
        return sa.case(
            (size.in_([_lit(15), _lit(18)]), _ends_sql(sql, t, size, 6, 4)), else_=generic
        )
    if rule is MaskRule.MOBILE:
        mobile = sql.concat(sql.substr(t, 1, 3), _lit("****"), sql.substr(t, 8))
        return sa.case((sa.and_(size == 11, sql.digits_only(t)), mobile), else_=generic)
    if rule is MaskRule.NAME:
        return sa.case((size > 1, _ends_sql(sql, t, size, 1, 0)), else_=sql.stars(size))
    if rule is MaskRule.BANK_CARD:
        return sa.case((size >= 12, _ends_sql(sql, t, size, 6, 4)), else_=generic)
    if rule is MaskRule.ADDRESS:
        keep = sa.case((size > 6, _lit(6)), else_=sql.half(size))
        return sql.concat(sql.substr(t, 1, keep), sql.stars(size - keep))
    if rule is MaskRule.EMAIL:
        at = sql.find_at(t)
        first = sa.case((at > 1, sql.substr(t, 1, 1)), else_=_lit(""))
        email = sql.concat(first, _lit("***@"), sql.substr(t, at + 1))
        return sa.case((at > 0, email), else_=generic)
    if rule is MaskRule.KEEP_FIRST:
        return sa.case((size <= n, t), else_=_ends_sql(sql, t, size, n, 0))
    if rule is MaskRule.KEEP_LAST:
        return sa.case((size <= n, t), else_=_ends_sql(sql, t, size, 0, n))
    if rule is MaskRule.HASH:
        return sql.hmac(t, key)
    # YEAR_ONLY (NULL never gets here)
    head = sql.substr(t, 1, 4)
    return sa.case((sa.and_(size >= 4, sql.digits_only(head)), head), else_=sa.null())


def mask_expression(
    dialect: str, column: ColumnElement[Any], mask: Mask, *, key: bytes
) -> ColumnElement[Any]:
    """`mask_value` as a SQL expression for `dialect`; renders under literal_binds too."""
    sql = sql_dialect(dialect)
    if mask.rule is MaskRule.HASH:
        _check_key(key)
    if mask.rule is MaskRule.NULL:
        return sa.type_coerce(sa.null(), sa.String())
    t = sql.text(column)
    return sa.type_coerce(
        sa.case((t.is_(None), sa.null()), else_=_rule_sql(sql, t, mask, key)), sa.String()
    )


# --- row keys --------------------------------------------------------------------------------

ROW_KEY_SEPARATOR = "\x1f"  # the unit separator: never inside a key value's text form


def row_key_value(values: Sequence[object], *, key: bytes) -> str:
    """A stable stand-in for a row's key values that reveals none of them: HMAC-SHA256 of
    their text forms joined by the unit separator, lowercase hex (the reference)."""
    _check_key(key)
    texts = [text_form(v) for v in values]
    if any(t is None for t in texts):
        raise ValueError("key values cannot be NULL")
    return hmac_hex(ROW_KEY_SEPARATOR.join(texts), key)  # type: ignore[arg-type]


def row_key_expression(
    dialect: str, columns: Sequence[ColumnElement[Any]], *, key: bytes
) -> ColumnElement[str]:
    """`row_key_value` as a SQL expression for `dialect` (NULL if a key value is NULL)."""
    _check_key(key)
    if not columns:
        raise ValueError("a row key needs at least one column")
    sql = sql_dialect(dialect)
    parts: list[ColumnElement[Any]] = [sql.text(columns[0])]
    for column in columns[1:]:
        parts += [_lit(ROW_KEY_SEPARATOR), sql.text(column)]
    joined = sql.concat(*parts) if len(parts) > 1 else parts[0]
    return sa.type_coerce(sql.hmac(joined, key), sa.String())


# --- SQLite helpers ------------------------------------------------------------------------


def _sqlite_decimal_text(value: object) -> str | None:
    if isinstance(value, str):
        try:
            return decimal_text(Decimal(value))
        except InvalidOperation:
            return value
    return None if value is None else text_form(value)


def _sqlite_hmac(key_hex: str, text: str | None) -> str | None:
    return None if text is None else hmac_hex(text, bytes.fromhex(key_hex))


def _sqlite_is_number(text: str | None) -> int | None:
    return None if text is None else int(parse_number(text) is not None)


def _sqlite_numcmp(left: str | None, right: str | None) -> int | None:
    """-1, 0 or 1 when both sides are numbers in the shared syntax, else NULL."""
    a = None if left is None else parse_number(left)
    b = None if right is None else parse_number(right)
    if a is None or b is None:
        return None
    return (a > b) - (a < b)


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Give a sqlite3 connection what the compiled SQL calls (exact decimals, HMAC).

    Attach it to an engine with `event.listen(engine, "connect", lambda c, _: register_sqlite_functions(c))`.
    """
    functions: tuple[tuple[str, int, Callable[..., object]], ...] = (
        ("govshare_decimal_text", 1, _sqlite_decimal_text),
        ("govshare_hmac_sha256", 2, _sqlite_hmac),
        ("govshare_is_number", 1, _sqlite_is_number),
        ("govshare_numcmp", 2, _sqlite_numcmp),
    )
    for name, arity, function in functions:
        dbapi_connection.create_function(name, arity, function, deterministic=True)
