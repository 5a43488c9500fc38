"""Information systems register (政务信息系统目录, CAT-12): each department's systems, whether
they are connected to the platform (SY§15, SY§17, BZ§8, SR§12) and the private lines they
still use beside it, each with the date it is to be closed (SY§20, SR§13).

Applications, grants and API tokens name a registered system (SR§13 信息系统名称) rather
than free text: `system_for_use` is the one question the other domains ask, so a system of
another department, or one no longer in use, is refused in one place. Supervision reads the
register's private lines for those kept open past their date.

A department's data officer keeps its own entries; the operator may keep any department's;
the authority and auditors read them all, a department's people their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import record
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.identity.models import Organization
from govshare.systems.models import InformationSystem, PrivateLine, SystemLevel, SystemState
from govshare.systems.schemas import (
    ConnectionIn,
    LineClosureIn,
    PrivateLineIn,
    RetireIn,
    SystemIn,
)

MANAGERS = (Role.PLATFORM_OPERATOR, Role.DATA_OFFICER)
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
READERS = (*OVERSEERS, Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF)


@dataclass(frozen=True)
class Permitted:
    """What the actor may do with one system (the page asks rather than works it out)."""

    edit: bool


@dataclass(frozen=True)
class SystemFilter:
    """The register's list filters; None means any."""

    organization_id: int | None = None
    state: SystemState | None = SystemState.IN_USE
    level: SystemLevel | None = None
    connected: bool | None = None
    open_lines: bool | None = None  # has a private line not yet closed
    keyword: str = ""


def permitted(actor: Actor, system: InformationSystem) -> Permitted:
    """What `actor` may do with `system`."""
    manages = actor.has(Role.PLATFORM_OPERATOR) or (
        actor.has(Role.DATA_OFFICER) and actor.organization_id == system.organization_id
    )
    return Permitted(edit=manages and system.state is SystemState.IN_USE)


def _oversees(actor: Actor) -> bool:
    return actor.has(*OVERSEERS)


def _visible(db_session: Session, actor: Actor, system_id: int) -> InformationSystem:
    system = db_session.get(InformationSystem, system_id)
    if system is None or not (_oversees(actor) or system.organization_id == actor.organization_id):
        raise NotFound(f"信息系统 {system_id} 不存在", field="system_id")
    return system


def _managed(db_session: Session, actor: Actor, system_id: int, action: str) -> InformationSystem:
    require(actor, *MANAGERS, action=action)
    system = _visible(db_session, actor, system_id)
    if not permitted(actor, system).edit:
        if system.state is SystemState.RETIRED:
            raise Conflict(f"“{system.name}”已停用，不能再{action}", field="system_id")
        raise NotFound(f"信息系统 {system_id} 不存在", field="system_id")
    return system


def _department(db_session: Session, actor: Actor, organization_id: int | None) -> int:
    """The department an entry belongs to: the officer's own; the operator names one."""
    if not actor.has(Role.PLATFORM_OPERATOR):
        own = own_organization(actor)
        if organization_id not in (None, own):
            raise NotFound(f"组织机构 {organization_id} 不存在", field="organization_id")
        return own
    if organization_id is None:
        raise Invalid("请选择信息系统所属单位", field="organization_id")
    organization = db_session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"组织机构 {organization_id} 不存在", field="organization_id")
    return organization.id


def _name_free(db_session: Session, organization_id: int, name: str, but: int | None) -> None:
    stmt = sa.select(InformationSystem.id).where(
        InformationSystem.organization_id == organization_id, InformationSystem.name == name
    )
    if but is not None:
        stmt = stmt.where(InformationSystem.id != but)
    if db_session.scalar(stmt) is not None:
        raise Conflict(f"本单位已登记名为“{name}”的信息系统，名称不能重复", field="name")


def _not_future(value: date, field: str, what: str) -> None:
    if value > clock.today():
        raise Invalid(f"{what}不能晚于今天（{clock.today().isoformat()}）", field=field)


def _described(system: InformationSystem) -> dict[str, object]:
    return {
        "organization_id": system.organization_id,
        "name": system.name,
        "owner": system.owner,
        "level": system.level.value,
        "classified": system.classified,
    }


def register_system(db_session: Session, *, actor: Actor, data: SystemIn) -> InformationSystem:
    """Registers a department's information system (登记)."""
    require(actor, *MANAGERS, action="登记信息系统")
    organization_id = _department(db_session, actor, data.organization_id)
    _name_free(db_session, organization_id, data.name, None)
    now = clock.now()
    system = InformationSystem(
        organization_id=organization_id,
        name=data.name,
        purpose=data.purpose,
        owner=data.owner,
        level=data.level,
        classified=data.classified,
        connection_note="",
        state=SystemState.IN_USE,
        created_at=now,
        created_by=actor.label,
        updated_at=now,
    )
    db_session.add(system)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="systems.system.register",
        object_type="information_system",
        object_id=system.id,
        details=_described(system),
    )
    return system


def update_system(
    db_session: Session, *, actor: Actor, system_id: int, data: SystemIn
) -> InformationSystem:
    """Edits a system's entry; applications and grants keep the name they were made with."""
    system = _managed(db_session, actor, system_id, "修改登记")
    if data.organization_id not in (None, system.organization_id):
        raise Invalid("信息系统不能改登到其他单位，请在该单位重新登记", field="organization_id")
    _name_free(db_session, system.organization_id, data.name, system.id)
    before = _described(system) | {"purpose": system.purpose}
    system.name, system.purpose, system.owner = data.name, data.purpose, data.owner
    system.level, system.classified = data.level, data.classified
    system.updated_at = clock.now()
    db_session.flush()
    after = _described(system) | {"purpose": system.purpose}
    record(
        db_session,
        actor=actor,
        action="systems.system.update",
        object_type="information_system",
        object_id=system.id,
        details={k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]},
    )
    return system


def retire_system(
    db_session: Session, *, actor: Actor, system_id: int, data: RetireIn
) -> InformationSystem:
    """Marks a system no longer in use (停用): it can no longer be named by a new application
    or token; what named it keeps the name. Its open private lines must be closed first."""
    system = _managed(db_session, actor, system_id, "停用")
    if system.open_lines:
        raise Conflict(
            f"“{system.name}”还有 {len(system.open_lines)} 条专线未关闭，请先登记关闭再停用",
            field="system_id",
        )
    system.state, system.retired_on, system.retired_reason = (
        SystemState.RETIRED,
        clock.today(),
        data.reason,
    )
    system.updated_at = clock.now()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="systems.system.retire",
        object_type="information_system",
        object_id=system.id,
        details={"name": system.name, "reason": data.reason},
    )
    return system


def record_connection(
    db_session: Session, *, actor: Actor, system_id: int, data: ConnectionIn
) -> InformationSystem:
    """Records that the system is connected to the platform (接入共享平台, SY§15)."""
    system = _managed(db_session, actor, system_id, "登记接入")
    _not_future(data.connected_on, "connected_on", "接入日期")
    system.connected_on, system.connection_note = data.connected_on, data.note
    system.updated_at = clock.now()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="systems.system.connect",
        object_type="information_system",
        object_id=system.id,
        details={"connected_on": data.connected_on.isoformat(), "note": data.note},
    )
    return system


def add_private_line(
    db_session: Session, *, actor: Actor, system_id: int, data: PrivateLineIn
) -> PrivateLine:
    """Registers a private line the system still uses, with its planned closing date (SY§20)."""
    system = _managed(db_session, actor, system_id, "登记专线")
    line = PrivateLine(
        system_id=system.id,
        peer=data.peer,
        description=data.description,
        planned_close_on=data.planned_close_on,
        recorded_at=clock.now(),
        recorded_by=actor.label,
    )
    db_session.add(line)
    db_session.flush()
    db_session.refresh(system, ["lines"])
    record(
        db_session,
        actor=actor,
        action="systems.line.add",
        object_type="information_system_line",
        object_id=line.id,
        details={
            "system_id": system.id,
            "peer": data.peer,
            "planned_close_on": data.planned_close_on.isoformat(),
        },
    )
    return line


def close_private_line(
    db_session: Session, *, actor: Actor, line_id: int, data: LineClosureIn
) -> PrivateLine:
    """Records that a private line is closed (关闭到位)."""
    line = db_session.get(PrivateLine, line_id)
    if line is None:
        raise NotFound(f"专线 {line_id} 不存在", field="line_id")
    _managed(db_session, actor, line.system_id, "登记专线关闭")
    if line.closed_on is not None:
        raise Conflict(f"该专线已于 {line.closed_on.isoformat()} 关闭", field="line_id")
    _not_future(data.closed_on, "closed_on", "关闭日期")
    line.closed_on, line.closing_note = data.closed_on, data.note
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="systems.line.close",
        object_type="information_system_line",
        object_id=line.id,
        details={
            "system_id": line.system_id,
            "closed_on": data.closed_on.isoformat(),
            "planned_close_on": line.planned_close_on.isoformat(),
        },
    )
    return line


def get_system(db_session: Session, *, actor: Actor, system_id: int) -> InformationSystem:
    """One system's entry with its private lines; the reading is logged."""
    require(actor, *READERS, action="查看信息系统")
    system = _visible(db_session, actor, system_id)
    record(
        db_session,
        actor=actor,
        action="systems.system.view",
        object_type="information_system",
        object_id=system.id,
    )
    return system


def list_systems(
    db_session: Session, *, actor: Actor, filters: SystemFilter = SystemFilter()
) -> list[InformationSystem]:
    """The register, filtered: every department's for overseers, one's own otherwise; the
    query is logged."""
    require(actor, *READERS, action="查看信息系统目录")
    stmt = sa.select(InformationSystem).order_by(
        InformationSystem.organization_id, InformationSystem.name
    )
    organization_id = filters.organization_id
    if not _oversees(actor):
        organization_id = own_organization(actor)
    if organization_id is not None:
        stmt = stmt.where(InformationSystem.organization_id == organization_id)
    if filters.state is not None:
        stmt = stmt.where(InformationSystem.state == filters.state)
    if filters.level is not None:
        stmt = stmt.where(InformationSystem.level == filters.level)
    if filters.connected is not None:
        connected = InformationSystem.connected_on.is_not(None)
        stmt = stmt.where(connected if filters.connected else sa.not_(connected))
    if filters.open_lines is not None:
        has_open = sa.exists().where(
            PrivateLine.system_id == InformationSystem.id, PrivateLine.closed_on.is_(None)
        )
        stmt = stmt.where(has_open if filters.open_lines else sa.not_(has_open))
    if filters.keyword:
        escaped = filters.keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(InformationSystem.name.like(f"%{escaped}%", escape="\\"))
    systems = list(db_session.scalars(stmt))
    record(
        db_session,
        actor=actor,
        action="systems.system.list",
        object_type="information_system",
        details={
            "organization_id": organization_id,
            "state": filters.state.value if filters.state else None,
            "connected": filters.connected,
            "open_lines": filters.open_lines,
            "keyword": filters.keyword,
            "count": len(systems),
        },
    )
    return systems


def choices(
    db_session: Session, *, actor: Actor, organization_id: int | None = None
) -> list[InformationSystem]:
    """The systems in use of a department (None: every department the actor sees), for a
    form's choice: its people choose their own, overseers any department's."""
    require(actor, *READERS, action="选择信息系统")
    if not _oversees(actor):
        if organization_id not in (None, actor.organization_id):
            return []
        organization_id = own_organization(actor)
    stmt = (
        sa.select(InformationSystem)
        .where(InformationSystem.state == SystemState.IN_USE)
        .order_by(InformationSystem.organization_id, InformationSystem.name)
    )
    if organization_id is not None:
        stmt = stmt.where(InformationSystem.organization_id == organization_id)
    return list(db_session.scalars(stmt))


def system_for_use(
    db_session: Session,
    *,
    actor: Actor,
    organization_id: int,
    system_id: int,
    field: str = "system_id",
) -> InformationSystem:
    """The registered system `organization_id` names for an application, a grant or a token;
    refused, naming `field`, if it is another department's or no longer in use."""
    require(actor, *READERS, Role.SYSTEM, action="选择信息系统")
    system = db_session.get(InformationSystem, system_id)
    if system is None or system.organization_id != organization_id:
        raise Invalid("请从本单位已登记的信息系统中选择（在“信息系统”中登记后再选）", field=field)
    if system.state is not SystemState.IN_USE:
        raise Invalid(f"信息系统“{system.name}”已停用，请选择在用的系统", field=field)
    return system
