"""Small builders for the information systems register's tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from govshare.core.permissions import Actor, Role
from govshare.systems import service as systems_service
from govshare.systems.models import InformationSystem, PrivateLine
from govshare.systems.schemas import PrivateLineIn, SystemIn
from tests.builders import actor_of, organization, user


def system_in(**kw: Any) -> SystemIn:
    """A complete registration; `kw` overrides any field."""
    fields: dict[str, Any] = {
        "name": "社会救助信息系统",
        "purpose": "最低生活保障、特困人员供养的申请、审核和发放",
        "owner": "社会救助科",
        "level": "province",
    }
    return SystemIn.model_validate(fields | kw)


def officer_of(db: Session, name: str | None = None) -> Actor:
    """The data officer of a new department."""
    return actor_of(user(db, organization(db, name), [Role.DATA_OFFICER]))


def registered(db: Session, officer: Actor, **kw: Any) -> InformationSystem:
    return systems_service.register_system(db, actor=officer, data=system_in(**kw))


def line(
    db: Session, officer: Actor, system: InformationSystem, close_on: date, peer: str = ""
) -> PrivateLine:
    data = PrivateLineIn(
        peer=peer or "市公安局 人口信息管理系统",
        description="每月交换低保对象户籍变动（Excel 文件）",
        planned_close_on=close_on,
    )
    return systems_service.add_private_line(db, actor=officer, system_id=system.id, data=data)
