"""Bounded input types, shared by every schema, route and form.

An unbounded `int` from a request reaches the database as it came: PostgreSQL refuses a
value past its INTEGER column (`integer out of range`), and the request ends in a server
error instead of a 404 or 422. Every id, number and page a request carries is one of these
types, so the bound is checked once, in validation, and shows in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

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
