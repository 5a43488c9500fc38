"""Audit scenarios for the verification services (see tests/test_audit_coverage.py)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

from govshare.core import clock
from govshare.core.db import make_engine
from govshare.core.documents import Document
from govshare.core.permissions import Actor, Role
from govshare.core.policy import load_profile
from govshare.exchange.center import Center
from govshare.exchange.models import RunKind, RunState, RunTrigger, SyncRun
from govshare.verification.models import Objection
from govshare.verification.schemas import (
    AnswerIn,
    ExtensionDecisionIn,
    ExtensionIn,
    MetadataObjectionIn,
    RecordObjectionIn,
    ServedIn,
)
from govshare.verification.service import evidence, objections
from tests.builders import actor_of, user
from tests.exchange.builders import (
    BUILT_AT,
    bind,
    grant_for,
    load_center,
    people_resource,
    population,
)
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.sharing.builders import Sharing, sharing_world
from tests.verification.comparison.cases import ADDRESS

OBJ = "govshare.verification.service.objections."
EVI = "govshare.verification.service.evidence."
SCAN = Document("居民户口簿首页.pdf", "application/pdf", b"%PDF-1.4\n% scan\n")
SHAOYANG = load_profile("shaoyang")
JOB = Actor(label="job:test", roles=frozenset({Role.SYSTEM}))


def _raised(w: World) -> tuple[Sharing, Any, Objection]:
    """The population resource bound, the consumer's grant, and its objection on a record."""
    with clock.frozen(BUILT_AT):
        s = sharing_world(w.db, w.op)
        resource = people_resource(s)
        binding = bind(w.db, s, resource)
        grant = grant_for(s, resource)
        objection = objections.raise_on_records(
            w.db,
            actor=s.consumer_officer,
            profile=SHAOYANG,
            grant_id=grant.id,
            data=RecordObjectionIn(
                keys=[{"公民身份号码": population(1)[0]["id_number"]}],
                items=["姓名"],
                claimed={"姓名": "张卫"},
                description="姓名登记有误",
            ),
        )
    return s, binding, objection


def _extension_requested(w: World) -> tuple[Sharing, Objection]:
    s, _, objection = _raised(w)
    objections.request_extension(
        w.db,
        actor=s.provider_officer,
        objection_id=objection.id,
        data=ExtensionIn(days=10, reason="需要协查"),
    )
    return s, objection


def _decide(w: World) -> None:
    s, objection = _extension_requested(w)
    head = actor_of(user(w.db, s.provider, [Role.DEPARTMENT_HEAD], "gaj-head"))
    objections.decide_extension(
        w.db, actor=head, objection_id=objection.id, data=ExtensionDecisionIn(approve=True)
    )


def _confirmed(w: World) -> tuple[Sharing, Any, Objection]:
    s, binding, objection = _raised(w)
    objections.answer(
        w.db,
        actor=s.provider_officer,
        objection_id=objection.id,
        data=AnswerIn(confirmed=True, answer="属实，已在源头更正", corrected={"姓名": "张卫"}),
    )
    return s, binding, objection


def _run(w: World, binding: Any) -> SyncRun:
    run = SyncRun(
        binding_id=binding.id,
        kind=RunKind.FULL,
        trigger=RunTrigger.MANUAL,
        state=RunState.SUCCEEDED,
        queued_at=clock.now(),
        queued_by="test",
    )
    w.db.add(run)
    w.db.flush()
    return run


def _check_after_run(w: World) -> None:
    """A center holding the corrected value: the run closes the objection."""
    _, binding, _ = _confirmed(w)
    folder = Path(tempfile.mkdtemp(prefix="govshare-verification-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    center = Center(make_engine(f"sqlite:///{folder / 'center.db'}"), None)
    rows = population(3)
    rows[0]["name"] = "张卫"
    load_center(center, binding, rows)
    closed = objections.check_after_run(
        w.db, actor=JOB, center=center, binding=binding, run_id=_run(w, binding).id
    )
    center.engine.dispose()
    assert closed


def _check_corrections(w: World) -> None:
    _, binding, objection = _confirmed(w)
    closed = objections.check_corrections(
        w.db,
        actor=JOB,
        resource_id=objection.resource_id,
        run_id=_run(w, binding).id,
        read_row=lambda key: {**key, "姓名": "张卫"},
    )
    assert closed == [objection]


SCENARIOS: dict[str, Writes | Reads] = {
    OBJ + "raise_on_records": Writes("verification.objection.raise", _raised),
    OBJ + "raise_on_metadata": Writes(
        "verification.objection.raise",
        lambda w: objections.raise_on_metadata(
            w.db,
            actor=(s := sharing_world(w.db, w.op)).consumer_officer,
            profile=SHAOYANG,
            resource_id=s.unconditional.id,
            data=MetadataObjectionIn(items=["更新周期"], description="更新周期与实际不符"),
        ),
    ),
    OBJ + "request_extension": Writes(
        "verification.objection.extension_request", _extension_requested
    ),
    OBJ + "decide_extension": Writes("verification.objection.extension_decide", _decide),
    OBJ + "answer": Writes("verification.objection.answer", _confirmed),
    OBJ + "check_corrections": Writes("verification.objection.corrected", _check_corrections),
    OBJ + "check_after_run": Writes("verification.objection.corrected", _check_after_run),
    OBJ + "record_served": Writes(
        "verification.objection.served",
        lambda w: objections.record_served(
            w.db,
            actor=(r := _raised(w))[0].consumer_officer,
            objection_id=r[2].id,
            data=ServedIn(person="张卫", proof="居民户口簿原件"),
        ),
    ),
    OBJ + "under_verification": Reads(
        lambda w: objections.under_verification(w.db, w.prepared[2].resource_id, ["公民身份号码"]),
        prepare=_raised,
    ),
    OBJ + "get_objection": Reads(
        lambda w: objections.get_objection(w.db, actor=w.op, objection_id=w.prepared[2].id),
        prepare=_raised,
    ),
    OBJ + "list_objections": Reads(
        lambda w: objections.list_objections(w.db, actor=w.op, overdue=True), prepare=_raised
    ),
    OBJ + "is_overdue": READ_ONLY,
    OBJ + "key_text": READ_ONLY,
    OBJ + "key_items": Reads(
        lambda w: objections.key_items(w.db, w.prepared[2].resource_id), prepare=_raised
    ),
    OBJ + "served_of": Reads(
        lambda w: objections.served_of(w.db, actor=w.op, objection_id=w.prepared[2].id),
        prepare=_raised,
    ),
}


def _attached(w: World) -> tuple[Sharing, Any]:
    s, _, objection = _raised(w)
    return s, evidence.attach_to_objection(
        w.db, actor=s.consumer_officer, objection=objection, documents=[SCAN]
    )[0]


def _mismatches(w: World) -> Any:
    from tests.verification.comparison.audit_scenarios import _ran

    return _ran(w)


def _attached_to_mismatch(w: World) -> None:
    c, _, cases = _mismatches(w)
    evidence.attach_to_mismatch(
        w.db, actor=c.s.provider_officer, mismatch=cases[ADDRESS], documents=[SCAN]
    )


SCENARIOS |= {
    EVI + "attach_to_objection": Writes("verification.evidence.attach", _attached),
    EVI + "attach_to_mismatch": Writes("verification.evidence.attach", _attached_to_mismatch),
    EVI + "read": Writes(
        "verification.evidence.read",
        lambda w: evidence.read(
            w.db, actor=(a := _attached(w))[0].provider_officer, evidence_id=a[1].id
        ),
    ),
    EVI + "checked": READ_ONLY,
    EVI + "count": Reads(
        lambda w: evidence.count(w.db, mismatch=w.prepared[2][ADDRESS]),
        prepare=lambda w: _mismatches(w),
    ),
}
