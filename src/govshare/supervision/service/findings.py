"""Findings (违规发现, SUP-2): one detection run reads every detector's facts and keeps the
findings in line with them.

A finding found for the first time is stored with the article of the active profile it breaks
(fixed then, as a deadline is) and becomes a rectification notice to its department; found
again, its facts and `last_found_at` are brought up to date; no longer found, it is resolved.
A finding resolved and found again later is a new finding, with a new notice. Each new and
each resolved finding is an audit entry of its own, the run one more with its counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.core.policy import Profile, Violation
from govshare.sharing.service.common import OVERSEERS, READERS
from govshare.supervision import detectors
from govshare.supervision.detectors import Detector, Found
from govshare.supervision.models import RECORDED, Finding, Notice
from govshare.supervision.service import notices

LINK = "/supervision/findings/{id}"


@dataclass
class DetectionResult:
    """What one run did: findings new, still found, resolved; the notices it issued."""

    found: list[Finding] = field(default_factory=list)
    kept: int = 0
    resolved: list[Finding] = field(default_factory=list)
    issued: list[Notice] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"findings new {len(self.found)}, still {self.kept}, resolved {len(self.resolved)}; "
            f"notices issued {len(self.issued)}"
        )


def detect(
    db_session: Session,
    *,
    actor: Actor,
    profile: Profile,
    only: Sequence[Detector] = detectors.DETECTORS,
) -> DetectionResult:
    """Runs the detectors (`only` these, for a test) and brings the findings in line:
    new ones stored and each given a notice, those found again updated, those gone resolved.
    A finding of a kind none of the run's detectors looks for is left as it is (a detector
    is named for the violation it finds)."""
    require(actor, Role.SYSTEM, Role.PLATFORM_OPERATOR, action="执行违规检测")
    now = clock.now()
    current: dict[str, Found] = {}
    for detector in only:
        for found in detector(db_session, profile):
            current.setdefault(found.key, found)
    kinds = {Violation(detector.__name__) for detector in only}  # named for what they find
    standing = {
        f.key: f
        for f in db_session.scalars(
            sa.select(Finding)
            .where(Finding.resolved_at.is_(None))
            .order_by(Finding.id)
            .with_for_update(of=Finding)
        )
    }
    result = DetectionResult()
    for key, found in current.items():
        finding = standing.get(key)
        if finding is not None:
            finding.facts = found.facts_with_summary()
            finding.subject_label, finding.link = found.subject_label[:300], found.link[:300]
            finding.last_found_at = now
            result.kept += 1
            continue
        finding = _store(db_session, actor, profile, found, now)
        result.found.append(finding)
        result.issued.append(
            notices.issue(db_session, actor=actor, profile=profile, finding=finding)
        )
    for key, finding in standing.items():
        if key in current or finding.kind not in kinds:
            continue
        finding.resolved_at = now
        record(
            db_session,
            actor=actor,
            action="supervision.finding.resolved",
            object_type="finding",
            object_id=finding.id,
            details={"kind": finding.kind.value, "key": key},
        )
        result.resolved.append(finding)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="supervision.detect",
        object_type="supervision",
        details={
            "found": len(result.found),
            "kept": result.kept,
            "resolved": len(result.resolved),
            "issued": [n.number for n in result.issued],
            "profile": profile.code,
        },
    )
    if result.issued:
        inbox.notify(
            db_session,
            user_ids=inbox.recipients(db_session, roles=[Role.PLATFORM_OPERATOR]),
            notice=inbox.Notice(
                "supervision.detect",
                f"违规监测：新发现 {len(result.found)} 项违规",
                f"已向有关部门下发整改通知 {len(result.issued)} 份。",
                "/supervision/notices",
            ),
        )
    return result


def _store(
    db_session: Session, actor: Actor, profile: Profile, found: Found, now: datetime
) -> Finding:
    """A new finding, with the article of the active profile it breaks; audited."""
    key = found.key
    articles = profile.rules.violation_articles.value
    finding = Finding(
        kind=found.kind,
        key=key,
        department_id=found.department_id,
        subject_type=found.subject_type,
        subject_id=found.subject_id,
        subject_label=found.subject_label[:300],
        link=found.link[:300],
        facts=found.facts_with_summary(),
        article=articles[found.kind],
        regulation=profile.regulation,
        profile_code=profile.code,
        first_found_at=now,
        last_found_at=now,
    )
    db_session.add(finding)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="supervision.finding.found",
        object_type="finding",
        object_id=finding.id,
        details={
            "kind": found.kind.value,
            "key": key,
            "department": found.department_id,
            "subject": [found.subject_type, found.subject_id],
            "facts": finding.facts,
            "article": finding.citation,
        },
    )
    return finding


def record_finding(
    db_session: Session, *, actor: Actor, profile: Profile, found: Found
) -> tuple[Finding, Notice]:
    """A violation people found rather than a detector (`RECORDED`: an inspection's finding,
    SEC-7), stored as a detected one is and given its rectification notice at once. Accepting
    the rectification resolves it, since no detection run looks for it."""
    require(actor, Role.PLATFORM_OPERATOR, action="登记违规发现")
    if found.kind not in RECORDED:
        raise Invalid(f"“{found.kind.label}”由平台监测发现，不能登记", field="kind")
    if db_session.scalar(
        sa.select(Finding.id).where(Finding.key == found.key, Finding.resolved_at.is_(None))
    ):
        raise Conflict(f"该情形已登记为违规发现：{found.subject_label}")
    finding = _store(db_session, actor, profile, found, clock.now())
    return finding, notices.issue(db_session, actor=actor, profile=profile, finding=finding)


# --- reading ---------------------------------------------------------------------------------


def _may_read(actor: Actor, finding: Finding) -> bool:
    return actor.has(*OVERSEERS) or actor.organization_id == finding.department_id


def get_finding(db_session: Session, *, actor: Actor, finding_id: int) -> Finding:
    """One finding, for its department and those who oversee."""
    require(actor, *READERS, action="查看违规发现")
    finding = db_session.get(Finding, finding_id)
    if finding is None or not _may_read(actor, finding):
        raise NotFound(f"没有编号为 {finding_id} 的违规发现")
    return finding


def notice_of(db_session: Session, *, actor: Actor, finding_id: int) -> Notice | None:
    """The notice a finding became."""
    finding = get_finding(db_session, actor=actor, finding_id=finding_id)
    return db_session.scalar(sa.select(Notice).where(Notice.finding_id == finding.id))


def _findings(
    actor: Actor, *, kind: Violation | None, resolved: bool | None, own: bool
) -> sa.Select[tuple[Finding]]:
    stmt = sa.select(Finding)
    if own or not actor.has(*OVERSEERS):
        stmt = stmt.where(Finding.department_id == own_organization(actor))
    if kind is not None:
        stmt = stmt.where(Finding.kind == kind)
    if resolved is not None:
        stmt = stmt.where(
            Finding.resolved_at.is_not(None) if resolved else Finding.resolved_at.is_(None)
        )
    return stmt


def list_findings(
    db_session: Session,
    *,
    actor: Actor,
    kind: Violation | None = None,
    resolved: bool | None = False,
    own: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> list[Finding]:
    """Findings the actor may see, newest first: a department its own, overseers every
    department's; `resolved` False (the default) those whose facts still hold, True those
    put right, None both."""
    require(actor, *READERS, action="查看违规发现")
    stmt = _findings(actor, kind=kind, resolved=resolved, own=own)
    stmt = stmt.order_by(Finding.first_found_at.desc(), Finding.id.desc())
    return list(db_session.scalars(stmt.offset(offset).limit(limit)))


def count_findings(
    db_session: Session,
    *,
    actor: Actor,
    kind: Violation | None = None,
    resolved: bool | None = False,
    own: bool = False,
) -> int:
    """How many findings `list_findings` would give with the same filters."""
    require(actor, *READERS, action="查看违规发现")
    stmt = _findings(actor, kind=kind, resolved=resolved, own=own)
    counted = sa.select(sa.func.count()).select_from(stmt.with_only_columns(Finding.id).subquery())
    return int(db_session.scalar(counted) or 0)
