"""Audit scenarios for the information systems register (see tests/test_audit_coverage.py)."""

from __future__ import annotations

from datetime import date

from govshare.core import clock
from govshare.systems import service as systems_service
from govshare.systems.models import InformationSystem
from govshare.systems.schemas import ConnectionIn, LineClosureIn, RetireIn
from tests.scenarios import READ_ONLY, Reads, World, Writes
from tests.systems.builders import line, system_in

SYS = "govshare.systems.service."
TODAY = "2026-10-12T09:00:00+08:00"


def _registered(w: World) -> InformationSystem:
    return systems_service.register_system(
        w.db, actor=w.op, data=system_in(organization_id=w.dept.id)
    )


def _closed(w: World) -> None:
    with clock.frozen(TODAY):
        added = line(w.db, w.op, _registered(w), date(2026, 12, 31))
        systems_service.close_private_line(
            w.db, actor=w.op, line_id=added.id, data=LineClosureIn(closed_on=date(2026, 10, 9))
        )


def _connected(w: World) -> None:
    with clock.frozen(TODAY):
        systems_service.record_connection(
            w.db,
            actor=w.op,
            system_id=_registered(w).id,
            data=ConnectionIn(connected_on=date(2026, 10, 9)),
        )


SCENARIOS: dict[str, Writes | Reads] = {
    SYS + "register_system": Writes("systems.system.register", _registered),
    SYS + "update_system": Writes(
        "systems.system.update",
        lambda w: systems_service.update_system(
            w.db,
            actor=w.op,
            system_id=_registered(w).id,
            data=system_in(owner="信息中心 王工"),
        ),
    ),
    SYS + "retire_system": Writes(
        "systems.system.retire",
        lambda w: systems_service.retire_system(
            w.db, actor=w.op, system_id=_registered(w).id, data=RetireIn(reason="并入一体化平台")
        ),
    ),
    SYS + "record_connection": Writes("systems.system.connect", _connected),
    SYS + "add_private_line": Writes(
        "systems.line.add", lambda w: line(w.db, w.op, _registered(w), date(2026, 12, 31))
    ),
    SYS + "close_private_line": Writes("systems.line.close", _closed),
    SYS + "get_system": Writes(
        "systems.system.view",
        lambda w: systems_service.get_system(w.db, actor=w.op, system_id=_registered(w).id),
    ),
    SYS + "list_systems": Writes(
        "systems.system.list", lambda w: systems_service.list_systems(w.db, actor=w.op)
    ),
    SYS + "choices": Reads(
        lambda w: systems_service.choices(w.db, actor=w.op, organization_id=w.prepared.id),
        prepare=lambda w: w.dept,
    ),
    SYS + "system_for_use": Reads(
        lambda w: systems_service.system_for_use(
            w.db, actor=w.op, organization_id=w.dept.id, system_id=w.prepared
        ),
        prepare=lambda w: _registered(w).id,
    ),
    SYS + "permitted": READ_ONLY,
}
