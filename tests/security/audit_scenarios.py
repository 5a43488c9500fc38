"""Audit scenarios for the security services (see tests/test_audit_coverage.py)."""

from __future__ import annotations

from govshare.core import clock
from govshare.core.policy import IncidentLevel, Violation
from govshare.security.schemas import CloseIn, EntryIn, ExerciseResultIn, ReportIn
from govshare.security.service import checks, common, exercises, incidents
from govshare.supervision.detectors import Found
from govshare.supervision.service import findings
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.security.builders import (
    AT,
    SCAN,
    Cast,
    cast,
    checked,
    found_problem,
    planned,
    registered,
)
from tests.sharing.builders import SHANGRAO

INC = "govshare.security.service.incidents."
EXE = "govshare.security.service.exercises."
CHK = "govshare.security.service.checks."
COM = "govshare.security.service.common."
FIN = "govshare.supervision.service.findings."


def _cast(w: World) -> Cast:
    return cast(w.db, w.op)


def _incident(w: World):  # type: ignore[no-untyped-def]
    return registered(_cast(w))


def _reported(w: World) -> None:
    c = _cast(w)
    incident = registered(c)
    with clock.frozen(AT):
        for recipient in ("cyberspace", "authority"):
            data = ReportIn(
                recipient=recipient, reported_at=AT, addressee="市委网信办", content="已电话报告"
            )
            incidents.report(w.db, actor=c.op, incident_id=incident.id, data=data)


def _closed(w: World) -> None:
    c = _cast(w)
    incident = registered(c)
    with clock.frozen(AT):
        for recipient in ("cyberspace", "authority"):
            data = ReportIn(
                recipient=recipient, reported_at=AT, addressee="市数据局", content="已书面报告"
            )
            incidents.report(w.db, actor=c.op, incident_id=incident.id, data=data)
        incidents.close(
            w.db, actor=c.op, incident_id=incident.id, data=CloseIn(conclusion="已处置完毕")
        )


def _entry(w: World) -> None:
    c = _cast(w)
    incident = registered(c)
    with clock.frozen(AT):
        data = EntryIn(kind="action", at=AT, text="吊销令牌")
        incidents.add_entry(w.db, actor=c.op, incident_id=incident.id, data=data)


def _reclassified(w: World) -> None:
    c = _cast(w)
    incident = registered(c)
    with clock.frozen(AT):
        incidents.reclassify(
            w.db,
            actor=c.op,
            profile=SHANGRAO,
            incident_id=incident.id,
            level=IncidentLevel.ESPECIALLY_MAJOR,
            reason="涉及全市人口数据",
        )


def _result(w: World) -> None:
    c = _cast(w)
    drill = planned(c)
    with clock.frozen("2026-11-20T18:00:00+08:00"):
        data = ExerciseResultIn(
            conducted_on="2026-11-20", conducted_by="市大数据中心", result="达到预期"
        )
        exercises.record_result(w.db, actor=c.op, exercise_id=drill.id, data=data)


def _recorded(w: World) -> None:
    c = _cast(w)
    found = Found(
        Violation.SECURITY_ISSUE, "security_issue:check_finding:0", c.police.id,
        "check_finding", None, "安全检查", "", "口令过于简单",
    )  # fmt: skip
    with clock.frozen(AT):
        findings.record_finding(w.db, actor=c.op, profile=SHANGRAO, found=found)


SCENARIOS: dict[str, Writes | Reads] = {
    INC + "register": Writes("security.incident.register", _incident),
    INC + "reclassify": Writes("security.incident.reclassify", _reclassified),
    INC + "add_entry": Writes("security.incident.entry", _entry),
    INC + "report": Writes("security.incident.report", _reported),
    INC + "close": Writes("security.incident.close", _closed),
    INC + "get_incident": Writes(
        "security.incident.read",
        lambda w: incidents.get_incident(w.db, actor=w.op, incident_id=_incident(w).id),
    ),
    INC + "list_incidents": Reads(
        lambda w: incidents.list_incidents(w.db, actor=w.op, overdue=True), prepare=_incident
    ),
    INC + "count_incidents": Reads(
        lambda w: incidents.count_incidents(w.db, actor=w.op), prepare=_incident
    ),
    INC + "resource_choices": Reads(lambda w: incidents.resource_choices(w.db, actor=w.op)),
    INC + "report_status": READ_ONLY,
    INC + "permitted": READ_ONLY,
    EXE + "plan": Writes("security.exercise.plan", lambda w: planned(_cast(w))),
    EXE + "record_result": Writes("security.exercise.result", _result),
    EXE + "attach": Writes(
        "security.document.attach",
        lambda w: exercises.attach(
            w.db, actor=w.op, exercise_id=planned(_cast(w)).id, documents=[SCAN]
        ),
    ),
    EXE + "get_exercise": Writes(
        "security.exercise.read",
        lambda w: exercises.get_exercise(w.db, actor=w.op, exercise_id=planned(_cast(w)).id),
    ),
    EXE + "list_exercises": Reads(
        lambda w: exercises.list_exercises(w.db, actor=w.op, year=2026),
        prepare=lambda w: planned(_cast(w)),
    ),
    EXE + "year_duties": Reads(
        lambda w: exercises.year_duties(w.db, actor=w.op, profile=SHANGRAO, year=2026),
        prepare=lambda w: planned(_cast(w)),
    ),
    CHK + "record_check": Writes("security.check.record", lambda w: checked(_cast(w))),
    CHK + "add_finding": Writes(
        "security.check.finding", lambda w: found_problem(c := _cast(w), checked(c))
    ),
    CHK + "attach": Writes(
        "security.document.attach",
        lambda w: checks.attach(w.db, actor=w.op, check_id=checked(_cast(w)).id, documents=[SCAN]),
    ),
    CHK + "get_check": Writes(
        "security.check.read",
        lambda w: checks.get_check(w.db, actor=w.op, check_id=checked(_cast(w)).id),
    ),
    CHK + "list_checks": Reads(
        lambda w: checks.list_checks(w.db, actor=w.op), prepare=lambda w: checked(_cast(w))
    ),
    CHK + "notices_of": Reads(
        lambda w: checks.notices_of(w.db, actor=w.op, check=w.prepared),
        prepare=lambda w: _with_problem(w),
    ),
    CHK + "visible_findings": READ_ONLY,
    COM + "checked": READ_ONLY,
    COM + "store_documents": Writes(
        "security.document.attach",
        lambda w: common.store_documents(w.db, w.op, planned(_cast(w)), [SCAN]),
    ),
    COM + "read_document": Writes(
        "security.document.read",
        lambda w: common.read_document(
            w.db, actor=w.op, document_id=planned(_cast(w)).documents[0].id
        ),
    ),
    FIN + "record_finding": Writes("supervision.finding.found", _recorded),
}


def _with_problem(w: World):  # type: ignore[no-untyped-def]
    c = _cast(w)
    check = checked(c)
    found_problem(c, check)
    return check
