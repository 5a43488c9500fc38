"""Scanned documents people attach (证明材料, 申请附件): the one rule for what is accepted.

An application's sealed letter and an objection's evidence are the same kind of thing: a PDF
or an image (PNG, JPEG) of a paper document, at most 10 MB, kept in the database beside what
it supports. The type is checked against the file's first bytes, not only its name or the
type the browser claimed, so an executable renamed to .pdf is refused.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from govshare.core.errors import Invalid
from govshare.core.filenames import check_filename

MAX_BYTES = 10 * 1024 * 1024
NAME_LENGTH = 200
TYPES = {  # accepted types and the bytes their files start with
    "application/pdf": (b"%PDF",),
    "image/png": (b"\x89PNG",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
ACCEPT = ".pdf,.png,.jpg,.jpeg"  # for a file input's accept attribute


@dataclass(frozen=True)
class Document:
    """A document as received: its name, its type and its bytes."""

    filename: str
    content_type: str
    content: bytes


def received(filename: str, content_type: str, content: bytes) -> Document:
    """A document as a browser sent it: some send application/octet-stream for a scan, so
    an unknown type is taken from the name (the content is checked all the same)."""
    if content_type not in TYPES:
        content_type = mimetypes.guess_type(filename)[0] or content_type
    return Document(filename[-NAME_LENGTH:], content_type, content)


def check_document(document: Document, *, field: str, label: str = "文件") -> str:
    """The document's checked name, or Invalid naming `field`: a name people can read, not
    empty, at most 10 MB, a PDF or image whose bytes say so. `label` names it in the
    message (申请函, 证明材料 …)."""
    name = check_filename(document.filename, field=field, max_length=NAME_LENGTH)
    if not document.content:
        raise Invalid(f"{label}“{name}”是空文件", field=field)
    if len(document.content) > MAX_BYTES:
        raise Invalid(f"{label}“{name}”超过 10 MB", field=field)
    magic = TYPES.get(document.content_type)
    if magic is None or not document.content.startswith(magic):
        raise Invalid(f"{label}“{name}”须为 PDF 或图片（PNG、JPEG）扫描件", field=field)
    return name
