"""Inputs and outputs of open data."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from govshare.core.inputs import Entry
from govshare.opendata.models import ReleaseState, SecrecyOutcome
from govshare.sharing.schemas import Condition, Mask

TAGS_MAX = 10


class OpenViewIn(BaseModel):
    """The open view a provider defines (开放范围): items, rows and masking."""

    model_config = ConfigDict(str_strip_whitespace=True)

    fields: list[Entry] = Field(min_length=1, max_length=500)
    row_filter: list[Condition] = Field(default_factory=list, max_length=20)
    masking: list[Mask] = Field(default_factory=list, max_length=500)
    tags: list[Entry] = Field(default_factory=list, max_length=TAGS_MAX)

    @field_validator("fields", "tags")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))

    @model_validator(mode="after")
    def _masked_fields_are_open(self) -> OpenViewIn:
        for mask in self.masking:
            if mask.field not in self.fields:
                raise ValueError(f"脱敏规则的信息项“{mask.field}”不在开放的信息项中")
        if len({m.field for m in self.masking}) != len(self.masking):
            raise ValueError("同一信息项只能有一条脱敏规则")
        return self


class SecrecyReviewIn(BaseModel):
    """A secrecy review (保密审查, SR§20) as recorded by the provider."""

    model_config = ConfigDict(str_strip_whitespace=True)

    reviewer: str = Field(min_length=2, max_length=120)  # who: name and post
    reviewed_on: date
    basis: str = Field(min_length=4, max_length=4000)  # the rules and facts relied on
    outcome: SecrecyOutcome


class ReleaseDecisionIn(BaseModel):
    """The operator's confirmation (确认开放) or return (退回) of a release."""

    model_config = ConfigDict(str_strip_whitespace=True)

    approve: bool
    comment: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _reason(self) -> ReleaseDecisionIn:
        if not self.approve and not self.comment:
            raise ValueError("退回须写明理由")
        return self


class WithdrawalIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    reason: str = Field(min_length=2, max_length=2000)


class ReleaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    resource_code: str
    resource_name: str
    provider: str
    state: ReleaseState
    state_label: str
    open_type: str
    open_conditions: str
    fields: list[str]
    row_filter: list[dict[str, object]]
    masking: list[dict[str, object]]
    tags: list[str]
    secrecy_reviewer: str | None
    secrecy_reviewed_on: date | None
    secrecy_basis: str | None
    secrecy_outcome: SecrecyOutcome | None
    submitted_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    decision_comment: str | None
    published_at: datetime | None
    published_rows: int | None
