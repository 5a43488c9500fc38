"""Posted HTML forms as plain dicts, for pages that re-show the form with its errors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

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
