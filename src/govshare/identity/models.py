"""Identity tables."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.core import stamp
from govshare.core.db import Base, UTCDateTime, str_enum

if TYPE_CHECKING:
    from govshare.systems.models import InformationSystem


class Level(StrEnum):
    """Administrative level of an organisation (层级)."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"

    @property
    def label(self) -> str:
        return {"province": "省级", "city": "市级", "county": "县级", "township": "乡镇级"}[self]


class OrganizationKind(StrEnum):
    """What kind of body an organisation is (SR§2, SR§31)."""

    GOVERNMENT = "government"  # 政务部门（行政机关）
    DELEGATED_INSTITUTION = "delegated_institution"  # 法律法规授权具有行政职能的事业单位
    PUBLIC_ENTERPRISE = "public_enterprise"  # 公共服务企业（水电气、通信、交通等）

    @property
    def label(self) -> str:
        return {
            "government": "政务部门",
            "delegated_institution": "授权事业单位",
            "public_enterprise": "公共服务企业",
        }[self]


class Organization(Base):
    """An organisation (组织机构): a department, institution or public-service enterprise."""

    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    short_name: Mapped[str | None] = mapped_column(String(40))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)  # 统一社会信用代码
    level: Mapped[Level] = mapped_column(str_enum(Level, 16))
    kind: Mapped[OrganizationKind] = mapped_column(str_enum(OrganizationKind, 32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    parent: Mapped[Organization | None] = relationship(remote_side=[id], lazy="raise")


class User(Base):
    """A person with a real-name account (实名用户)."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    real_name: Mapped[str] = mapped_column(String(40))
    mobile: Mapped[str] = mapped_column(String(11))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="UserRole.role"
    )

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)


class UserRole(Base):
    """One role held by a user."""

    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class DataOfficerTerm(Base):
    """A term as a department's data officer (数据专员, SR§13, SR§28): the post's history."""

    __tablename__ = "data_officer_term"
    __table_args__ = (
        # One serving officer per organisation at a time.
        Index(
            "uq_data_officer_term_serving",
            "organization_id",
            unique=True,
            sqlite_where=text("ended_on IS NULL"),
            postgresql_where=text("ended_on IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    appointed_by: Mapped[str] = mapped_column(String(120))

    user: Mapped[User] = relationship(lazy="joined")


class ConfidentialityAgreement(Base):
    """A data handler's signed confidentiality agreement (保密协议, WH§17)."""

    __tablename__ = "confidentiality_agreement"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    signed_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    document_ref: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(120))


class WebSession(Base):
    """A signed-in browser session, kept in the database so any process can serve it.
    Only the SHA-256 of the cookie value is stored."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A department system's API token (接口令牌): shown once, stored hashed, revocable."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    # The registered system that holds the token (CAT-12).
    # Every row names one; nullable only so that migration 0020 adds it in place.
    system_id: Mapped[int | None] = mapped_column(ForeignKey("information_system.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship(lazy="joined")
    system: Mapped[InformationSystem] = relationship(lazy="joined")


# Resolved API tokens are kept in memory per process (core.stamp); the last-used time is
# bookkeeping.
stamp.watch(ApiToken, ignore=frozenset({"last_used_at"}))
