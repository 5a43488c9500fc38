"""Limits every request meets before any work is done for it: body size and NUL characters.

The body limit is an ASGI middleware, so a request too large is refused (413) from its
Content-Length before a byte is read, and a chunked one as soon as it passes the limit:
nothing is parsed or authenticated first. Uploads (multipart forms, and the JSON routes
that carry attachments) have their own, larger limit. The gateway (/gateway/…) keeps its
own limit, which it records in the provider's usage log.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govshare.core.errors import Invalid

# JSON routes whose body carries attached documents (base64): they take the upload limit.
JSON_UPLOADS = re.compile(r"^/api/v1/sharing/applications(/[0-9]+/resubmit)?/?$")
EXEMPT = ("/gateway/",)
NUL = "\x00"


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.4g} MB"
    return f"{size / 1024:.4g} KB"


class BodyTooLarge(HTTPException):
    """A request body past its limit (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"请求体超过 {_size(limit)} 的上限")


class BodyLimit:
    """Refuses request bodies past `max_body` bytes (`max_upload` for uploads) with 413."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    def limit_for(self, scope: Scope) -> int | None:
        path: str = scope["path"]
        if path.startswith(EXEMPT):
            return None
        content_type = _header(scope, b"content-type").lower()
        if content_type.startswith("multipart/form-data") or JSON_UPLOADS.match(path):
            return self.max_upload
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)  # rendered by the app's error handler
            return message

        await self.app(scope, counted, send)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1").strip()
    return ""


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    """413 before the application runs: problem+json, which a browser shows as text too."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "请求体过大",
            "status": 413,
            "detail": f"请求体超过 {_size(limit)} 的上限",
            "instance": scope["path"],
        },
        ensure_ascii=False,
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- NUL characters ------------------------------------------------------------------------
# PostgreSQL cannot store U+0000 in text, and no field of the platform needs it: it is refused
# wherever it comes (path, query string, JSON body, form field, file name), naming the field.


async def refuse_nul(request: Request) -> None:
    """Every route's first dependency: a 422 naming the first field holding a NUL."""
    for name, value in request.path_params.items():
        _check(name, value)
    for name, value in request.query_params.multi_items():
        _check(name, name)
        _check(name, value)
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        for name, value in form.multi_items():
            _check(name, name)
            if isinstance(value, UploadFile):
                _check(name, value.filename or "")
            else:
                _check(name, value)
    elif "json" in content_type:
        body = await request.body()
        if b"\\u0000" in body:  # JSON can carry a NUL only escaped; parse only then
            try:
                _walk("", json.loads(body))
            except ValueError:
                return  # not JSON: the route's own parsing answers with its 422


def _check(field: str, value: object) -> None:
    if isinstance(value, str) and NUL in value:
        raise Invalid(f"{field or 'body'}: 不能包含空字符（\\u0000）", field=field or "body")


def _walk(where: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            _check(inner, key)
            _walk(inner, item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(f"{where}.{index}" if where else str(index), item)
    else:
        _check(where, value)
