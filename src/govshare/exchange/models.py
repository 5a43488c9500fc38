"""Exchange tables (交换系统): the databases departments register, the bindings of table
resources to source tables, sync and push runs, file versions, service interfaces and the
gateway's call log.

Data itself never lives in these tables: table data is copied into the data resource center
(数据资源中心, a database of its own), file bytes into the file store, and service answers
stream through the gateway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.catalog.models import Labelled, Resource
from govshare.core import stamp
from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.identity.models import Organization
from govshare.sharing.models import Grant


class DatabaseKind(Labelled):
    POSTGRESQL = "postgresql"
    MYSQL = "mysql"  # MySQL or MariaDB
    SQLITE = "sqlite"


class ConnectionRole(Labelled):
    SOURCE = "source"  # 业务库只读副本: where a provider's table resources come from
    FRONTEND = "frontend"  # 前置交换库: a department's staging database (BZ§32(4))


class Cipher(Labelled):
    """How a connection's password is encrypted at rest."""

    AES_GCM = "aes-gcm"
    SM4_GCM = "sm4-gcm"  # 国密 SM4


class BindingState(Labelled):
    ACTIVE = "active"
    PAUSED = "paused"


class ChangeKind(Labelled):
    """What the change column of an incremental sync holds."""

    TIMESTAMP = "timestamp"  # 更新时间
    SEQUENCE = "sequence"  # 递增编号


class RunKind(Labelled):
    FULL = "full"
    INCREMENTAL = "incremental"
    COMPARE = "compare"  # full key comparison: deletes rows gone from the source


class RunState(Labelled):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RunTrigger(Labelled):
    SCHEDULE = "schedule"
    MANUAL = "manual"


class PushState(Labelled):
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class UseKind(Labelled):
    """How a consumer used data under its grant (SR§25): what the usage pages count."""

    QUERY = "query"
    LOOKUP = "lookup"
    DOWNLOAD_CSV = "download_csv"
    DOWNLOAD_XLSX = "download_xlsx"
    DOWNLOAD_JSONL = "download_jsonl"
    FILE = "file"
    PUSH = "push"
    GATEWAY = "gateway"  # kept in the gateway's own log, `GatewayCall`


LABELS: dict[str, dict[str, str]] = {
    "DatabaseKind": {"postgresql": "PostgreSQL", "mysql": "MySQL / MariaDB", "sqlite": "SQLite"},
    "ConnectionRole": {"source": "业务库只读副本", "frontend": "前置交换库"},
    "Cipher": {"aes-gcm": "AES-256-GCM", "sm4-gcm": "SM4-GCM（国密）"},
    "BindingState": {"active": "运行中", "paused": "已暂停"},
    "ChangeKind": {"timestamp": "更新时间", "sequence": "递增编号"},
    "RunKind": {"full": "全量同步", "incremental": "增量同步", "compare": "主键比对（处理删除）"},
    "RunState": {"queued": "排队中", "running": "运行中", "succeeded": "成功", "failed": "失败"},
    "RunTrigger": {"schedule": "按更新周期", "manual": "手动"},
    "PushState": {"active": "同步中", "paused": "已暂停", "stopped": "已停止"},
    "UseKind": {
        "query": "在线查询",
        "lookup": "按主键查询",
        "download_csv": "下载 CSV",
        "download_xlsx": "下载 Excel",
        "download_jsonl": "下载 JSON Lines",
        "file": "下载文件",
        "push": "推送前置库",
        "gateway": "接口调用",
    },
}


class Connection(Base):
    """A database a department registered (数据库连接). The password is encrypted with the
    platform's key and never shown again."""

    __tablename__ = "exchange_connection"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[ConnectionRole] = mapped_column(str_enum(ConnectionRole, 16))
    kind: Mapped[DatabaseKind] = mapped_column(str_enum(DatabaseKind, 16))
    host: Mapped[str] = mapped_column(String(200), default="")
    port: Mapped[int | None] = mapped_column(Integer)
    database: Mapped[str] = mapped_column(String(500))  # a database name, or a SQLite file path
    schema: Mapped[str] = mapped_column(String(100), default="")  # PostgreSQL schema, optional
    username: Mapped[str] = mapped_column(String(100), default="")
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted password
    cipher: Mapped[Cipher] = mapped_column(str_enum(Cipher, 16))
    last_tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_test_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    last_test_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship(lazy="joined")


class SourceDirectory(Base):
    """The directory, under the platform's data directory, assigned by the platform operator
    to a department for its embedded SQLite databases (源库目录). A department's SQLite
    connection may name only a file inside its own directory."""

    __tablename__ = "exchange_source_directory"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(300), unique=True)  # relative to the data directory
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_by: Mapped[str] = mapped_column(String(120))

    organization: Mapped[Organization] = relationship(lazy="joined")


class TableBinding(Base):
    """A published table resource bound to its source table or view (库表绑定, EXC-2).
    `columns` maps each catalog data item to a source column: [{item, column, type}]."""

    __tablename__ = "exchange_binding"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), unique=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("exchange_connection.id"), index=True)
    source_table: Mapped[str] = mapped_column(String(200))
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    key_columns: Mapped[list[str]] = mapped_column(JSON)
    change_column: Mapped[str | None] = mapped_column(String(100))
    change_kind: Mapped[ChangeKind | None] = mapped_column(str_enum(ChangeKind, 16))
    center_table: Mapped[str] = mapped_column(String(100), unique=True)
    state: Mapped[BindingState] = mapped_column(str_enum(BindingState, 16))
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    resource: Mapped[Resource] = relationship(lazy="joined")
    connection: Mapped[Connection] = relationship(lazy="joined")

    def column_of(self, item: str) -> str | None:
        return next((c["column"] for c in self.columns if c["item"] == item), None)


class Push(Base):
    """Delivery of a grant's data into the consumer's front-end database (前置库推送):
    the platform creates the target table and keeps it in sync."""

    __tablename__ = "exchange_push"
    __table_args__ = (UniqueConstraint("connection_id", "target_table"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("sharing_grant.id"), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("exchange_connection.id"), index=True)
    target_table: Mapped[str] = mapped_column(String(100))
    state: Mapped[PushState] = mapped_column(str_enum(PushState, 16))
    state_reason: Mapped[str] = mapped_column(Text, default="")
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))

    grant: Mapped[Grant] = relationship(lazy="joined")
    connection: Mapped[Connection] = relationship(lazy="joined")


class SyncRun(Base):
    """One run of a binding's sync into the center, or of a push to a front-end database.
    Counters are updated while it runs so pages can show progress."""

    __tablename__ = "exchange_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    binding_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_binding.id"), index=True)
    push_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_push.id"), index=True)
    kind: Mapped[RunKind] = mapped_column(str_enum(RunKind, 16))
    trigger: Mapped[RunTrigger] = mapped_column(str_enum(RunTrigger, 16))
    state: Mapped[RunState] = mapped_column(str_enum(RunState, 16), index=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    queued_by: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str] = mapped_column(String(120), default="")
    expected_rows: Mapped[int | None] = mapped_column(BigInteger)
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_written: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    checksum: Mapped[str] = mapped_column(String(64), default="")
    watermark_before: Mapped[str | None] = mapped_column(String(100))
    watermark_after: Mapped[str | None] = mapped_column(String(100))
    seconds: Mapped[float | None] = mapped_column()
    error: Mapped[str] = mapped_column(Text, default="")

    binding: Mapped[TableBinding | None] = relationship(lazy="joined")
    push: Mapped[Push | None] = relationship(lazy="joined")

    @property
    def finished(self) -> bool:
        return self.state in (RunState.SUCCEEDED, RunState.FAILED)


class RejectedRow(Base):
    """A source row a run did not write, with the reason, kept for inspection."""

    __tablename__ = "exchange_rejected_row"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("exchange_run.id"), index=True)
    row_key: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(300))
    row_text: Mapped[str] = mapped_column(Text)


class FileVersion(Base):
    """One version of a file resource (文件资源, EXC-3); bytes live in the file store."""

    __tablename__ = "exchange_file_version"
    __table_args__ = (UniqueConstraint("resource_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(Text, default="")
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by: Mapped[str] = mapped_column(String(120))

    resource: Mapped[Resource] = relationship(lazy="joined")


class ServiceInterface(Base):
    """A provider's HTTP API published at the platform's gateway (服务接口, EXC-4)."""

    __tablename__ = "exchange_service"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    openapi: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    timeout_seconds: Mapped[float] = mapped_column(default=10.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    resource: Mapped[Resource] = relationship(lazy="joined")
    endpoints: Mapped[list[ServiceEndpoint]] = relationship(
        lazy="selectin", order_by="ServiceEndpoint.id", cascade="all, delete-orphan"
    )


class ServiceEndpoint(Base):
    """One endpoint of a service interface: a method and a path template like /items/{id}."""

    __tablename__ = "exchange_endpoint"
    __table_args__ = (UniqueConstraint("service_id", "method", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("exchange_service.id"), index=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(String(300), default="")

    @property
    def signature(self) -> str:
        """How a grant names this endpoint: "GET /items/{id}"."""
        return f"{self.method} {self.path}"


class GatewayCall(Base):
    """The usage log of the gateway (SR§25): one row per call, refused calls included."""

    __tablename__ = "exchange_gateway_call"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_resource.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    consumer_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_grant.id"), index=True)
    caller: Mapped[str] = mapped_column(String(120))  # the actor label (token prefix)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    endpoint: Mapped[str] = mapped_column(String(320), default="")  # the matched signature
    status: Mapped[int] = mapped_column(Integer)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_ms: Mapped[float] = mapped_column()
    error: Mapped[str] = mapped_column(String(300), default="")
    # nginx's $request_id for a call served by the nginx data plane, unique: a line of the
    # access log ingested twice cannot count twice (the Python gateway leaves it empty).
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class GatewayLogPosition(Base):
    """How far the nginx data plane's JSON access log has been ingested (`gateway_ingest`):
    the file's identity (device, inode) and the byte offset after the last complete line
    taken. Moved in the same transaction as the calls it covers."""

    __tablename__ = "exchange_gateway_log_position"
    __audit_exempt__ = True  # a read position; the calls it covers are logged and audited

    source: Mapped[str] = mapped_column(String(500), primary_key=True)  # the log's path
    device: Mapped[int] = mapped_column(BigInteger, default=0)
    inode: Mapped[int] = mapped_column(BigInteger, default=0)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DataUse(Base):
    """One use of shared data under a grant (数据使用记录, SR§25, SHR-7): a query, a lookup,
    a download, a file download or a push run, written with its audit entry. Gateway calls
    are facts of the same kind kept in `GatewayCall`; the usage views read both."""

    __tablename__ = "exchange_data_use"
    __table_args__ = (
        Index("ix_exchange_data_use_grant_at", "grant_id", "at"),
        Index("ix_exchange_data_use_provider_at", "provider_id", "at"),
        Index("ix_exchange_data_use_consumer_at", "consumer_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    grant_id: Mapped[int] = mapped_column(ForeignKey("sharing_grant.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resource.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    consumer_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    kind: Mapped[UseKind] = mapped_column(str_enum(UseKind, 16))
    rows: Mapped[int | None] = mapped_column(BigInteger)  # rows delivered; None: not counted
    caller: Mapped[str] = mapped_column(String(120))  # the actor label: a person or a system


class RateWindow(Base):
    """Calls counted per grant and minute for the gateway's rate limit, kept in the database
    so every app process shares one count."""

    __tablename__ = "exchange_rate_window"
    __audit_exempt__ = True  # a counter, not a business fact; the call itself is logged

    grant_id: Mapped[int] = mapped_column(ForeignKey("sharing_grant.id"), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # minutes since the epoch
    calls: Mapped[int] = mapped_column(Integer, default=0)


# Delivery keeps bindings in memory per process (core.stamp); the schedule of the next run is
# the runner's bookkeeping.
stamp.watch(TableBinding, ignore=frozenset({"next_run_at", "updated_at"}))
