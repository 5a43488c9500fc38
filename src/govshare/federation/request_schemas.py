"""What a department sends to file a request to the level above, and what the operator and
the relayed query send."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from govshare.core.inputs import Id
from govshare.sharing.schemas import Period

TEXT_MAX = 2000


class UpperRequestIn(Period):
    """A department's request for an upper platform's resource (上级资源申请)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    peer_id: Id | None = None  # the upper platform; the only one when omitted
    resource_code: str = Field(min_length=3, max_length=40)  # the resource's code up there
    fields: list[str] = Field(min_length=1, max_length=500)  # 申请的信息项
    purpose: str = Field(min_length=10, max_length=TEXT_MAX)  # 使用用途
    basis: str = Field(min_length=4, max_length=TEXT_MAX)  # 申请依据
    system_id: Id  # the department's registered system that will use the data
    contact: str = Field(default="", max_length=100)
    accept_restrictions: bool = False

    @field_validator("fields")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(v.strip() for v in value if v.strip()))


class ReviewIn(BaseModel):
    """The operator's pre-review: pass it on to be forwarded, or return it with the reason."""

    model_config = ConfigDict(str_strip_whitespace=True)

    approve: bool
    comment: str = Field(default="", max_length=TEXT_MAX)


class ForwardIn(BaseModel):
    peer_id: Id
    resource_code: str = Field(min_length=3, max_length=40)


class RelayQueryIn(BaseModel):
    """A query of a mirrored upper grant, in the local query API's terms: filters as
    (parameter, value) — a field by item or column name, optionally suffixed __prefix,
    __from or __to — and the fields to return (empty: every granted field)."""

    filters: dict[str, str] = Field(default_factory=dict, max_length=20)
    fields: list[str] = Field(default_factory=list, max_length=500)
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=2000)
