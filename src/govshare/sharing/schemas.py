"""Sharing inputs and outputs. Inputs check their own fields; what depends on the resource,
the profile or the request being answered (which fields exist, what counts as narrower)
lives in the service."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from govshare.core.inputs import Entry, Id
from govshare.sharing.models import CaseParty, MaskRule, Rating, RowOp

TEXT_MAX = 4000
RATE_LIMIT_MAX = 100_000  # gateway calls per minute a grant may allow
_ENDPOINT = re.compile(r"^([A-Za-z]+)\s+(/\S*)$")


class Condition(BaseModel):
    """One row-filter condition (数据范围): a data item, an operator and its values."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    field: str = Field(min_length=1, max_length=100)
    op: RowOp
    values: list[Entry] = Field(min_length=1, max_length=200)

    @field_validator("values")
    @classmethod
    def _clean(cls, values: list[str]) -> list[str]:
        cleaned = [v.strip() for v in values]
        if any(not v for v in cleaned):
            raise ValueError("条件的取值不能为空")
        return list(dict.fromkeys(cleaned))

    @model_validator(mode="after")
    def _arity(self) -> Condition:
        count = len(self.values)
        if self.op in (RowOp.EQ, RowOp.PREFIX) and count != 1:
            raise ValueError(f"“{self.field}”{self.op.label}只能有一个取值")
        if self.op is RowOp.BETWEEN:
            if count != 2:
                raise ValueError(f"“{self.field}”介于须给出起止两个值")
            if self.values[0] > self.values[1]:
                raise ValueError(f"“{self.field}”的起始值不能大于结束值")
        return self

    def describe(self) -> str:
        if self.op is RowOp.BETWEEN:
            return f"{self.field} 介于 {self.values[0]} 至 {self.values[1]}"
        if self.op is RowOp.PREFIX:
            return f"{self.field} 以“{self.values[0]}”开头"
        return f"{self.field} {self.op.label} {'、'.join(self.values)}"


class Mask(BaseModel):
    """A masking rule (脱敏) on one granted field."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    field: str = Field(min_length=1, max_length=100)
    rule: MaskRule
    n: int | None = Field(default=None, ge=1, le=64)

    @model_validator(mode="after")
    def _n(self) -> Mask:
        if self.rule.takes_n and self.n is None:
            raise ValueError(f"“{self.field}”的{self.rule.label}须填写保留位数 n")
        if not self.rule.takes_n and self.n is not None:
            raise ValueError(f"“{self.field}”的{self.rule.label}不需要位数 n")
        return self

    def describe(self) -> str:
        label = self.rule.label.replace(" n ", f" {self.n} ") if self.n else self.rule.label
        return f"{self.field}：{label}"


class Period(BaseModel):
    """A period of use (使用期限), both ends included."""

    valid_from: date
    valid_until: date

    @field_validator("valid_until")
    @classmethod
    def _order(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("valid_from")
        if start is not None and value < start:
            raise ValueError("使用期限的结束日期不能早于开始日期")
        return value


class ApplicationIn(Period):
    """An application (共享申请) for a conditional resource (SHR-2)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    resource_id: Id
    purpose: str = Field(min_length=10, max_length=TEXT_MAX)  # 使用用途
    system_id: Id  # the registered system that will use the data (SR§13)
    fields: list[Entry] = Field(min_length=1, max_length=500)
    row_filter: list[Condition] = Field(default_factory=list, max_length=20)
    contact: str = Field(default="", max_length=100)
    accept_restrictions: bool = False  # the use restrictions (SHR-5), accepted on submission

    @field_validator("fields")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class Upload(BaseModel):
    """An attached document as received: kind (policy.Attachment), name, type and bytes."""

    kind: str
    filename: str = Field(min_length=1, max_length=200)
    content_type: str = Field(max_length=100)
    content: bytes


class PreReviewIn(BaseModel):
    """The operator's pre-review (平台预审, SR§14): forward to the provider, or return."""

    model_config = ConfigDict(str_strip_whitespace=True)

    forward: bool
    comment: str = Field(default="", max_length=TEXT_MAX)


class DecisionIn(BaseModel):
    """The provider's answer (答复). A refusal gives its reason and legal or policy basis; an
    approval may narrow the request and records conditions. Omitted scope parts mean "as
    requested". For a resource with a registered service interface, an approval may also
    name the endpoints the consumer may call at the gateway (none: every endpoint) and a
    per-minute rate limit (none: the platform default). A renewal keeps the grant's scope."""

    model_config = ConfigDict(str_strip_whitespace=True)

    approve: bool
    reason: str = Field(default="", max_length=TEXT_MAX)
    basis: str = Field(default="", max_length=TEXT_MAX)  # 法律政策依据
    fields: list[Entry] | None = Field(default=None, max_length=500)
    row_filter: list[Condition] | None = None
    masking: list[Mask] = Field(default_factory=list, max_length=500)
    valid_from: date | None = None
    valid_until: date | None = None
    conditions: str = Field(default="", max_length=TEXT_MAX)
    endpoints: list[Entry] = Field(
        default_factory=list,
        max_length=500,
        description='可调用的接口，如 "GET /enterprises/{uscc}"；不填表示全部接口',
    )
    rate_limit: int | None = Field(
        default=None,
        ge=1,
        le=RATE_LIMIT_MAX,
        description=f"调用频率上限（每分钟次数，1 至 {RATE_LIMIT_MAX}）；不填按平台默认",
    )

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, values: list[str]) -> list[str]:
        """ "get  /items/{id}" reads as "GET /items/{id}", the form grants name endpoints in."""
        out = []
        for value in values:
            found = _ENDPOINT.match(value.strip())
            if found is None:
                raise ValueError(
                    f"可调用的接口“{value.strip()}”格式不对，应为请求方法加路径，如 GET /items/{{id}}"
                )
            out.append(f"{found.group(1).upper()} {found.group(2)}")
        return list(dict.fromkeys(out))

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _rate_limit(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if value.isdecimal() and len(value) <= len(str(RATE_LIMIT_MAX)):
                value = int(value)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= RATE_LIMIT_MAX:
            raise ValueError(
                f"调用频率上限须为 1 至 {RATE_LIMIT_MAX} 之间的整数（每分钟调用次数），"
                "不填则按平台默认"
            )
        return value


class DirectAccessIn(BaseModel):
    """A request for an unconditional resource (SHR-1): no review, logged."""

    model_config = ConfigDict(str_strip_whitespace=True)

    resource_id: Id
    purpose: str = Field(min_length=4, max_length=TEXT_MAX)
    system_id: Id  # the consumer's registered system
    accept_restrictions: bool = False


class GrantActionIn(BaseModel):
    """Suspend, end or resume a grant (SHR-5), with the reason."""

    model_config = ConfigDict(str_strip_whitespace=True)

    reason: str = Field(min_length=2, max_length=TEXT_MAX)
    report_to_authority: bool = True


class RenewalIn(BaseModel):
    """A consumer asks to extend a grant (续期); the provider answers like an application."""

    model_config = ConfigDict(str_strip_whitespace=True)

    valid_until: date
    reason: str = Field(min_length=4, max_length=TEXT_MAX)


class FeedbackIn(BaseModel):
    """Use feedback (使用成效, SHR-7)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    rating: Rating
    cases_handled: int | None = Field(default=None, ge=0, le=100_000_000)
    effect: str = Field(min_length=4, max_length=TEXT_MAX)


class DataUpdateIn(BaseModel):
    """A provider reports that a resource's data was refreshed."""

    model_config = ConfigDict(str_strip_whitespace=True)

    updated_on: date | None = None  # default: today
    note: str = Field(default="", max_length=500)


class CaseIn(BaseModel):
    """A coordination case (协调, SHR-4): a not-shared resource, or a refused application."""

    model_config = ConfigDict(str_strip_whitespace=True)

    resource_id: Id | None = None
    application_id: Id | None = None
    subject: str = Field(default="", max_length=200)
    request: str = Field(min_length=10, max_length=TEXT_MAX)
    accept_restrictions: bool = False  # the use restrictions bind any grant the case produces

    @model_validator(mode="after")
    def _one(self) -> CaseIn:
        if (self.resource_id is None) == (self.application_id is None):
            raise ValueError("请选择不予共享的资源，或被拒绝的申请（二者选一）")
        return self


class MessageIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    body: str = Field(min_length=2, max_length=TEXT_MAX)


class ScopeIn(Period):
    """What an agreed coordination case provides: the scope of the grant it produces."""

    model_config = ConfigDict(str_strip_whitespace=True)

    fields: list[Entry] = Field(min_length=1, max_length=500)
    row_filter: list[Condition] = Field(default_factory=list, max_length=20)
    masking: list[Mask] = Field(default_factory=list, max_length=500)
    purpose: str = Field(min_length=4, max_length=TEXT_MAX)
    system_id: Id  # the consumer's registered system
    conditions: str = Field(default="", max_length=TEXT_MAX)


class SettlementIn(BaseModel):
    """The outcome of a coordination case: agreed (with the provision's scope) or not."""

    model_config = ConfigDict(str_strip_whitespace=True)

    agreed: bool
    outcome: str = Field(min_length=4, max_length=TEXT_MAX)
    scope: ScopeIn | None = None

    @model_validator(mode="after")
    def _scope(self) -> SettlementIn:
        if self.agreed and self.scope is None:
            raise ValueError("达成一致的，须写明提供的范围（信息项、数据范围、期限、用途）")
        return self


# --- outputs ---------------------------------------------------------------------------


class DeadlineOut(BaseModel):
    on: date
    provisional: bool
    label: str


class StepOut(BaseModel):
    kind: str
    kind_label: str
    answerer: str
    days: int
    started_on: date
    started: bool
    due: DeadlineOut
    finished_on: date | None
    outcome: str | None
    comment: str | None
    overdue: bool


class ApplicationOut(BaseModel):
    id: int
    number: str
    kind: str
    state: str
    state_label: str
    resource_id: int
    resource_code: str
    resource_name: str
    version: int
    consumer: str
    provider: str
    purpose: str
    system_id: int | None
    system_name: str
    fields: list[str]
    row_filter: list[dict[str, Any]]
    valid_from: date
    valid_until: date
    profile_code: str
    required_attachments: list[str]
    attachments: list[dict[str, Any]]
    submitted_at: datetime
    steps: list[StepOut]
    decision_reason: str | None
    decision_basis: str | None
    conditions: str | None
    grant_id: int | None


class GrantOut(BaseModel):
    id: int
    number: str
    source: str
    state: str
    status_label: str
    usable: bool
    resource_id: int
    resource_code: str
    resource_name: str
    version: int
    consumer: str
    provider: str
    whole_resource: bool
    fields: list[str]
    row_filter: list[dict[str, Any]]
    masking: list[dict[str, Any]]
    # Calls through the gateway (service interfaces): the endpoints (empty: all) and the
    # per-minute rate limit (None: the platform default), and both in words.
    endpoints: list[str]
    endpoints_label: str
    rate_limit: int | None
    rate_limit_label: str
    purpose: str
    system_id: int | None
    system_name: str
    conditions: str
    valid_from: date
    valid_until: date | None
    state_reason: str | None
    restrictions: list[str]
    restrictions_accepted_at: datetime
    restrictions_accepted_by: str


class CaseMessageOut(BaseModel):
    party: CaseParty
    party_label: str
    body: str
    created_at: datetime
    created_by: str


class CaseOut(BaseModel):
    id: int
    number: str
    origin: str
    origin_label: str
    state: str
    state_label: str
    resource_id: int
    resource_code: str
    resource_name: str
    consumer_id: int
    consumer: str
    provider_id: int
    provider: str
    application_id: int | None
    subject: str
    request: str
    opened_at: datetime
    opened_by: str
    escalated_at: datetime | None
    escalated_by: str | None
    outcome: str | None
    closed_at: datetime | None
    closed_by: str | None
    filing_number: str | None  # 备案号 of an agreed provision
    grant_id: int | None
    messages: list[CaseMessageOut]
