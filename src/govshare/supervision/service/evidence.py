"""Evidence of a rectification (整改佐证材料): scanned documents a department attaches to its
answer to a notice, checked by the one rule of `core.documents` (a PDF or image of at most
10 MB whose bytes say so) before anything is stored, at most `MAX_FILES` at a time. Reading
one is for the department and those who oversee, and is logged."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from govshare.core import stored_documents
from govshare.core.audit.service import record
from govshare.core.documents import Document
from govshare.core.errors import Conflict, NotFound
from govshare.core.permissions import Actor, own_organization
from govshare.sharing.service.common import OVERSEERS
from govshare.supervision.models import Notice, NoticeState, RectificationEvidence

MAX_FILES = 5
FIELD = "attachments"  # the input (and API member) the documents come in
LABEL = "整改佐证材料"


def checked(documents: Sequence[Document]) -> list[Document]:
    """The documents with their checked names, or Invalid naming the first bad one."""
    return stored_documents.checked(documents, field=FIELD, label=LABEL, at_most=MAX_FILES)


def attach(
    db_session: Session, *, actor: Actor, notice: Notice, documents: Sequence[Document]
) -> list[RectificationEvidence]:
    """The notice's department attaches documents to its answer (all checked first), until
    the rectification is accepted."""
    if notice.department_id != own_organization(actor):
        raise NotFound(f"没有编号为 {notice.id} 的本部门整改通知")
    if notice.state == NoticeState.ACCEPTED:
        raise Conflict(f"整改通知 {notice.number} 已{notice.state.label}，不能再补充材料")
    stored = []
    for document in checked(documents):
        evidence = RectificationEvidence(
            notice_id=notice.id,
            organization_id=notice.department_id,
            **stored_documents.columns_of(document, actor),
        )
        db_session.add(evidence)
        db_session.flush()
        record(
            db_session,
            actor=actor,
            action="supervision.evidence.attach",
            object_type="notice",
            object_id=notice.id,
            details=stored_documents.described(evidence),
        )
        stored.append(evidence)
    db_session.expire(notice, ["attachments"])
    return stored


def read(db_session: Session, *, actor: Actor, evidence_id: int) -> RectificationEvidence:
    """A document with its content, for its department and overseers; the reading is logged."""
    evidence = db_session.get(RectificationEvidence, evidence_id)
    if evidence is None or not (
        actor.has(*OVERSEERS) or actor.organization_id == evidence.organization_id
    ):
        raise NotFound(f"没有编号为 {evidence_id} 的整改佐证材料")
    record(
        db_session,
        actor=actor,
        action="supervision.evidence.read",
        object_type="notice",
        object_id=evidence.notice_id,
        details=stored_documents.described(evidence),
    )
    return evidence
