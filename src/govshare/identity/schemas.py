"""Identity inputs and outputs. Inputs validate their own fields with Chinese messages."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from govshare.core import uscc
from govshare.core.filenames import DIRECTION_CONTROLS
from govshare.core.inputs import Id
from govshare.core.permissions import PERSON_ROLES, Role
from govshare.identity.models import Level, OrganizationKind

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,39}$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def check_password(value: str) -> str:
    """Passwords: at least 8 characters with a letter and a digit."""
    if len(value) < 8:
        raise ValueError("密码至少 8 位")
    if not re.search(r"[A-Za-z]", value) or not re.search(r"\d", value):
        raise ValueError("密码须同时包含字母和数字")
    return value


def check_mobile(value: str) -> str:
    if not MOBILE.match(value):
        raise ValueError("手机号须为 11 位中国大陆手机号")
    return value


def check_roles(value: list[Role]) -> list[Role]:
    if not value:
        raise ValueError("至少选择一个角色")
    if any(r not in PERSON_ROLES for r in value):
        raise ValueError("“接入系统”不是人员角色")
    return sorted(set(value))


class OrganizationIn(BaseModel):
    """A new or edited organisation."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=2, max_length=100)
    short_name: str | None = Field(default=None, max_length=40)
    uscc: str
    level: Level
    kind: OrganizationKind = OrganizationKind.GOVERNMENT
    parent_id: Id | None = None

    @field_validator("uscc")
    @classmethod
    def _uscc(cls, value: str) -> str:
        code = uscc.normalise(value)
        reason = uscc.problem(code)
        if reason:
            raise ValueError(f"统一社会信用代码无效：{reason}")
        return code


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    short_name: str | None
    uscc: str
    level: Level
    kind: OrganizationKind
    parent_id: int | None
    active: bool


class UserIn(BaseModel):
    """A new user account (real name and mobile are required: SR§25 real-name use)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    username: str
    real_name: str = Field(min_length=2, max_length=40)
    mobile: str
    organization_id: Id
    roles: list[Role] = Field(min_length=1)
    password: str

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not USERNAME.match(value):
            raise ValueError("用户名须为 3–40 位小写字母、数字或 _ . -，以字母开头")
        return value

    @field_validator("mobile")
    @classmethod
    def _mobile(cls, value: str) -> str:
        return check_mobile(value)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[Role]) -> list[Role]:
        return check_roles(value)

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return check_password(value)


class UserUpdate(BaseModel):
    """Changes to an account; omitted fields stay as they are."""

    model_config = ConfigDict(str_strip_whitespace=True)

    real_name: str | None = Field(default=None, min_length=2, max_length=40)
    mobile: str | None = None
    organization_id: Id | None = None
    roles: list[Role] | None = None
    active: bool | None = None

    @field_validator("mobile")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        return None if value is None else check_mobile(value)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[Role] | None) -> list[Role] | None:
        return None if value is None else check_roles(value)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    real_name: str
    mobile: str
    organization_id: int
    roles: list[str]
    active: bool
    locked_until: datetime | None
    last_sign_in_at: datetime | None


class ConfidentialityAgreementIn(BaseModel):
    signed_on: date
    expires_on: date | None = None
    document_ref: str = Field(min_length=2, max_length=120)


class ApiTokenIn(BaseModel):
    name: str = Field(min_length=2, max_length=80)
    system_id: Id  # the registered system that holds the token (its department's)
    valid_days: int = Field(default=365, ge=1, le=730)

    @field_validator("name", mode="before")
    @classmethod
    def _named(cls, value: object) -> object:
        """The name says which system holds the token: blank or whitespace says nothing."""
        if isinstance(value, str):
            value = value.strip()
            if not value:
                raise ValueError("令牌名称不能为空，请填写使用该令牌的系统名称")
            if any(ord(c) < 32 or 127 <= ord(c) < 160 or c in DIRECTION_CONTROLS for c in value):
                raise ValueError("令牌名称不能包含控制字符或文字方向控制字符")
        return value


class ApiTokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    organization_id: int
    system_id: int | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class IssuedToken(ApiTokenOut):
    """The one response that carries the secret: it is never shown again."""

    token: str


class SignInIn(BaseModel):
    username: str
    password: str
