"""Exchange inputs and outputs for connections, bindings, runs and pushes. Inputs check
their own fields; what depends on the database behind them (does the table exist, is the
column there) is checked by the service against the real database."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from govshare.core.inputs import Entry, Id
from govshare.exchange.models import (
    ChangeKind,
    Cipher,
    ConnectionRole,
    DatabaseKind,
    RunKind,
)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TABLE_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$")
HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]+$")


def _identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError("只能包含英文字母、数字和下划线，且不以数字开头")
    return value


class ConnectionIn(BaseModel):
    """A database a department registers. The password is write-only."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    role: ConnectionRole
    kind: DatabaseKind
    host: str = Field(default="", max_length=200)
    port: int | None = Field(default=None, ge=1, le=65535)
    database: str = Field(min_length=1, max_length=500)
    db_schema: str = Field(default="", max_length=100)
    username: str = Field(default="", max_length=100)
    password: SecretStr | None = None
    cipher: Cipher | None = None  # the deployment's choice when not given

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if value and not HOST.match(value):
            raise ValueError("主机名只能包含字母、数字、点、连字符（或 IPv6 地址）")
        if (
            value
            and ":" not in value
            and any(not 1 <= len(label) <= 63 for label in value.rstrip(".").split("."))
        ):
            raise ValueError("主机名的每一段（以点分隔）须为 1 到 63 个字符")
        return value

    @field_validator("db_schema")
    @classmethod
    def _schema(cls, value: str) -> str:
        return _identifier(value) if value else value

    @model_validator(mode="after")
    def _server_needs_host(self) -> ConnectionIn:
        if self.kind is not DatabaseKind.SQLITE and not self.host:
            raise ValueError("host: PostgreSQL 和 MySQL 连接必须填写主机地址")
        return self


class ConnectionOut(BaseModel):
    id: int
    organization: str
    name: str
    role: ConnectionRole
    role_label: str
    kind: DatabaseKind
    host: str
    port: int | None
    database: str
    db_schema: str
    username: str
    has_password: bool
    cipher: Cipher
    last_tested_at: datetime | None
    last_test_ok: bool
    last_test_message: str


class ColumnMapIn(BaseModel):
    """Which source column carries a catalog data item."""

    model_config = ConfigDict(str_strip_whitespace=True)

    item: str = Field(min_length=1, max_length=100)
    column: str = Field(min_length=1, max_length=100)

    _column = field_validator("column")(classmethod(lambda cls, v: _identifier(v)))


class BindingIn(BaseModel):
    """Binds a published table resource to its source table or view (EXC-2)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    resource_id: Id
    connection_id: Id
    source_table: str = Field(min_length=1, max_length=200)
    columns: list[ColumnMapIn] = Field(min_length=1, max_length=500)
    key_columns: list[Entry] = Field(min_length=1, max_length=10)
    change_column: str | None = Field(default=None, max_length=100)
    change_kind: ChangeKind | None = None

    @field_validator("source_table")
    @classmethod
    def _table(cls, value: str) -> str:
        if not TABLE_NAME.match(value):
            raise ValueError("表名格式为 表名 或 模式名.表名，只能包含英文字母、数字和下划线")
        return value

    @field_validator("key_columns")
    @classmethod
    def _keys(cls, values: list[str]) -> list[str]:
        return [_identifier(v.strip()) for v in values]

    @field_validator("change_column")
    @classmethod
    def _change(cls, value: str | None) -> str | None:
        return _identifier(value) if value else None

    @model_validator(mode="after")
    def _consistent(self) -> BindingIn:
        mapped = [c.column for c in self.columns]
        if len(set(mapped)) != len(mapped):
            raise ValueError("columns: 同一个源字段不能对应两个信息项")
        items = [c.item for c in self.columns]
        if len(set(items)) != len(items):
            raise ValueError("columns: 同一个信息项只能对应一个源字段")
        if missing := [k for k in self.key_columns if k not in mapped]:
            raise ValueError(f"key_columns: 主键字段 {', '.join(missing)} 必须是已对应的字段")
        if self.change_column and self.change_kind is None:
            self.change_kind = ChangeKind.TIMESTAMP
        return self


class RunIn(BaseModel):
    kind: RunKind = RunKind.INCREMENTAL


class PushIn(BaseModel):
    """A consumer asks for its grant's data in its front-end database (前置库)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    grant_id: Id
    connection_id: Id
    target_table: str = Field(min_length=1, max_length=60)

    _table = field_validator("target_table")(classmethod(lambda cls, v: _identifier(v)))
