"""Supervision inputs. Each checks its own fields; who may act and in which state is the
service's to check."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

TEXT_MAX = 4000


class NoticeAnswerIn(BaseModel):
    """The department's answer to a rectification notice: what it did."""

    model_config = ConfigDict(str_strip_whitespace=True)

    answer: str = Field(min_length=4, max_length=TEXT_MAX)


class NoticeDecisionIn(BaseModel):
    """The operator accepts the rectification, or returns it with the reason."""

    model_config = ConfigDict(str_strip_whitespace=True)

    accept: bool
    note: str = Field(default="", max_length=TEXT_MAX, validate_default=True)

    @field_validator("note")
    @classmethod
    def _reason_to_return(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("accept") is False and len(value) < 4:
            raise ValueError("退回须说明理由（至少 4 个字）")
        return value
