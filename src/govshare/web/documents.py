"""A stored document (an application's attachment, an objection's evidence) sent back as a
download: its own name for browsers that read RFC 5987, a plain fallback for those that do not."""

from __future__ import annotations

import mimetypes
from typing import Protocol
from urllib.parse import quote

from fastapi.responses import Response


class Stored(Protocol):
    filename: str
    content_type: str
    content: bytes


def document_response(document: Stored) -> Response:
    fallback = "attachment" + (mimetypes.guess_extension(document.content_type) or "")
    disposition = (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(document.filename)}"
    )
    return Response(
        document.content,
        media_type=document.content_type,
        headers={"Content-Disposition": disposition},
    )
