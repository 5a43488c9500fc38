"""Bounded input types, shared by every schema, route and form.

An unbounded `int` from a request reaches the database as it came: PostgreSQL refuses a
value past its INTEGER column (`integer out of range`), and the request ends in a server
error instead of a 404 or 422. Every id, number and page a request carries is one of these
types, so the bound is checked once, in validation, and shows in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, StringConstraints

MAX_ID = 2**31 - 1  # the largest value of an INTEGER column (PostgreSQL, MariaDB)
MAX_PAGE = 100_000  # deeper than any list a person pages through; bounds the OFFSET too

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A row's id in a path, a query string, a form or a body."""

Number = Annotated[int, Field(ge=1, le=MAX_ID)]
"""An ordinal kept in an INTEGER column: a version number, a sequence number."""

Page = Annotated[int, Field(ge=1, le=MAX_PAGE)]
"""A page number of a paged list, from 1."""


def parse_id(value: object) -> int | None:
    """An id from a form's select or a query string; None when empty, not a number or out
    of range (the empty choice means "none" or "all")."""
    text = str(value).strip() if value is not None else ""
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


Entry = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""One entry of a list of names (data items, columns, endpoints, condition values): a blank
entry is refused, not dropped, so a list that passed its own length rule stays non-empty."""

Code = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
"""A code in a list of codes (a resource code is at most 16 characters)."""


# Pydantic's rule names, in the words a clerk reads beside the field. A rule not listed is
# one of our own validators, whose message is already Chinese.
MESSAGES = {
    "missing": "必填",
    "string_too_short": "至少填写 {min_length} 个字",
    "string_too_long": "不能超过 {max_length} 个字",
    "too_short": "请至少选择 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "date_type": "日期格式应为 年-月-日，如 2026-10-01",
    "date_from_datetime_parsing": "日期格式应为 年-月-日，如 2026-10-01",
    "date_parsing": "日期格式应为 年-月-日，如 2026-10-01",
    "int_parsing": "须为整数",
    "int_from_float": "须为整数",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
    "enum": "请从列表中选择",
    "bool_parsing": "须为是或否",
    "int_type": "须为整数",
    "string_type": "须为文字",
    "list_type": "须为列表",
    "greater_than": "须大于 {gt}",
    "less_than": "须小于 {lt}",
    "json_invalid": "不是合法的 JSON",
    "model_attributes_type": "须为对象",
    "dict_type": "须为对象",
}


def message_of(error: Mapping[str, Any], label: str = "") -> str:
    """One pydantic error in Chinese; `label` names the field where the message stands alone."""
    template = MESSAGES.get(error["type"])
    if template is None:
        return str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "string_too_short" and (error.get("ctx") or {}).get("min_length") == 1:
        template = MESSAGES["missing"]
    text = template.format(**(error.get("ctx") or {}))
    return f"{label}：{text}" if label else text
