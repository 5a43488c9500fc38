"""Information systems register tables: each department's systems (政务信息系统) and the
private lines (专线) they still use beside the platform (CAT-12, SY§15, SY§20)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.identity.models import Organization


class SystemLevel(StrEnum):
    """Who built the system (建设层级): a vertical system of the state or the province that
    the department only uses (国垂、省垂), or one built by the city or a county."""

    NATIONAL = "national"
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"

    @property
    def label(self) -> str:
        return {"national": "国家级", "province": "省级", "city": "市级", "county": "县级"}[self]


class SystemState(StrEnum):
    IN_USE = "in_use"  # 在用
    RETIRED = "retired"  # 已停用

    @property
    def label(self) -> str:
        return {"in_use": "在用", "retired": "已停用"}[self]


class InformationSystem(Base):
    """A department's information system (政务信息系统): what applications, grants and API
    tokens name as the system that uses the data (SR§13)."""

    __tablename__ = "information_system"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(Text)  # 建设用途 / 承载业务
    owner: Mapped[str] = mapped_column(String(100))  # 责任人或责任科室
    level: Mapped[SystemLevel] = mapped_column(str_enum(SystemLevel, 16))
    classified: Mapped[bool] = mapped_column(Boolean, default=False)  # 涉密 (SY§15: not bound)
    # Connected to the platform (接入共享平台, SY§15, SY§17) since this date; None: not yet.
    connected_on: Mapped[date | None] = mapped_column(Date)
    connection_note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[SystemState] = mapped_column(str_enum(SystemState, 16), index=True)
    retired_on: Mapped[date | None] = mapped_column(Date)
    retired_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship(lazy="joined")
    lines: Mapped[list[PrivateLine]] = relationship(
        lazy="selectin", order_by="PrivateLine.id", back_populates="system"
    )

    @property
    def connected(self) -> bool:
        return self.connected_on is not None

    @property
    def open_lines(self) -> list[PrivateLine]:
        return [line for line in self.lines if line.closed_on is None]


class PrivateLine(Base):
    """A private line or exchange channel (专线或共享交换通道) a system still uses to share
    with another department; it is to be closed by its planned date (SY§20)."""

    __tablename__ = "information_system_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("information_system.id"), index=True)
    peer: Mapped[str] = mapped_column(String(200))  # the other end: department and system
    description: Mapped[str] = mapped_column(Text, default="")  # what it carries
    planned_close_on: Mapped[date] = mapped_column(Date)  # 计划关闭日期
    closed_on: Mapped[date | None] = mapped_column(Date)
    closing_note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(120))

    system: Mapped[InformationSystem] = relationship(lazy="joined", back_populates="lines")
