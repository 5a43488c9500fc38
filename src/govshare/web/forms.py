"""Posted HTML forms as plain dicts, for pages that re-show the form with its errors, and the
scanned documents a form attaches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import Response

from govshare.core import documents
from govshare.core.documents import Document
from govshare.core.errors import DomainError, Invalid
from govshare.core.inputs import message_of, parse_id
from govshare.web.deps import CSRF_FIELD
from govshare.web.templating import redirect

MULTI_VALUED = frozenset({"roles", "items", "department_ids", "resource_ids"})


async def _posted_form(request: Request) -> dict[str, Any]:
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        data[key] = values if key in MULTI_VALUED else (values[0].strip() if values else "")
    data.pop(CSRF_FIELD, None)
    return data


PostedForm = Annotated[dict[str, Any], Depends(_posted_form)]


async def _posted_documents(request: Request) -> list[Document]:
    """The files of a multipart form's `attachments` inputs (those left empty skipped)."""
    form = await request.form()
    found = []
    for value in form.getlist("attachments"):
        if isinstance(value, UploadFile) and value.filename:
            found.append(
                documents.received(value.filename, value.content_type or "", await value.read())
            )
    return found


PostedDocuments = Annotated[list[Document], Depends(_posted_documents)]


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
        message = message_of(error)
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


def optional_id(value: str | None) -> int | None:
    """An id from a select or the query string; the empty choice means "none" or "all",
    and a number no row can have (past an INTEGER column) means none too."""
    return parse_id(value)


def validated(model: Any, data: dict[str, Any]) -> Any:
    """`model` built from a form's values, or an `Invalid` with each broken rule keyed to its
    input (so the page shows every message beside its field)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        rows = [{"field": k, "message": v} for k, v in field_errors(exc).items()]
        raise Invalid(rows[0]["message"], field=rows[0]["field"], errors=rows) from None


def form_states(
    names: tuple[str, ...], failed: str, form: dict[str, Any] | None, errors: dict[str, str] | None
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, Any]]]:
    """(errors, values) per form of a page with several: empty, but for the `failed` one,
    re-shown with what was typed and its errors."""
    shown: dict[str, dict[str, str]] = {name: {} for name in names}
    values: dict[str, dict[str, Any]] = {name: {} for name in names}
    if failed:
        shown[failed], values[failed] = errors or {}, form or {}
    return shown, values


def attempt(
    db_session: Session,
    step: Callable[[], str],
    *,
    done: str,
    again: Callable[[dict[str, str], int], Response],
) -> Response:
    """A page's write: run `step` and go to `done` with the message it returns; on a refused
    step, roll back and show the page `again` with each error beside its field."""
    try:
        message = step()
    except DomainError as exc:
        db_session.rollback()
        return again(field_errors(exc), exc.status)
    return redirect(done, message)
