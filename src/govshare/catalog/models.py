"""Catalog tables (目录): resources, their versions and data items, themes, subscriptions,
catalog change events, needs and IT projects.

A resource (政务信息资源) is an identity that never changes — code, provider, catalog kind and
classification. What it says about itself lives in numbered versions: a draft is edited,
submitted, reviewed by the operator and published; a published version is never edited again,
so every version ever published stays readable. A change to a published resource is a new
version through the same review.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.core import stamp
from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.identity.models import Organization


class Labelled(StrEnum):
    """An enum whose members carry their interface label (the LABELS table of its module)."""

    @property
    def label(self) -> str:
        table = sys.modules[type(self).__module__].LABELS  # type: ignore[attr-defined]
        return table[type(self).__name__][self.value]

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]

    @classmethod
    def from_label(cls, text: str) -> Labelled | None:
        """The member whose label or value is `text` (spreadsheets carry labels)."""
        text = text.strip()
        for member in cls:
            if text in (member.value, member.label):
                return member
        return None


class CatalogKind(Labelled):
    """The three catalog kinds (CAT-1)."""

    BASE = "base"  # 基础信息资源目录
    THEME = "theme"  # 主题信息资源目录
    DEPARTMENT = "department"  # 部门信息资源目录


class ResourceFormat(Labelled):
    """Resource format (信息资源格式) after the national catalog guide."""

    DATABASE = "database"
    ELECTRONIC_FILE = "electronic_file"
    SPREADSHEET = "spreadsheet"
    IMAGE = "image"
    STREAMING = "streaming"
    SELF_DESCRIBING = "self_describing"
    SERVICE_INTERFACE = "service_interface"


class DataType(Labelled):
    """Data item types of the national catalog guide (数据类型)."""

    CHAR = "C"
    NUMERIC = "N"
    CURRENCY = "Y"
    DATE = "D"
    DATETIME = "T"
    LOGICAL = "L"
    MEMO = "M"
    GENERAL = "G"
    DOUBLE = "B"
    INTEGER = "I"
    FLOAT = "F"


class ShareType(Labelled):
    """Share type (共享类型)."""

    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NOT_SHARED = "not_shared"

    @property
    def strictness(self) -> int:
        return {"unconditional": 0, "conditional": 1, "not_shared": 2}[self.value]


class ShareMethod(Labelled):
    """How the resource is shared (共享方式): on the platform, or offline as an exception."""

    TABLE = "table"
    FILE = "file"
    SERVICE = "service"
    OFFLINE = "offline"


class UpdateFrequency(Labelled):
    """Declared update frequency (更新周期); stale detection counts from it."""

    REALTIME = "realtime"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"
    IRREGULAR = "irregular"

    @property
    def max_age_days(self) -> int | None:
        """Calendar days after which unrefreshed data counts as stale (None: never)."""
        return {
            "realtime": 1,
            "daily": 2,
            "weekly": 8,
            "monthly": 32,
            "quarterly": 93,
            "half_yearly": 184,
            "yearly": 366,
            "irregular": None,
        }[self.value]


class OpenType(Labelled):
    """Open type (开放属性)."""

    NOT_OPEN = "not_open"
    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"


class Domain(Labelled):
    """Domain (领域), after the open-data domains of SR§21 (OPN-4)."""

    CREDIT = "credit"
    TRANSPORT = "transport"
    HEALTH = "health"
    EMPLOYMENT = "employment"
    SOCIAL_SECURITY = "social_security"
    GEOGRAPHY = "geography"
    CULTURE = "culture"
    EDUCATION = "education"
    SCIENCE = "science"
    ENERGY = "energy"
    AGRICULTURE = "agriculture"
    ENVIRONMENT = "environment"
    ECONOMY = "economy"
    FINANCE = "finance"
    SAFETY = "safety"
    STATISTICS = "statistics"
    WEATHER = "weather"
    ENTERPRISE_REGISTRATION = "enterprise_registration"
    PUBLIC_ADMINISTRATION = "public_administration"


class ResourceStatus(Labelled):
    """Where a resource stands as a whole."""

    DRAFT = "draft"  # never published
    PUBLISHED = "published"
    RETIRED = "retired"


class VersionState(Labelled):
    """Where one version stands in review (CAT-3)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    SCHEDULED = "scheduled"  # approved; takes effect on its effective date (CAT-6)
    PUBLISHED = "published"  # the current published version
    SUPERSEDED = "superseded"  # was published, replaced by a later version
    WITHDRAWN = "withdrawn"  # abandoned by the provider before it took effect


class RetirementState(Labelled):
    """A request to retire (下架) a published resource."""

    SUBMITTED = "submitted"
    SCHEDULED = "scheduled"
    RETURNED = "returned"
    DONE = "done"


class ChangeCause(Labelled):
    """Why a department's catalog must be updated (CAT-5)."""

    LAW_CHANGE = "law_change"
    DUTY_CHANGE = "duty_change"


class NeedState(Labelled):
    """A stated need (需求, CAT-10)."""

    OPEN = "open"
    ASSIGNED = "assigned"
    FULFILLED = "fulfilled"
    DECLINED = "declined"


class ProjectStage(Labelled):
    """Stage of a budget-funded IT project (CAT-9)."""

    PLANNING = "planning"
    APPROVED = "approved"
    BUILDING = "building"
    ACCEPTED = "accepted"


LABELS: dict[str, dict[str, str]] = {
    "CatalogKind": {
        "base": "基础信息资源目录",
        "theme": "主题信息资源目录",
        "department": "部门信息资源目录",
    },
    "ResourceFormat": {
        "database": "数据库",
        "electronic_file": "电子文件",
        "spreadsheet": "电子表格",
        "image": "图形图像",
        "streaming": "流媒体",
        "self_describing": "自描述格式",
        "service_interface": "服务接口",
    },
    "DataType": {
        "C": "字符型C",
        "N": "数值型N",
        "Y": "货币型Y",
        "D": "日期型D",
        "T": "日期时间型T",
        "L": "逻辑型L",
        "M": "备注型M",
        "G": "通用型G",
        "B": "双精度型B",
        "I": "整型I",
        "F": "浮点型F",
    },
    "ShareType": {
        "unconditional": "无条件共享",
        "conditional": "有条件共享",
        "not_shared": "不予共享",
    },
    "ShareMethod": {
        "table": "共享平台·库表",
        "file": "共享平台·文件",
        "service": "共享平台·服务接口",
        "offline": "邮件或介质（例外）",
    },
    "UpdateFrequency": {
        "realtime": "实时",
        "daily": "每日",
        "weekly": "每周",
        "monthly": "每月",
        "quarterly": "每季度",
        "half_yearly": "每半年",
        "yearly": "每年",
        "irregular": "不定期",
    },
    "OpenType": {
        "not_open": "不予开放",
        "unconditional": "无条件开放",
        "conditional": "有条件开放",
    },
    "Domain": {
        "credit": "信用服务",
        "transport": "交通运输",
        "health": "医疗卫生",
        "employment": "就业",
        "social_security": "社保",
        "geography": "地理空间",
        "culture": "文化休闲",
        "education": "教育科技",
        "science": "科技创新",
        "energy": "能源",
        "agriculture": "农业农村",
        "environment": "生态环境",
        "economy": "经济建设",
        "finance": "财税金融",
        "safety": "安全生产",
        "statistics": "统计",
        "weather": "气象服务",
        "enterprise_registration": "企业登记",
        "public_administration": "政务综合",
    },
    "ResourceStatus": {"draft": "未发布", "published": "已发布", "retired": "已下架"},
    "VersionState": {
        "draft": "草稿",
        "submitted": "待审核",
        "returned": "已退回",
        "scheduled": "已通过·待生效",
        "published": "现行版本",
        "superseded": "历史版本",
        "withdrawn": "已撤回",
    },
    "RetirementState": {
        "submitted": "下架待审核",
        "scheduled": "已批准·待下架",
        "returned": "下架申请已退回",
        "done": "已下架",
    },
    "ChangeCause": {"law_change": "法律法规变化", "duty_change": "部门职能变化"},
    "NeedState": {
        "open": "待分派",
        "assigned": "已分派",
        "fulfilled": "已满足",
        "declined": "无法满足",
    },
    "ProjectStage": {
        "planning": "规划",
        "approved": "已立项",
        "building": "建设中",
        "accepted": "已验收",
    },
}


class Theme(Base):
    """A theme catalog (主题信息资源目录) led by one department with contributors (CAT-1)."""

    __tablename__ = "catalog_theme"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    lead_organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    lead: Mapped[Organization] = relationship(lazy="joined")
    contributor_rows: Mapped[list[ThemeContributor]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def member_ids(self) -> set[int]:
        return {self.lead_organization_id} | {c.organization_id for c in self.contributor_rows}


class ThemeContributor(Base):
    """A department contributing to a theme catalog."""

    __tablename__ = "catalog_theme_contributor"

    theme_id: Mapped[int] = mapped_column(ForeignKey("catalog_theme.id"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), primary_key=True)


class CodeCounter(Base):
    """The last sequence number used under a classification prefix: codes are never reused."""

    __tablename__ = "catalog_code_counter"

    prefix: Mapped[str] = mapped_column(String(20), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Resource(Base):
    """A government information resource (政务信息资源): the part that never changes."""

    __tablename__ = "catalog_resource"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    catalog_kind: Mapped[CatalogKind] = mapped_column(str_enum(CatalogKind, 16))
    base_topic: Mapped[str | None] = mapped_column(String(32))
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_theme.id"), index=True)
    # Classification (资源分类): 类 (1 digit) / 项 (2) / 目 (3) / 细目 (3, optional)
    class_code: Mapped[str] = mapped_column(String(1))
    item_code: Mapped[str] = mapped_column(String(2))
    group_code: Mapped[str] = mapped_column(String(3))
    subgroup_code: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[ResourceStatus] = mapped_column(str_enum(ResourceStatus, 16), index=True)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_version.id", use_alter=True)
    )
    first_published_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    # Retirement (下架, CAT-3/CAT-6): requested, reviewed, effective on a date.
    retirement_state: Mapped[RetirementState | None] = mapped_column(str_enum(RetirementState, 16))
    retirement_reason: Mapped[str | None] = mapped_column(Text)
    retirement_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retirement_review_comment: Mapped[str | None] = mapped_column(Text)
    retires_on: Mapped[date | None] = mapped_column(Date)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[Organization] = relationship(lazy="joined")
    theme: Mapped[Theme | None] = relationship(lazy="joined")
    current_version: Mapped[ResourceVersion | None] = relationship(
        foreign_keys=[current_version_id], lazy="joined", post_update=True
    )

    @property
    def classification(self) -> str:
        return self.class_code + self.item_code + self.group_code + (self.subgroup_code or "")


class ResourceVersion(Base):
    """One numbered version of a resource's metadata and data items (CAT-2)."""

    __tablename__ = "catalog_version"
    __table_args__ = (UniqueConstraint("resource_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[VersionState] = mapped_column(str_enum(VersionState, 16), index=True)

    name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    format: Mapped[ResourceFormat] = mapped_column(str_enum(ResourceFormat, 24))
    format_detail: Mapped[str] = mapped_column(String(60), default="")
    share_type: Mapped[ShareType] = mapped_column(str_enum(ShareType, 16))
    share_conditions: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    share_scope: Mapped[str] = mapped_column(String(200), default="")
    share_methods: Mapped[list[str]] = mapped_column(JSON)
    offline_reason: Mapped[str] = mapped_column(Text, default="")
    update_frequency: Mapped[UpdateFrequency] = mapped_column(str_enum(UpdateFrequency, 16))
    timeliness: Mapped[str] = mapped_column(String(100), default="")
    open_type: Mapped[OpenType] = mapped_column(str_enum(OpenType, 16))
    open_conditions: Mapped[str] = mapped_column(Text, default="")
    domain: Mapped[Domain] = mapped_column(str_enum(Domain, 32))
    related_codes: Mapped[list[str]] = mapped_column(JSON)

    change_note: Mapped[str] = mapped_column(Text, default="")  # what changed and why
    narrowing: Mapped[bool] = mapped_column(Boolean, default=False)
    narrowing_justification: Mapped[str] = mapped_column(Text, default="")
    requested_effective_on: Mapped[date | None] = mapped_column(Date)
    effective_on: Mapped[date | None] = mapped_column(Date)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(120))
    review_comment: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_on: Mapped[date | None] = mapped_column(Date)  # 发布日期, city date

    resource: Mapped[Resource] = relationship(foreign_keys=[resource_id], lazy="joined")
    items: Mapped[list[DataItem]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="DataItem.position"
    )


class DataItem(Base):
    """A data item (信息项): one column of a resource version."""

    __tablename__ = "catalog_item"
    __table_args__ = (UniqueConstraint("version_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("catalog_version.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    normalized: Mapped[str] = mapped_column(String(100), index=True)  # for duplicate checks
    data_type: Mapped[DataType] = mapped_column(str_enum(DataType, 1))
    length: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(500), default="")
    personal: Mapped[bool] = mapped_column(Boolean, default=False)


class Subscription(Base):
    """A department's subscription to a resource (订阅, SHR-9): it hears of every change."""

    __tablename__ = "catalog_subscription"
    __table_args__ = (UniqueConstraint("resource_id", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))

    resource: Mapped[Resource] = relationship(lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined")


class ChangeEvent(Base):
    """A law change or change of duties the department's catalog must follow (CAT-5)."""

    __tablename__ = "catalog_change_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    cause: Mapped[ChangeCause] = mapped_column(str_enum(ChangeCause, 16))
    description: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    filing_required: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(120))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_on: Mapped[date | None] = mapped_column(Date)
    closed_by: Mapped[str | None] = mapped_column(String(120))
    closure_note: Mapped[str | None] = mapped_column(Text)
    updated_codes: Mapped[list[str] | None] = mapped_column(JSON)

    organization: Mapped[Organization] = relationship(lazy="joined")


class Need(Base):
    """A department's stated need for data (需求, CAT-10), catalogued or not yet."""

    __tablename__ = "catalog_need"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    expected_provider_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    state: Mapped[NeedState] = mapped_column(str_enum(NeedState, 16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_by: Mapped[str | None] = mapped_column(String(120))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    fulfilled_by_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_resource.id"))

    requester: Mapped[Organization] = relationship(foreign_keys=[requester_id], lazy="joined")
    expected_provider: Mapped[Organization | None] = relationship(
        foreign_keys=[expected_provider_id], lazy="joined"
    )
    assignee: Mapped[Organization | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    resource: Mapped[Resource | None] = relationship(foreign_keys=[resource_id], lazy="joined")
    fulfilled_by: Mapped[Resource | None] = relationship(
        foreign_keys=[fulfilled_by_id], lazy="joined"
    )


class ItProject(Base):
    """A budget-funded IT project (政务信息化项目) and its resource catalog (CAT-9)."""

    __tablename__ = "catalog_project"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    project_number: Mapped[str] = mapped_column(String(60), unique=True)
    budget: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    stage: Mapped[ProjectStage] = mapped_column(str_enum(ProjectStage, 16))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))

    organization: Mapped[Organization] = relationship(lazy="joined")
    resource_rows: Mapped[list[ProjectResource]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )


class ProjectResource(Base):
    """A resource in an IT project's resource catalog (项目信息资源目录)."""

    __tablename__ = "catalog_project_resource"

    project_id: Mapped[int] = mapped_column(ForeignKey("catalog_project.id"), primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), primary_key=True)

    resource: Mapped[Resource] = relationship(lazy="joined")


Index("ix_catalog_change_event_open", ChangeEvent.organization_id, ChangeEvent.closed_at)

# Delivery keeps a resource's status, code and name in memory per process (core.stamp).
stamp.watch(Resource)
stamp.watch(ResourceVersion)
