"""Documents over HTTP: multipart uploads received as documents, and a stored document (an
application's attachment, an objection's evidence) sent back as a download with its own name
for browsers that read RFC 5987, a plain fallback for those that do not."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import quote

from fastapi import UploadFile
from fastapi.responses import Response

from govshare.core import documents
from govshare.core.documents import Document


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


async def uploaded(files: Sequence[UploadFile]) -> list[Document]:
    """Multipart files as documents (a scan sent as application/octet-stream is typed by
    its name)."""
    return [
        documents.received(f.filename or "", f.content_type or "", await f.read()) for f in files
    ]
