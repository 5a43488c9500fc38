"""Audit scenarios for the supervision services (see tests/test_audit_coverage.py)."""

from __future__ import annotations

from typing import Any

from govshare.core import clock
from govshare.core.documents import Document
from govshare.core.policy import Violation
from govshare.core.settings import load_settings
from govshare.supervision.models import Finding, ProbeTarget
from govshare.supervision.service import dashboard, evidence, findings, ledgers, notices, probes
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.sharing.builders import SHANGRAO
from tests.supervision.builders import (
    CITY,
    FOUND_AT,
    JOB,
    Overdue,
    answered,
    decided,
    escalate,
    overdue,
)

FIN = "govshare.supervision.service.findings."
NOT = "govshare.supervision.service.notices."
EVI = "govshare.supervision.service.evidence."
PRO = "govshare.supervision.service.probes."
LED = "govshare.supervision.service.ledgers."
DAS = "govshare.supervision.service.dashboard."
SCAN = Document("整改报告.pdf", "application/pdf", b"%PDF-1.4\n% report\n")


def _overdue(w: World) -> Overdue:
    return overdue(w.db, w.op)


def _issued(w: World) -> None:
    """A finding stored as detection stores it, then its notice."""
    with clock.frozen(FOUND_AT):
        finding = Finding(
            kind=Violation.DECISION_OVERDUE,
            key="decision_overdue:application_step:0",
            department_id=w.dept.id,
            subject_type="application",
            subject_id=None,
            subject_label="共享申请",
            link="",
            facts={"summary": "共享申请逾期未答复。"},
            article="第三十条第（三）项",
            regulation=SHANGRAO.regulation,
            profile_code=SHANGRAO.code,
            first_found_at=clock.now(),
            last_found_at=clock.now(),
        )
        w.db.add(finding)
        w.db.flush()
        notices.issue(w.db, actor=JOB, profile=SHANGRAO, finding=finding)


def _returned(w: World) -> None:
    o = _overdue(w)
    answered(o)
    decided(o, accept=False, note="申请仍未答复")


def _escalated(w: World) -> Overdue:
    o = _overdue(w)
    escalate(w.db)
    return o


def _attached(w: World) -> tuple[Overdue, Any]:
    o = _overdue(w)
    with clock.frozen(FOUND_AT):
        stored = evidence.attach(
            w.db, actor=o.s.provider_officer, notice=o.notice, documents=[SCAN]
        )
    return o, stored[0]


def _probed(w: World) -> None:
    """A round of probes of an interface nobody answers (recorded, not reached)."""
    target = probes.Target(ProbeTarget.INTERFACE, 1, w.dept.id, "企业信息服务", "", refused="停用")
    with clock.frozen(FOUND_AT):
        probes.record_probes(w.db, actor=JOB, outcomes=[probes.probe(target)])


SETTINGS = load_settings(environ={"GOVSHARE_DATA_DIR": "/nonexistent/govshare"})

SCENARIOS: dict[str, Writes | Reads] = {
    FIN + "detect": Writes("supervision.finding.found", _overdue),
    FIN + "get_finding": Reads(
        lambda w: findings.get_finding(w.db, actor=w.op, finding_id=w.prepared.finding.id),
        prepare=_overdue,
    ),
    FIN + "notice_of": Reads(
        lambda w: findings.notice_of(w.db, actor=w.op, finding_id=w.prepared.finding.id),
        prepare=_overdue,
    ),
    FIN + "list_findings": Reads(
        lambda w: findings.list_findings(w.db, actor=w.prepared.s.provider_officer),
        prepare=_overdue,
    ),
    FIN + "count_findings": Reads(
        lambda w: findings.count_findings(w.db, actor=w.op, resolved=None), prepare=_overdue
    ),
    NOT + "issue": Writes("supervision.notice.issue", _issued),
    NOT + "answer": Writes("supervision.notice.answer", lambda w: answered(_overdue(w))),
    NOT + "decide": Writes("supervision.notice.decide", _returned),
    NOT + "escalate_due": Writes("supervision.notice.escalate", _escalated),
    NOT + "circular_issuer": Reads(lambda w: notices.circular_issuer(w.db, CITY)),
    NOT + "get_notice": Reads(
        lambda w: notices.get_notice(w.db, actor=w.op, notice_id=w.prepared.notice.id),
        prepare=_overdue,
    ),
    NOT + "get_circular": Reads(
        lambda w: notices.get_circular(w.db, actor=w.op, notice_id=w.prepared.notice.id),
        prepare=_escalated,
    ),
    NOT + "list_notices": Reads(
        lambda w: notices.list_notices(w.db, actor=w.op, overdue=True), prepare=_overdue
    ),
    NOT + "count_notices": Reads(
        lambda w: notices.count_notices(w.db, actor=w.prepared.s.provider_officer),
        prepare=_overdue,
    ),
    NOT + "open_counts": Reads(
        lambda w: notices.open_counts(w.db, actor=w.prepared.s.provider_officer),
        prepare=_overdue,
    ),
    NOT + "deadline": READ_ONLY,
    NOT + "is_overdue": READ_ONLY,
    NOT + "urgency": READ_ONLY,
    NOT + "permitted": READ_ONLY,
    PRO + "targets": Reads(lambda w: probes.targets(w.db, actor=JOB, settings=SETTINGS)),
    PRO + "probe": READ_ONLY,  # reaches the target; no session
    PRO + "record_probes": Writes("supervision.probe", _probed),
    PRO + "availability": Reads(
        lambda w: probes.availability(w.db, actor=w.op, month=clock.today()), prepare=_probed
    ),
    LED + "ledger": Reads(
        lambda w: ledgers.ledger(w.db, actor=w.op, first=clock.today()), prepare=_overdue
    ),
    LED + "department_year": Reads(
        lambda w: ledgers.department_year(
            w.db, actor=w.op, department_id=w.dept.id, year=clock.today().year
        )
    ),
    LED + "monthly": Reads(
        lambda w: ledgers.monthly(
            w.db,
            actor=w.staff_actor,
            first=clock.today().replace(month=1, day=1),
            after=ledgers.month_after(clock.today()),
        ),
        prepare=_overdue,
    ),
    LED + "months_between": READ_ONLY,
    DAS + "overview": Reads(lambda w: dashboard.overview(w.db, actor=w.op), prepare=_overdue),
    LED + "month_after": READ_ONLY,
    LED + "parse_month": READ_ONLY,
    LED + "parse_year": READ_ONLY,
    EVI + "checked": READ_ONLY,
    EVI + "attach": Writes("supervision.evidence.attach", _attached),
    EVI + "read": Writes(
        "supervision.evidence.read",
        lambda w: evidence.read(w.db, actor=w.op, evidence_id=_attached(w)[1].id),
    ),
}
