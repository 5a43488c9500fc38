"""Evaluation inputs. Each checks its own fields; who may act and on which period is the
service's to check."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from govshare.core.inputs import Id

TEXT_MAX = 2000
POINTS_LIMIT = 100.0


class AdjustmentIn(BaseModel):
    """The operator's adjustment of a unit's score for a period, with the reason."""

    model_config = ConfigDict(str_strip_whitespace=True)

    organization_id: Id
    points: Annotated[float, Field(ge=-POINTS_LIMIT, le=POINTS_LIMIT)]
    reason: Annotated[str, Field(max_length=TEXT_MAX)]

    @field_validator("points")
    @classmethod
    def _points(cls, value: float) -> float:
        if not math.isfinite(value) or value == 0 or abs(value) > POINTS_LIMIT:
            raise ValueError("调整分值须为 -100 到 100 之间、不为 0 的数")
        return round(value, 2)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if len(value) < 4:
            raise ValueError("须说明调整理由（至少 4 个字）")
        if len(value) > TEXT_MAX:
            raise ValueError(f"调整理由不超过 {TEXT_MAX} 字")
        return value


class PublishIn(BaseModel):
    """Publishing a year's evaluation, with an optional note shown on the report."""

    model_config = ConfigDict(str_strip_whitespace=True)

    year: Annotated[int, Field(ge=2000, le=2100)]
    note: Annotated[str, Field(max_length=TEXT_MAX)] = ""

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        if len(value) > TEXT_MAX:
            raise ValueError(f"说明不超过 {TEXT_MAX} 字")
        return value
