"""Posted HTML forms as plain dicts, for pages that re-show the form with its errors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import ValidationError

from govshare.core.errors import DomainError
from govshare.web.deps import CSRF_FIELD

MULTI_VALUED = frozenset({"roles"})


async def _posted_form(request: Request) -> dict[str, Any]:
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        data[key] = values if key in MULTI_VALUED else (values[0].strip() if values else "")
    data.pop(CSRF_FIELD, None)
    return data


PostedForm = Annotated[dict[str, Any], Depends(_posted_form)]


def filled(form: dict[str, Any]) -> dict[str, Any]:
    """The fields the user filled in (empty inputs mean "not given")."""
    return {k: v for k, v in form.items() if v not in ("", None)}


def field_errors(exc: ValidationError | DomainError) -> dict[str, str]:
    """Field → message, for showing each error beside its field ("_" for the form).

    An error inside a list row also gets the key `field.N.subfield` (N from 1, as the page
    numbers rows), and the list itself a message naming the row."""
    if isinstance(exc, DomainError):
        out = {exc.field or "_": exc.message}
        for extra in exc.extra.get("errors", None) or []:
            out.setdefault(extra["field"], extra["message"])
        return out
    out = {}
    for error in exc.errors():
        loc = error["loc"]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not loc:
            out.setdefault("_", message)
            continue
        if len(loc) >= 2 and isinstance(loc[1], int):
            row = loc[1] + 1
            out.setdefault(".".join(str(p) for p in (loc[0], row, *loc[2:])), message)
            out.setdefault(str(loc[0]), f"第 {row} 项：{message}")
        else:
            out.setdefault(str(loc[0]), message)
    return out
