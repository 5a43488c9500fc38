"""Evidence (证明材料): scanned documents attached to an objection or to a mismatch case.

A consumer attaches them when it raises an objection, a provider when it answers one, either
of them later while the objection is open; a department disputing a mismatch attaches the
proof its data is right, for the operator to mediate. Each document is checked by the one rule
of `core.documents` (a PDF or image, at most 10 MB, its bytes saying so) before anything is
stored, so a bad file leaves nothing behind, and at most `MAX_FILES` go at a time.

Reading a document is for the parties and those who oversee sharing, and is logged.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import stored_documents
from govshare.core.audit.service import record
from govshare.core.documents import Document
from govshare.core.errors import Conflict, NotFound
from govshare.core.permissions import Actor, own_organization
from govshare.sharing.service.common import OVERSEERS
from govshare.verification.comparison_models import LIVE_STATES, Mismatch
from govshare.verification.models import Evidence, Objection

MAX_FILES = 5
FIELD = "attachments"  # the input (and API member) the documents come in
LABEL = "证明材料"


def checked(documents: Sequence[Document]) -> list[Document]:
    """The documents with their checked names, or Invalid naming the first bad one."""
    return stored_documents.checked(documents, field=FIELD, label=LABEL, at_most=MAX_FILES)


def _store(
    db_session: Session,
    actor: Actor,
    documents: Sequence[Document],
    *,
    objection: Objection | None = None,
    mismatch: Mismatch | None = None,
) -> list[Evidence]:
    stored = []
    for document in checked(documents):
        evidence = Evidence(
            objection_id=objection.id if objection else None,
            mismatch_id=mismatch.id if mismatch else None,
            organization_id=own_organization(actor),
            **stored_documents.columns_of(document, actor),
        )
        db_session.add(evidence)
        db_session.flush()
        subject = ("objection", objection.id) if objection else ("mismatch", mismatch.id)  # type: ignore[union-attr]
        record(
            db_session,
            actor=actor,
            action="verification.evidence.attach",
            object_type=subject[0],
            object_id=subject[1],
            details=stored_documents.described(evidence),
        )
        stored.append(evidence)
    db_session.expire(objection or mismatch, ["attachments"])  # type: ignore[arg-type]
    return stored


def count(db_session: Session, *, mismatch: Mismatch) -> int:
    """How many documents a mismatch case holds (read afresh, not from a loaded list)."""
    return (
        db_session.scalar(
            sa.select(sa.func.count(Evidence.id)).where(Evidence.mismatch_id == mismatch.id)
        )
        or 0
    )


def attach_to_objection(
    db_session: Session, *, actor: Actor, objection: Objection, documents: Sequence[Document]
) -> list[Evidence]:
    """The objection's consumer or provider attaches documents while it is not closed."""
    if own_organization(actor) not in (objection.consumer_id, objection.provider_id):
        raise NotFound(f"没有编号为 {objection.id} 的本部门疑义")
    if objection.state.closed:
        raise Conflict(f"疑义 {objection.number} 已{objection.state.label}，不能再补充证明材料")
    return _store(db_session, actor, documents, objection=objection)


def attach_to_mismatch(
    db_session: Session, *, actor: Actor, mismatch: Mismatch, documents: Sequence[Document]
) -> list[Evidence]:
    """The department settling a mismatch attaches documents while the case is live."""
    if mismatch.department_id != own_organization(actor):
        raise NotFound(f"没有编号为 {mismatch.id} 的本部门比对不一致")
    if mismatch.state not in LIVE_STATES:
        raise Conflict(f"该比对不一致{mismatch.state.label}，不能再补充证明材料")
    return _store(db_session, actor, documents, mismatch=mismatch)


def _readable(db_session: Session, actor: Actor, evidence: Evidence) -> bool:
    if actor.has(*OVERSEERS):
        return True
    if evidence.objection_id is not None:
        objection = db_session.get(Objection, evidence.objection_id)
        parties = {objection.consumer_id, objection.provider_id} if objection else set()
    else:
        mismatch = db_session.get(Mismatch, evidence.mismatch_id)
        comparison = mismatch.comparison if mismatch else None
        parties = (
            {comparison.left_resource.provider_id, comparison.right_resource.provider_id}
            if comparison
            else set()
        )
    return actor.organization_id is not None and actor.organization_id in parties


def read(db_session: Session, *, actor: Actor, evidence_id: int) -> Evidence:
    """A document with its content, for the parties and overseers; the reading is logged."""
    evidence = db_session.get(Evidence, evidence_id)
    if evidence is None or not _readable(db_session, actor, evidence):
        raise NotFound(f"没有编号为 {evidence_id} 的证明材料")
    subject = (
        ("objection", evidence.objection_id)
        if evidence.objection_id is not None
        else ("mismatch", evidence.mismatch_id)
    )
    record(
        db_session,
        actor=actor,
        action="verification.evidence.read",
        object_type=subject[0],
        object_id=subject[1],
        details=stored_documents.described(evidence),
    )
    return evidence
