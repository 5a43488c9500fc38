"""Catalog inputs and outputs. Inputs check their own fields; the rules that compare fields
with each other or with the profile (CAT-4, SR§8) live in the service."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from govshare.catalog.models import (
    CatalogKind,
    DataType,
    Domain,
    OpenType,
    ResourceFormat,
    ShareMethod,
    ShareType,
    UpdateFrequency,
)
from govshare.core.inputs import Code, Id

CODE = re.compile(r"^\d{1,9}/\d{6}$")


class DataItemIn(BaseModel):
    """One data item (信息项)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    data_type: DataType = DataType.CHAR
    length: int | None = Field(default=None, ge=1, le=100000)
    description: str = Field(default="", max_length=500)
    personal: bool = False

    @model_validator(mode="after")
    def _length(self) -> DataItemIn:
        if self.data_type in (DataType.CHAR, DataType.NUMERIC) and self.length is None:
            raise ValueError(f"信息项“{self.name}”为{self.data_type.label}，须填写长度")
        return self


class VersionIn(BaseModel):
    """What a version says about the resource: everything a provider may change."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=200)
    summary: str = Field(min_length=4, max_length=4000)
    format: ResourceFormat
    format_detail: str = Field(default="", max_length=60)
    share_type: ShareType
    share_conditions: str = Field(default="", max_length=2000)
    legal_basis: str = Field(default="", max_length=2000)
    share_scope: str = Field(default="", max_length=200)
    share_methods: list[ShareMethod] = Field(min_length=1)
    offline_reason: str = Field(default="", max_length=1000)
    update_frequency: UpdateFrequency
    timeliness: str = Field(default="", max_length=100)
    open_type: OpenType = OpenType.NOT_OPEN
    open_conditions: str = Field(default="", max_length=2000)
    domain: Domain
    related_codes: list[Code] = Field(default_factory=list, max_length=200)
    items: list[DataItemIn] = Field(default_factory=list)
    change_note: str = Field(default="", max_length=2000)
    narrowing_justification: str = Field(default="", max_length=2000)
    requested_effective_on: date | None = None

    @field_validator("share_methods")
    @classmethod
    def _unique_methods(cls, value: list[ShareMethod]) -> list[ShareMethod]:
        return list(dict.fromkeys(value))

    @field_validator("related_codes")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        cleaned = [c.strip() for c in value if c.strip()]
        for code in cleaned:
            if not CODE.match(code):
                raise ValueError(f"关联资源代码“{code}”格式应为 分类码/6位顺序号")
        return list(dict.fromkeys(cleaned))


class ResourceIn(VersionIn):
    """A new resource: its fixed identity and its first version."""

    catalog_kind: CatalogKind
    provider_id: Id | None = None  # the operator compiles on a department's behalf
    base_topic: str | None = None
    theme_id: Id | None = None
    item_code: str = Field(default="01", pattern=r"^\d{2}$")
    group_code: str = Field(default="001", pattern=r"^\d{3}$")
    subgroup_code: str | None = Field(default=None, pattern=r"^\d{3}$")

    @field_validator("subgroup_code", "base_topic", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value


class ReviewIn(BaseModel):
    """The operator's review decision (审核)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    approve: bool
    comment: str = Field(default="", max_length=2000)


class RetirementIn(BaseModel):
    """A request to retire a published resource (下架)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    reason: str = Field(min_length=4, max_length=2000)
    requested_effective_on: date | None = None


class ThemeIn(BaseModel):
    """A theme catalog with its lead and contributing departments."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=100)
    description: str = Field(default="", max_length=2000)
    lead_organization_id: Id
    contributor_ids: list[Id] = Field(default_factory=list)


class ChangeEventIn(BaseModel):
    """A law change or change of duties affecting a department's catalog (CAT-5)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    organization_id: Id | None = None  # the operator records for a department
    cause: str
    description: str = Field(min_length=4, max_length=2000)
    occurred_on: date


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    name: str
    data_type: DataType
    length: int | None
    description: str
    personal: bool


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: int
    state: str
    name: str
    summary: str
    format: ResourceFormat
    format_detail: str
    share_type: ShareType
    share_conditions: str
    legal_basis: str
    share_scope: str
    share_methods: list[str]
    offline_reason: str
    update_frequency: UpdateFrequency
    timeliness: str
    open_type: OpenType
    open_conditions: str
    domain: Domain
    related_codes: list[str]
    change_note: str
    narrowing: bool
    narrowing_justification: str
    effective_on: date | None
    submitted_at: datetime | None
    reviewed_at: datetime | None
    review_comment: str | None
    published_on: date | None
    items: list[ItemOut]


class ResourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    provider_id: int
    catalog_kind: CatalogKind
    base_topic: str | None
    theme_id: int | None
    classification: str
    status: str
    first_published_on: date | None
    retirement_state: str | None
    retires_on: date | None
    current_version: VersionOut | None
