"""Documents kept in the database beside what they support (申请附件, 证明材料, 整改佐证材料):
the columns every such table has, the check of a batch before anything is stored, and the
facts an audit entry records of each.

A domain's table mixes in `StoredDocument` and adds what the document belongs to; its service
checks the batch with `checked`, builds each row with `columns_of` and records
`described(row)` when it stores or reads one."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from govshare.core import clock
from govshare.core.db import UTCDateTime
from govshare.core.documents import NAME_LENGTH, Document, check_document
from govshare.core.errors import Invalid
from govshare.core.permissions import Actor


class Received(Protocol):
    """A document as received (`core.documents.Document`, an application's upload)."""

    filename: str
    content_type: str
    content: bytes


class StoredDocument:
    """The columns of a stored document; its bytes load only when asked for."""

    filename: Mapped[str] = mapped_column(String(NAME_LENGTH))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by: Mapped[str] = mapped_column(String(120))


def checked(
    documents: Sequence[Document], *, field: str, label: str, at_most: int
) -> list[Document]:
    """The documents with their checked names, or Invalid naming `field` and the first bad
    one; more than `at_most` at a time is refused."""
    if len(documents) > at_most:
        raise Invalid(f"{label}一次最多上传 {at_most} 个文件", field=field)
    return [
        Document(check_document(d, field=field, label=label), d.content_type, d.content)
        for d in documents
    ]


def columns_of(document: Received, actor: Actor) -> dict[str, Any]:
    """The `StoredDocument` columns of a checked document received now from `actor`."""
    return {
        "filename": document.filename,
        "content_type": document.content_type,
        "size": len(document.content),
        "sha256": hashlib.sha256(document.content).hexdigest(),
        "content": document.content,
        "uploaded_at": clock.now(),
        "uploaded_by": actor.label,
    }


def described(row: Any, *, key: str = "evidence") -> dict[str, Any]:
    """What an audit entry records of a stored document: its id under `key`, name, size and
    digest (never its bytes)."""
    return {key: row.id, "filename": row.filename, "size": row.size, "sha256": row.sha256}
