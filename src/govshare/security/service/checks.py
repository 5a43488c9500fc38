"""Inspections, risk assessments and secrecy checks (安全检查、风险评估、保密检查, SEC-7):
SY§26 (the cyber-security office inspects and assesses), SR§23, SR§26 (departments and the
platform submit to security and secrecy checks), BZ§25.

The operator records a check — its kind, who carried it out, when, what it covered and
concluded, with its scanned report — and each problem it found in a department. A finding
becomes a supervision finding of the violation `security_issue`, with the article of the active
profile, and its rectification notice to the department at once
(`supervision.service.findings.record_finding`): answered, accepted or returned and circulated
past its deadline like any other notice. A department sees the checks that found something in
it, and only its own findings.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.documents import Document
from govshare.core.errors import Invalid, NotFound
from govshare.core.permissions import Actor, require
from govshare.core.policy import Profile, Violation
from govshare.identity.models import Organization
from govshare.security.models import Check, CheckFinding, CheckKind, SecurityDocument
from govshare.security.schemas import CheckFindingIn, CheckIn
from govshare.security.service.common import OPERATOR, OVERSEERS, READERS, store_documents
from govshare.sharing.service.common import next_number
from govshare.supervision.detectors import Found
from govshare.supervision.models import Finding, Notice
from govshare.supervision.service import findings as supervision

LINK = "/security/checks/{id}"
PREFIX = "JC"  # 检查


def record_check(
    db_session: Session, *, actor: Actor, data: CheckIn, documents: Sequence[Document] = ()
) -> Check:
    """The operator records a check that was carried out, with its scanned report."""
    require(actor, OPERATOR, action="登记安全检查")
    check = Check(
        number=next_number(db_session, PREFIX),
        kind=data.kind,
        title=data.title,
        conducted_by=data.conducted_by,
        checked_on=data.checked_on,
        scope=data.scope,
        conclusion=data.conclusion,
        recorded_at=clock.now(),
        recorded_by=actor.label,
    )
    db_session.add(check)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="security.check.record",
        object_type="security_check",
        object_id=check.id,
        details={
            "number": check.number,
            "kind": check.kind.value,
            "title": check.title,
            "conducted_by": check.conducted_by,
            "checked_on": check.checked_on.isoformat(),
        },
    )
    store_documents(db_session, actor, check, documents)
    return check


def add_finding(
    db_session: Session, *, actor: Actor, profile: Profile, check_id: int, data: CheckFindingIn
) -> tuple[CheckFinding, Notice]:
    """Records a problem the check found in a department; it becomes a rectification notice
    to that department at once."""
    require(actor, OPERATOR, action="登记检查发现的问题")
    check = _check(db_session, actor, check_id)
    department = db_session.get(Organization, data.department_id)
    if department is None:
        raise Invalid(f"没有编号为 {data.department_id} 的部门", field="department_id")
    kept = CheckFinding(
        check_id=check.id,
        department_id=department.id,
        description=data.description,
        requirement=data.requirement,
        recorded_at=clock.now(),
        recorded_by=actor.label,
    )
    db_session.add(kept)
    db_session.flush()
    found = Found(
        Violation.SECURITY_ISSUE,
        f"security_issue:check_finding:{kept.id}",
        department.id,
        "check_finding",
        kept.id,
        f"{check.kind.label} {check.number}：{check.title}",
        LINK.format(id=check.id),
        f"{check.conducted_by}于 {check.checked_on.isoformat()} 开展{check.kind.label}"
        f"（{check.title}），发现{department.name}存在问题：{data.description}"
        f" 整改要求：{data.requirement}",
        {"check": check.number, "checked_on": check.checked_on.isoformat()},
    )
    finding, notice = supervision.record_finding(
        db_session, actor=actor, profile=profile, found=found
    )
    kept.supervision_finding_id = finding.id
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="security.check.finding",
        object_type="security_check",
        object_id=check.id,
        details={
            "finding": kept.id,
            "department": department.id,
            "description": data.description,
            "requirement": data.requirement,
            "notice": notice.number,
        },
    )
    db_session.expire(check, ["findings"])
    return kept, notice


def attach(
    db_session: Session, *, actor: Actor, check_id: int, documents: Sequence[Document]
) -> list[SecurityDocument]:
    """The operator adds scanned documents (the check's report) to a check."""
    require(actor, OPERATOR, action="上传安全检查附件")
    return store_documents(db_session, actor, _check(db_session, actor, check_id), documents)


# --- reading ---------------------------------------------------------------------------------


def _check(db_session: Session, actor: Actor, check_id: int) -> Check:
    check = db_session.get(Check, check_id)
    if check is None or not (
        actor.has(*OVERSEERS)
        or any(f.department_id == actor.organization_id for f in check.findings)
    ):
        raise NotFound(f"没有编号为 {check_id} 的安全检查")
    return check


def get_check(db_session: Session, *, actor: Actor, check_id: int) -> Check:
    """One check, for those who oversee and the departments it found something in; reading
    it is logged."""
    require(actor, *READERS, action="查看安全检查")
    check = _check(db_session, actor, check_id)
    record(
        db_session,
        actor=actor,
        action="security.check.read",
        object_type="security_check",
        object_id=check.id,
        details={"number": check.number},
    )
    return check


def visible_findings(actor: Actor, check: Check) -> list[CheckFinding]:
    """The check's findings the actor may see: all for overseers, a department its own."""
    if actor.has(*OVERSEERS):
        return list(check.findings)
    return [f for f in check.findings if f.department_id == actor.organization_id]


def list_checks(
    db_session: Session, *, actor: Actor, kind: CheckKind | None = None, limit: int = 500
) -> list[Check]:
    """Checks the actor may see, newest first: overseers all, a department those that found
    something in it."""
    require(actor, *READERS, action="查看安全检查")
    stmt = sa.select(Check)
    if not actor.has(*OVERSEERS):
        mine = sa.select(CheckFinding.check_id).where(
            CheckFinding.department_id == actor.organization_id
        )
        stmt = stmt.where(Check.id.in_(mine))
    if kind is not None:
        stmt = stmt.where(Check.kind == kind)
    return list(
        db_session.scalars(stmt.order_by(Check.checked_on.desc(), Check.id.desc()).limit(limit))
    )


def notices_of(db_session: Session, *, actor: Actor, check: Check) -> dict[int, Notice]:
    """The rectification notice each of the check's findings (that the actor sees) became."""
    require(actor, *READERS, action="查看安全检查")
    ids = [f.supervision_finding_id for f in visible_findings(actor, check)]
    rows = db_session.execute(
        sa.select(Finding.id, Notice)
        .join(Notice, Notice.finding_id == Finding.id)
        .where(Finding.id.in_([i for i in ids if i is not None]))
    ).all()
    by_finding = dict(rows)
    return {
        f.id: by_finding[f.supervision_finding_id]
        for f in visible_findings(actor, check)
        if f.supervision_finding_id in by_finding
    }
