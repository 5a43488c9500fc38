"""PostgreSQL COPY text format, the one wire format between every source and every target.

A row is one line ending in "\\n", fields separated by tabs, NULL written `\\N`, and in text
the backslash, tab, newline and carriage return (plus \\b \\f \\v, as PostgreSQL writes them)
escaped with a backslash. PostgreSQL produces and consumes it natively; MariaDB builds it in
SQL; SQLite rows are encoded here, and rows bound for MySQL or SQLite targets are decoded here.
"""

from __future__ import annotations

import math
import re
import zlib
from datetime import UTC, date, datetime
from decimal import Decimal

from govshare.exchange.engine.model import Column

NULL = "\\N"
INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}

_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
)
_UNESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.DOTALL)
_SIMPLE = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_PLAIN_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?\Z"
)
_TRUE = {"t", "true", "1", "y", "yes", "on"}
_FALSE = {"f", "false", "0", "n", "no", "off"}


class BadValue(Exception):
    """A value that cannot become the declared portable type; the message is the reason."""


def escape(text: str) -> str:
    """`text` as a COPY text field."""
    return text.translate(_ESCAPES)


def _unescape_one(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code in _SIMPLE:
        return _SIMPLE[code]
    if code[:1] == b"x" and len(code) > 1:
        return bytes([int(code[1:], 16)])
    if code[:1] in b"01234567":
        return bytes([int(code, 8) & 0xFF])
    return code


def decode_field(raw: bytes) -> str | None:
    """One COPY text field back to its text, None for NULL."""
    if raw == b"\\N":
        return None
    if b"\\" in raw:
        raw = _UNESCAPE.sub(_unescape_one, raw)
    return raw.decode("utf-8", "replace")


def split_line(line: bytes | memoryview) -> list[str | None]:
    """A COPY text line (with or without its newline) as a list of field texts."""
    data = bytes(line)
    if data.endswith(b"\n"):
        data = data[:-1]
    return [decode_field(f) for f in data.split(b"\t")]


def timestamp_text(value: datetime) -> str:
    """PostgreSQL's text for a timestamp: seconds always, fraction only when there is one."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.year < 1000:
        text = f"{value.year:04d}{text[text.index('-') :]}"
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise BadValue("文本编码无效（不是 UTF-8）") from None
    if isinstance(value, datetime):
        return timestamp_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _integer(value: object, type_: str) -> str:
    number: int | None = None
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float | Decimal):
        if value.is_finite() if isinstance(value, Decimal) else math.isfinite(value):
            number = int(value) if value == int(value) else None
    elif isinstance(value, str | bytes):
        text = _as_text(value).strip()
        number = int(text) if _INTEGER.match(text) else None
    if number is None:
        raise BadValue(f"整数值无效：{_as_text(value)[:40]}")
    low, high = INT_RANGE[type_]
    if not low <= number <= high:
        raise BadValue(f"整数超出范围：{number}")
    return str(number)


def _numeric(value: object, *, double: bool) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
    elif isinstance(value, Decimal):
        if value.is_finite():
            return str(value)
    elif isinstance(value, str | bytes):
        text = _as_text(value).strip()
        if _NUMBER.match(text):
            if not double:
                return text
            try:
                number = float(text)
            except ValueError:
                number = math.inf
            if math.isfinite(number):
                return text
    raise BadValue(f"数值无效：{_as_text(value)[:40]}")


def _date(value: object) -> str:
    if isinstance(value, datetime):
        raise BadValue(f"日期值无效：{timestamp_text(value)}")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = date.fromisoformat(text)
        except ValueError:
            raise BadValue(f"日期值无效：{text[:40]}") from None
        return text if _PLAIN_DATE.match(text) else parsed.isoformat()
    raise BadValue(f"日期值无效：{_as_text(value)[:40]}")


def _timestamp(value: object) -> str:
    if isinstance(value, datetime):
        return timestamp_text(value)
    if isinstance(value, date):
        return f"{value.isoformat()} 00:00:00"
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise BadValue(f"时间值无效：{text[:40]}") from None
        # Plain text is kept as written so a SQLite source's watermark compares equal with its
        # own values; other ISO forms are normalised, an offset resolved to UTC.
        plain = parsed.tzinfo is None and _PLAIN_TIMESTAMP.match(text)
        return text if plain else timestamp_text(parsed)
    raise BadValue(f"时间值无效：{_as_text(value)[:40]}")


def _boolean(value: object) -> str:
    if isinstance(value, bool | int):
        return "t" if value else "f"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return "t"
        if text in _FALSE:
            return "f"
    raise BadValue(f"布尔值无效：{_as_text(value)[:40]}")


def encode_value(value: object, type_: str) -> str:
    """A Python value as the COPY text field of portable type `type_`; raises BadValue with a
    Chinese reason when it cannot be one (text with NUL, invalid date, integer out of range…)."""
    if value is None:
        return NULL
    if type_ == "text":
        text = _as_text(value)
        if "\x00" in text:
            raise BadValue("文本含空字符（\\0）")
        return escape(text)
    if type_ in INT_RANGE:
        return _integer(value, type_)
    if type_ in ("numeric", "double"):
        return _numeric(value, double=type_ == "double")
    if type_ == "date":
        return _date(value)
    if type_ == "timestamp":
        return _timestamp(value)
    return _boolean(value)


def display(value: object) -> str | None:
    """A value as plain text for a rejection report (no escaping)."""
    if value is None:
        return None
    try:
        return _as_text(value)
    except BadValue:
        return repr(value)


def to_python(text: str | None, type_: str) -> object:
    """A decoded field as the value handed to a MySQL or SQLite driver; dates, timestamps and
    numerics stay text (both databases parse them; Decimal would not survive sqlite3)."""
    if text is None:
        return None
    if type_ in INT_RANGE:
        return int(text)
    if type_ == "double":
        return float(text)
    if type_ == "boolean":
        return 1 if text in ("t", "true") else 0
    return text


def decode_row(line: bytes | memoryview, columns: tuple[Column, ...]) -> tuple[object, ...]:
    """One COPY text line as driver values for `columns`."""
    fields = split_line(line)
    return tuple(to_python(f, c.type) for f, c in zip(fields, columns, strict=True))


class Checksum:
    """Order-independent digest of rows: the sum, modulo 2**64, of the CRC-32 of each row's
    COPY text line (newline included), then the row count. The sum makes it independent of the
    order the source happened to scan in, and CRC-32 costs ~0.3 µs a row in C, where a
    cryptographic hash per row would cost a sixth of the whole sync."""

    def __init__(self) -> None:
        self.total = 0
        self.rows = 0

    def add(self, lines: list[bytes | memoryview]) -> None:
        self.total = (self.total + sum(map(zlib.crc32, lines))) % 2**64
        self.rows += len(lines)

    def hex(self) -> str:
        return f"{self.total:016x}{self.rows:016x}"
