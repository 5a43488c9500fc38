"""Federation between platforms: inputs and outputs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from govshare.federation.models import (
    Direction,
    Outcome,
    PeerState,
    PlatformLevel,
    Relation,
)

PEM_MAX = 20_000


class IdentityIn(BaseModel):
    """This platform's identity towards peers (级联身份)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    code: str = Field(min_length=6, max_length=12)  # 行政区划代码
    name: str = Field(min_length=4, max_length=64)
    level: PlatformLevel = PlatformLevel.CITY
    url: str = Field(min_length=10, max_length=255)  # https://host:port


class IdentityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    level: PlatformLevel
    url: str
    certificate_serial: str
    certificate_not_after: datetime


class PeerIn(BaseModel):
    """Peering with a platform above or below: its code, name, level, address and its CA
    certificate (信任锚)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    code: str = Field(min_length=6, max_length=12)
    name: str = Field(min_length=2, max_length=100)
    level: PlatformLevel
    url: str = Field(min_length=10, max_length=255)
    anchor: str = Field(min_length=100, max_length=PEM_MAX)


class ReasonIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    reason: str = Field(min_length=2, max_length=500)


class PeerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    level: PlatformLevel
    relation: Relation
    url: str
    anchor_subject: str
    anchor_fingerprint: str
    state: PeerState
    crl_updated_at: datetime | None
    last_contact_at: datetime | None
    created_at: datetime


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: str
    peer_id: int | None
    direction: Direction
    kind: str
    outcome: Outcome
    status: int
    digest: str
    error: str | None
    actor: str
    at: datetime


class HelloOut(BaseModel):
    message_id: str
    code: str | None
    name: str | None
