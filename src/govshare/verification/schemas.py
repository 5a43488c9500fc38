"""Verification inputs. Each checks its own fields; what depends on the grant, the resource
or the profile (which items exist, the days allowed) is checked by the service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from govshare.core.inputs import Entry

TEXT_MAX = 4000
MAX_KEYS = 1000  # records one objection may name


class _Objection(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    items: list[Entry] = Field(min_length=1, max_length=100)
    # The values the objector believes right, by item (some or all of `items`).
    claimed: dict[Entry, Entry] = Field(default_factory=dict, max_length=100)
    description: str = Field(min_length=4, max_length=TEXT_MAX)
    evidence: str = Field(default="", max_length=TEXT_MAX)

    @field_validator("items")
    @classmethod
    def _distinct(cls, items: list[str]) -> list[str]:
        if any(not i for i in items):
            raise ValueError("数据项名称不能为空")
        return list(dict.fromkeys(items))


class RecordObjectionIn(_Objection):
    """An objection to records received under a grant: each record by its key items."""

    keys: list[dict[Entry, Entry]] = Field(min_length=1, max_length=MAX_KEYS)

    @field_validator("keys")
    @classmethod
    def _filled(cls, keys: list[dict[str, str]]) -> list[dict[str, str]]:
        for i, key in enumerate(keys, start=1):
            if not key or any(not str(v).strip() for v in key.values()):
                raise ValueError(f"第 {i} 条记录的主键值不能为空")
        return keys


class MetadataObjectionIn(_Objection):
    """An objection to a catalog entry: `items` name its attributes in question."""


class ExtensionIn(BaseModel):
    """The provider asks for more time: the working days in all, from the day raised."""

    model_config = ConfigDict(str_strip_whitespace=True)

    days: int = Field(ge=1, le=60)
    reason: str = Field(min_length=4, max_length=TEXT_MAX)


class ExtensionDecisionIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    approve: bool
    comment: str = Field(default="", max_length=TEXT_MAX)


class AnswerIn(BaseModel):
    """The verification's result: confirmed with the corrected values, or rejected with
    reasons (the answer is required either way)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    confirmed: bool
    answer: str = Field(min_length=4, max_length=TEXT_MAX)
    corrected: dict[Entry, Entry] = Field(default_factory=dict, max_length=100)


class ServedIn(BaseModel):
    """A citizen served on valid proof while their record is under verification (VER-2)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    person: str = Field(min_length=1, max_length=200)
    proof: str = Field(min_length=2, max_length=TEXT_MAX)
