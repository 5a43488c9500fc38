"""Information systems register API (政务信息系统目录, CAT-12): systems, their connection to
the platform, private lines and their closing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from govshare.core.inputs import Id
from govshare.systems import schemas
from govshare.systems import service as systems_service
from govshare.systems.models import SystemLevel, SystemState
from govshare.web.deps import DB, SignedIn

router = APIRouter(prefix="/systems", tags=["信息系统目录"])


@router.get(
    "",
    summary="信息系统目录",
    description="管理、主管部门和审计员看到各部门的系统，其他人看到本单位的。默认只列在用的系统。",
)
def list_systems(
    db_session: DB,
    actor: SignedIn,
    organization_id: Id | None = None,
    state: SystemState | None = SystemState.IN_USE,
    level: SystemLevel | None = None,
    connected: bool | None = None,
    open_lines: Annotated[bool | None, Query(description="有未关闭的专线")] = None,
    keyword: Annotated[str, Query(max_length=100)] = "",
) -> list[schemas.SystemOut]:
    filters = systems_service.SystemFilter(
        organization_id=organization_id,
        state=state,
        level=level,
        connected=connected,
        open_lines=open_lines,
        keyword=keyword.strip(),
    )
    rows = systems_service.list_systems(db_session, actor=actor, filters=filters)
    return [schemas.SystemOut.model_validate(s) for s in rows]


@router.post("", status_code=201, summary="登记信息系统")
def register_system(db_session: DB, actor: SignedIn, data: schemas.SystemIn) -> schemas.SystemOut:
    system = systems_service.register_system(db_session, actor=actor, data=data)
    return schemas.SystemOut.model_validate(system)


@router.get("/{system_id}", summary="查看信息系统")
def get_system(db_session: DB, actor: SignedIn, system_id: Id) -> schemas.SystemOut:
    system = systems_service.get_system(db_session, actor=actor, system_id=system_id)
    return schemas.SystemOut.model_validate(system)


@router.put("/{system_id}", summary="修改信息系统登记")
def update_system(
    db_session: DB, actor: SignedIn, system_id: Id, data: schemas.SystemIn
) -> schemas.SystemOut:
    system = systems_service.update_system(db_session, actor=actor, system_id=system_id, data=data)
    return schemas.SystemOut.model_validate(system)


@router.post("/{system_id}/retire", summary="停用信息系统（须先关闭全部专线）")
def retire_system(
    db_session: DB, actor: SignedIn, system_id: Id, data: schemas.RetireIn
) -> schemas.SystemOut:
    system = systems_service.retire_system(db_session, actor=actor, system_id=system_id, data=data)
    return schemas.SystemOut.model_validate(system)


@router.put("/{system_id}/connection", summary="登记接入共享平台")
def record_connection(
    db_session: DB, actor: SignedIn, system_id: Id, data: schemas.ConnectionIn
) -> schemas.SystemOut:
    system = systems_service.record_connection(
        db_session, actor=actor, system_id=system_id, data=data
    )
    return schemas.SystemOut.model_validate(system)


@router.post("/{system_id}/lines", status_code=201, summary="登记专线（含计划关闭日期）")
def add_private_line(
    db_session: DB, actor: SignedIn, system_id: Id, data: schemas.PrivateLineIn
) -> schemas.PrivateLineOut:
    line = systems_service.add_private_line(db_session, actor=actor, system_id=system_id, data=data)
    return schemas.PrivateLineOut.model_validate(line)


@router.post("/lines/{line_id}/close", summary="登记专线关闭")
def close_private_line(
    db_session: DB, actor: SignedIn, line_id: Id, data: schemas.LineClosureIn
) -> schemas.PrivateLineOut:
    line = systems_service.close_private_line(db_session, actor=actor, line_id=line_id, data=data)
    return schemas.PrivateLineOut.model_validate(line)
