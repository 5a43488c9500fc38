"""Who may do what in security operations, and the scanned documents exercises and checks keep.

The platform's management unit (the operator) keeps the register; the authority and auditors
read all of it. A department's data officer or head registers and handles incidents that
concern its department, and its people read them and the check findings against it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from govshare.core import stored_documents
from govshare.core.audit.service import record
from govshare.core.documents import Document
from govshare.core.errors import NotFound
from govshare.core.permissions import Actor, Role
from govshare.security.models import Check, Exercise, SecurityDocument

OPERATOR = Role.PLATFORM_OPERATOR
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
HANDLERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD)  # act for a department
DEPARTMENT = (*HANDLERS, Role.DEPARTMENT_STAFF)
READERS = (*OVERSEERS, *DEPARTMENT)
MAX_FILES = 5
FIELD = "attachments"
LABEL = "附件"


def checked(documents: Sequence[Document]) -> list[Document]:
    """The documents with their checked names, or Invalid naming the first bad one."""
    return stored_documents.checked(documents, field=FIELD, label=LABEL, at_most=MAX_FILES)


def store_documents(
    db_session: Session, actor: Actor, owner: Exercise | Check, documents: Sequence[Document]
) -> list[SecurityDocument]:
    """Keeps checked documents beside their exercise or check, each upload audited."""
    stored = []
    is_exercise = isinstance(owner, Exercise)
    for document in checked(documents):
        kept = SecurityDocument(
            exercise_id=owner.id if is_exercise else None,
            check_id=None if is_exercise else owner.id,
            **stored_documents.columns_of(document, actor),
        )
        db_session.add(kept)
        db_session.flush()
        record(
            db_session,
            actor=actor,
            action="security.document.attach",
            object_type="exercise" if is_exercise else "security_check",
            object_id=owner.id,
            details=stored_documents.described(kept, key="document"),
        )
        stored.append(kept)
    db_session.expire(owner, ["documents"])
    return stored


def read_document(db_session: Session, *, actor: Actor, document_id: int) -> SecurityDocument:
    """A document with its content, for those who oversee security; the reading is logged."""
    document = db_session.get(SecurityDocument, document_id)
    if document is None or not actor.has(*OVERSEERS):
        raise NotFound(f"没有编号为 {document_id} 的附件")
    record(
        db_session,
        actor=actor,
        action="security.document.read",
        object_type="exercise" if document.exercise_id else "security_check",
        object_id=document.exercise_id or document.check_id,
        details=stored_documents.described(document, key="document"),
    )
    return document
