"""Sharing tables (资源共享): applications and their review steps, grants, coordination cases,
use feedback and the providers' data updates.

An application (共享申请) for a conditional resource passes through review steps whose day
counts are copied from the policy profile when it is submitted, so switching the profile
changes new applications only. Approval, direct access to an unconditional resource, and an
agreed coordination case each produce one grant (授权): the scope every data path enforces.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.catalog.models import Labelled, Resource, ResourceVersion
from govshare.core import clock, stamp
from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.core.stored_documents import StoredDocument
from govshare.identity.models import Organization


class ApplicationKind(Labelled):
    NEW = "new"  # 使用申请
    RENEWAL = "renewal"  # 续期申请 of an existing grant


class ApplicationState(Labelled):
    PRE_REVIEW = "pre_review"  # 待平台预审 (SR§14)
    DECIDING = "deciding"  # 待提供部门答复
    RETURNED = "returned"  # 退回补正 by the pre-review
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"  # 已终止: the resource retired while the application was open (CAT-6)


class StepKind(Labelled):
    PRE_REVIEW = "pre_review"
    DECISION = "decision"


class StepOutcome(Labelled):
    FORWARDED = "forwarded"
    RETURNED = "returned"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class RowOp(Labelled):
    """Operators of a row filter condition (数据范围)."""

    EQ = "eq"
    IN = "in"
    BETWEEN = "between"
    PREFIX = "prefix"


class MaskRule(Labelled):
    """Masking rules (脱敏规则) a grant names per field; the exchange applies them."""

    ID_NUMBER = "id_number"
    MOBILE = "mobile"
    NAME = "name"
    BANK_CARD = "bank_card"
    ADDRESS = "address"
    EMAIL = "email"
    KEEP_FIRST = "keep_first"
    KEEP_LAST = "keep_last"
    HASH = "hash"
    NULL = "null"
    YEAR_ONLY = "year_only"

    @property
    def takes_n(self) -> bool:
        return self in (MaskRule.KEEP_FIRST, MaskRule.KEEP_LAST)


class GrantSource(Labelled):
    DIRECT = "direct"  # 无条件共享，直接获取 (SHR-1)
    APPLICATION = "application"  # 申请批准 (SHR-2/3)
    COORDINATION = "coordination"  # 协调达成并备案 (SHR-4)


class GrantState(Labelled):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ENDED = "ended"


class GrantActionKind(Labelled):
    CREATE = "create"
    SUSPEND = "suspend"
    RESUME = "resume"
    END = "end"
    RENEW = "renew"


class CaseOrigin(Labelled):
    NOT_SHARED = "not_shared"  # the resource is 不予共享
    REFUSED = "refused"  # an application was refused (BZ§17)


class CaseState(Labelled):
    NEGOTIATING = "negotiating"
    ESCALATED = "escalated"
    AGREED = "agreed"
    CLOSED = "closed"


class CaseParty(Labelled):
    CONSUMER = "consumer"
    PROVIDER = "provider"
    OPERATOR = "operator"
    AUTHORITY = "authority"


class Rating(Labelled):
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


LABELS: dict[str, dict[str, str]] = {
    "ApplicationKind": {"new": "使用申请", "renewal": "续期申请"},
    "ApplicationState": {
        "pre_review": "待平台预审",
        "deciding": "待提供部门答复",
        "returned": "退回补正",
        "approved": "已同意",
        "refused": "不予共享",
        "withdrawn": "已撤回",
        "closed": "已终止（资源下架）",
    },
    "StepKind": {"pre_review": "平台预审", "decision": "提供部门答复"},
    "StepOutcome": {
        "forwarded": "预审通过，转提供部门",
        "returned": "退回补正",
        "approved": "同意",
        "refused": "不予共享",
        "withdrawn": "申请撤回",
        "closed": "资源下架，申请终止",
    },
    "RowOp": {"eq": "等于", "in": "属于其一", "between": "介于", "prefix": "以…开头"},
    "MaskRule": {
        "id_number": "身份证号脱敏",
        "mobile": "手机号脱敏",
        "name": "姓名脱敏",
        "bank_card": "银行卡号脱敏",
        "address": "地址脱敏",
        "email": "电子邮箱脱敏",
        "keep_first": "保留前 n 位",
        "keep_last": "保留后 n 位",
        "hash": "密钥散列",
        "null": "置空",
        "year_only": "日期只留年份",
    },
    "GrantSource": {
        "direct": "无条件共享直接获取",
        "application": "申请批准",
        "coordination": "协调达成并备案",
    },
    "GrantState": {"active": "有效", "suspended": "已暂停", "ended": "已终止"},
    "GrantActionKind": {
        "create": "授权生效",
        "suspend": "暂停使用",
        "resume": "恢复使用",
        "end": "终止授权",
        "renew": "续期",
    },
    "CaseOrigin": {"not_shared": "不予共享资源", "refused": "申请被拒绝"},
    "CaseState": {
        "negotiating": "协商中",
        "escalated": "已提请主管部门协调",
        "agreed": "已达成一致并备案",
        "closed": "未达成一致，已结案",
    },
    "CaseParty": {
        "consumer": "使用部门",
        "provider": "提供部门",
        "operator": "平台管理单位",
        "authority": "主管部门",
    },
    "Rating": {"good": "效果明显", "fair": "有一定效果", "poor": "效果不明显"},
}

# The use restrictions every grant carries and its consumer accepts (SHR-5: SY§22, SY§31,
# BZ§19, BZ§23, WH§19, SR§18).
USE_RESTRICTIONS: tuple[str, ...] = (
    "仅用于本部门履行职责需要，不得用于其他目的",
    "不得以任何形式提供给第三方",
    "不得改变使用用途、扩大使用范围",
    "不得用于或变相用于商业目的",
    "按规定做好数据安全保护，发生泄露等情况及时报告",
)


class Application(Base):
    """A consumer's application (共享申请) for a conditional resource, or to renew a grant."""

    __tablename__ = "sharing_application"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[ApplicationKind] = mapped_column(str_enum(ApplicationKind, 16))
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("catalog_version.id"))
    consumer_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    renews_grant_id: Mapped[int | None] = mapped_column(
        ForeignKey("sharing_grant.id", use_alter=True)
    )
    state: Mapped[ApplicationState] = mapped_column(str_enum(ApplicationState, 16), index=True)

    purpose: Mapped[str] = mapped_column(Text)  # 使用用途
    # The registered system that will use the data (SR§13), and its name when applied for.
    # Every row names one; nullable only so that migration 0020 adds it in place.
    system_id: Mapped[int | None] = mapped_column(ForeignKey("information_system.id"), index=True)
    system_name: Mapped[str] = mapped_column(String(100))  # 使用的信息系统名称
    fields: Mapped[list[str]] = mapped_column(JSON)  # requested data items, by name
    row_filter: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # conditions, AND-ed
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    contact: Mapped[str] = mapped_column(String(100), default="")

    # The profile's rules, copied at submission (SHR-2): later profile switches do not apply.
    profile_code: Mapped[str] = mapped_column(String(32))
    pre_review_days: Mapped[int | None] = mapped_column(Integer)
    decision_days: Mapped[int] = mapped_column(Integer)
    required_attachments: Mapped[list[str]] = mapped_column(JSON)

    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str] = mapped_column(String(120))
    submitted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The answer (答复): a refusal's reason and basis, or an approval's scope and conditions.
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decision_basis: Mapped[str | None] = mapped_column(Text)
    conditions: Mapped[str | None] = mapped_column(Text)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_grant.id", use_alter=True))

    resource: Mapped[Resource] = relationship(lazy="joined")
    version: Mapped[ResourceVersion] = relationship(lazy="joined")
    consumer: Mapped[Organization] = relationship(foreign_keys=[consumer_id], lazy="joined")
    provider: Mapped[Organization] = relationship(foreign_keys=[provider_id], lazy="joined")
    steps: Mapped[list[ApplicationStep]] = relationship(
        back_populates="application", order_by="ApplicationStep.position", lazy="selectin"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        order_by="Attachment.id", lazy="selectin", viewonly=True
    )


class ApplicationStep(Base):
    """One review step with its deadline (审核环节): the operator's pre-review or the
    provider's decision. A step not started yet carries a projected deadline."""

    __tablename__ = "sharing_application_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("sharing_application.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[StepKind] = mapped_column(str_enum(StepKind, 16))
    organization_id: Mapped[int | None] = mapped_column(  # who answers; None: the operator
        ForeignKey("organization.id"), index=True
    )
    days: Mapped[int] = mapped_column(Integer)
    started_on: Mapped[date] = mapped_column(Date)
    started: Mapped[bool] = mapped_column(Boolean)  # False: projected from the step before
    due_on: Mapped[date] = mapped_column(Date, index=True)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_on: Mapped[date | None] = mapped_column(Date)
    finished_by: Mapped[str | None] = mapped_column(String(120))
    outcome: Mapped[StepOutcome | None] = mapped_column(str_enum(StepOutcome, 16))
    comment: Mapped[str | None] = mapped_column(Text)
    reminded_on: Mapped[date | None] = mapped_column(Date)
    overdue_notified_on: Mapped[date | None] = mapped_column(Date)

    application: Mapped[Application] = relationship(back_populates="steps", lazy="joined")
    organization: Mapped[Organization | None] = relationship(lazy="joined")

    @property
    def late(self) -> bool:
        """Answered after its deadline, or still open past it (counted against the answerer)."""
        end = self.finished_on or clock.today()
        return self.started and end > self.due_on


class Attachment(StoredDocument, Base):
    """A document attached to an application (申请附件): the sealed letter or commitment."""

    __tablename__ = "sharing_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("sharing_application.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # policy.Attachment


class Grant(Base):
    """A grant (授权): what one consumer may use of one resource (SHR-3)."""

    __tablename__ = "sharing_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    source: Mapped[GrantSource] = mapped_column(str_enum(GrantSource, 16))
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("catalog_version.id"))
    consumer_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("sharing_application.id", use_alter=True)
    )
    case_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_case.id", use_alter=True))

    whole_resource: Mapped[bool] = mapped_column(Boolean)  # direct access: every field and row
    fields: Mapped[list[str]] = mapped_column(JSON)
    row_filter: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    masking: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{field, rule, n?}]
    # Service interfaces: the endpoints ("GET /items/{id}") the consumer may call; empty means
    # every endpoint of the interface. `rate_limit`: gateway calls per minute, None = default.
    endpoints: Mapped[list[str]] = mapped_column(JSON, default=list)
    rate_limit: Mapped[int | None] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(Text)
    # Every row names one; nullable only so that migration 0020 adds it in place.
    system_id: Mapped[int | None] = mapped_column(ForeignKey("information_system.id"), index=True)
    system_name: Mapped[str] = mapped_column(String(100))  # as when granted
    conditions: Mapped[str] = mapped_column(Text, default="")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)

    state: Mapped[GrantState] = mapped_column(str_enum(GrantState, 16), index=True)
    state_reason: Mapped[str | None] = mapped_column(Text)  # why suspended or ended
    restrictions_accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    restrictions_accepted_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    expiry_notified_on: Mapped[date | None] = mapped_column(Date)

    resource: Mapped[Resource] = relationship(lazy="joined")
    version: Mapped[ResourceVersion] = relationship(lazy="joined")
    consumer: Mapped[Organization] = relationship(foreign_keys=[consumer_id], lazy="joined")
    provider: Mapped[Organization] = relationship(foreign_keys=[provider_id], lazy="joined")
    actions: Mapped[list[GrantAction]] = relationship(
        order_by="GrantAction.id", lazy="selectin", viewonly=True
    )

    def expired(self, today: date) -> bool:
        return self.valid_until is not None and self.valid_until < today

    def usable(self, today: date) -> bool:
        """Whether data may flow under the grant today."""
        return (
            self.state is GrantState.ACTIVE and self.valid_from <= today and not self.expired(today)
        )


class GrantAction(Base):
    """One event in a grant's life: created, suspended, resumed, ended, renewed (SHR-5)."""

    __tablename__ = "sharing_grant_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("sharing_grant.id"), index=True)
    kind: Mapped[GrantActionKind] = mapped_column(str_enum(GrantActionKind, 16))
    reason: Mapped[str] = mapped_column(Text, default="")
    reported_to_authority: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(120))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Feedback(Base):
    """Use feedback (使用成效反馈, SHR-7): what the data did for the consumer."""

    __tablename__ = "sharing_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("sharing_grant.id"), index=True)
    rating: Mapped[Rating] = mapped_column(str_enum(Rating, 8))
    cases_handled: Mapped[int | None] = mapped_column(Integer)  # 支撑办理事项数
    effect: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))

    grant: Mapped[Grant] = relationship(lazy="joined")


class Case(Base):
    """A coordination case (协调): for a not-shared resource or after a refusal (SHR-4)."""

    __tablename__ = "sharing_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    origin: Mapped[CaseOrigin] = mapped_column(str_enum(CaseOrigin, 16))
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_application.id"))
    state: Mapped[CaseState] = mapped_column(str_enum(CaseState, 16), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    request: Mapped[str] = mapped_column(Text)  # what the consumer needs and why
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(String(120))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_by: Mapped[str | None] = mapped_column(String(120))
    outcome: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(120))
    filing_number: Mapped[str | None] = mapped_column(String(30))  # 备案号
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_grant.id", use_alter=True))

    resource: Mapped[Resource] = relationship(lazy="joined")
    consumer: Mapped[Organization] = relationship(foreign_keys=[consumer_id], lazy="joined")
    provider: Mapped[Organization] = relationship(foreign_keys=[provider_id], lazy="joined")
    messages: Mapped[list[CaseMessage]] = relationship(
        order_by="CaseMessage.id", lazy="selectin", viewonly=True
    )


class CaseMessage(Base):
    """One contribution to a coordination case's negotiation."""

    __tablename__ = "sharing_case_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sharing_case.id"), index=True)
    party: Mapped[CaseParty] = mapped_column(str_enum(CaseParty, 16))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))


class DataUpdate(Base):
    """A provider's report that a resource's data was refreshed (数据更新记录); stale-provider
    checks (SHR-6) compare the latest one with the declared update frequency. The exchange's
    sync runs record one per successful run."""

    __tablename__ = "sharing_data_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    updated_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(120))


# Delivery keeps grants in memory per process (core.stamp): a change replaces the stamp. The
# expiry notice's date is bookkeeping of a job, not a term of the grant.
stamp.watch(Grant, ignore=frozenset({"expiry_notified_on"}))
