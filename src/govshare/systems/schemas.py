"""Information systems register: inputs and outputs. Inputs check their own fields with
Chinese messages; what depends on the register (a name taken, a date before the system's
connection) lives in the service."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from govshare.core.filenames import DIRECTION_CONTROLS
from govshare.core.inputs import Id
from govshare.systems.models import SystemLevel, SystemState

TEXT_MAX = 2000


def _plain(value: str) -> str:
    if any(ord(c) < 32 or 127 <= ord(c) < 160 or c in DIRECTION_CONTROLS for c in value):
        raise ValueError("不能包含控制字符或文字方向控制字符")
    return value


class SystemIn(BaseModel):
    """A system as its department registers or edits it (政务信息系统登记)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    organization_id: Id | None = None  # the operator names the department; an officer's own
    name: str = Field(min_length=2, max_length=100)  # 系统名称
    purpose: str = Field(min_length=4, max_length=TEXT_MAX)  # 建设用途、承载业务
    owner: str = Field(min_length=2, max_length=100)  # 责任人或责任科室
    level: SystemLevel = SystemLevel.CITY
    classified: bool = False  # 涉密系统

    @field_validator("name", "owner")
    @classmethod
    def _no_controls(cls, value: str) -> str:
        return _plain(value)


class ConnectionIn(BaseModel):
    """The system is connected to the platform (接入共享平台, SY§15) since this date."""

    model_config = ConfigDict(str_strip_whitespace=True)

    connected_on: date
    note: str = Field(default="", max_length=TEXT_MAX)  # how: front-end database, interface…


class RetireIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    reason: str = Field(min_length=2, max_length=TEXT_MAX)


class PrivateLineIn(BaseModel):
    """A private line or exchange channel still in use (专线, SY§20) and when it will close."""

    model_config = ConfigDict(str_strip_whitespace=True)

    peer: str = Field(min_length=2, max_length=200)  # 对端部门及系统
    description: str = Field(default="", max_length=TEXT_MAX)  # 传输的内容
    planned_close_on: date  # 计划关闭日期

    @field_validator("peer")
    @classmethod
    def _no_controls(cls, value: str) -> str:
        return _plain(value)


class LineClosureIn(BaseModel):
    """A private line closed (关闭到位) on a date, with what replaced it."""

    model_config = ConfigDict(str_strip_whitespace=True)

    closed_on: date
    note: str = Field(default="", max_length=TEXT_MAX)


class PrivateLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    system_id: int
    peer: str
    description: str
    planned_close_on: date
    closed_on: date | None
    closing_note: str | None


class SystemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organization_id: int
    name: str
    purpose: str
    owner: str
    level: SystemLevel
    classified: bool
    connected: bool
    connected_on: date | None
    connection_note: str
    state: SystemState
    retired_on: date | None
    retired_reason: str | None
    created_at: datetime
    updated_at: datetime
    lines: list[PrivateLineOut]
