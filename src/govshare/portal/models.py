"""The portal database (开放门户数据库): everything the public portal holds, and nothing else.

The portal runs on the internet side (BZ§8) against a database of its own. The platform is
the only writer: `govshare.opendata.publishing` copies into it, one way, the open catalog
entries and the open view of each open table (its open items, its open rows, masked as the
secrecy review decided). The portal never reads the platform's database and has no settings
for it, so whatever is not here cannot leak through it.

Labels (department names, domain and frequency names in Chinese) are copied as published,
so the portal needs none of the platform's code to show them.

Tables:

- `portal_organization` — a providing department, as the public sees it;
- `portal_dataset` — an open resource: its catalog entry, open type and conditions, search
  terms, and the name of its rows table;
- `portal_dataset_tag` — its tags, one row each (`portal_dataset.tags` keeps them in order);
- `portal_field` — the data dictionary of the open view (only open items);
- `portal_release` — the update history: one row per publication;
- `portal_data_<dataset id>` — the open rows, one table per table dataset, created by the
  publisher with the columns of the open view (`c0`, `c1`, … in field order) and `_row`, the
  publication order; a republication replaces it whole.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from govshare.core.db import NAMING_CONVENTION, UTCDateTime

SCHEMA_VERSION = 1


class ExactNumeric(sa.TypeDecorator[Decimal]):
    """A decimal number. SQLite keeps it as a binary float, which SQLAlchemy's Numeric reads
    back with ten places (1270322.07 as 1270322.0700000001); here it comes back as the
    shortest decimal that reads as the same float, the number the publisher wrote."""

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Float())
        return dialect.type_descriptor(sa.Numeric())

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if dialect.name == "sqlite" and isinstance(value, Decimal):
            return float(value)
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if isinstance(value, float):
            return Decimal(repr(value))
        return value


# A field's type in the open view, as rows are stored and as CKAN's datastore names it.
FIELD_TYPES: dict[str, Any] = {
    "text": sa.Text,
    "integer": sa.BigInteger,
    "numeric": ExactNumeric,
    "double": sa.Float,
    "date": sa.Date,
    "timestamp": sa.DateTime,
    "boolean": sa.Boolean,
}


class PortalBase(DeclarativeBase):
    """Base of the portal's tables. They are a published copy, not platform records: the
    publication is audited on the platform's side, in the platform's log, so the platform's
    "every change is audited" check (core.db) does not apply to them."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    __audit_exempt__ = True


class PortalMeta(PortalBase):
    """One row: the schema version and the site's own facts, written by the publisher."""

    __tablename__ = "portal_meta"

    id: Mapped[int] = mapped_column(primary_key=True)
    schema_version: Mapped[int] = mapped_column(Integer)
    city_name: Mapped[str] = mapped_column(String(100))  # 江州市
    publisher_name: Mapped[str] = mapped_column(String(200))  # the operator, 市大数据局
    licence_title: Mapped[str] = mapped_column(String(200))
    licence_url: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PortalOrganization(PortalBase):
    """A department that provides open data (CKAN: organization)."""

    __tablename__ = "portal_organization"

    id: Mapped[int] = mapped_column(primary_key=True)  # the platform's organization id
    name: Mapped[str] = mapped_column(String(100), unique=True)  # slug, e.g. "org-12"
    title: Mapped[str] = mapped_column(String(200))  # 江州市公安局
    description: Mapped[str] = mapped_column(Text, default="")


class PortalDataset(PortalBase):
    """An open resource (CKAN: package; DCAT: dcat:Dataset)."""

    __tablename__ = "portal_dataset"

    id: Mapped[int] = mapped_column(primary_key=True)  # the platform's resource id
    name: Mapped[str] = mapped_column(String(100), unique=True)  # slug of the code: a01001-000012
    code: Mapped[str] = mapped_column(String(40), unique=True)  # the catalog code
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")  # the catalog summary
    organization_id: Mapped[int] = mapped_column(ForeignKey("portal_organization.id"), index=True)
    domain: Mapped[str] = mapped_column(String(32), index=True)  # SR§21 domain value
    domain_label: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # table | file | service
    format: Mapped[str] = mapped_column(String(24))  # catalog format value
    format_label: Mapped[str] = mapped_column(String(40))
    update_frequency: Mapped[str] = mapped_column(String(16), index=True)
    update_frequency_label: Mapped[str] = mapped_column(String(20))
    open_type: Mapped[str] = mapped_column(String(16), index=True)  # unconditional | conditional
    open_conditions: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)  # the catalog version published
    issued: Mapped[date] = mapped_column(Date)  # first opened
    modified: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # last publication
    data_updated: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last sync of the rows
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    rows_table: Mapped[str | None] = mapped_column(String(40))  # portal_data_<id>
    terms: Mapped[str] = mapped_column(Text, default="")  # space-separated search terms
    title_terms: Mapped[str] = mapped_column(Text, default="")

    organization: Mapped[PortalOrganization] = relationship(lazy="joined")
    # Loaded when used (the dataset page, downloads), never for a page of search results.
    fields: Mapped[list[PortalField]] = relationship(
        order_by="PortalField.position", cascade="all, delete-orphan", lazy="select"
    )
    tag_rows: Mapped[list[PortalDatasetTag]] = relationship(
        cascade="all, delete-orphan", lazy="select"
    )

    @validates("tags")
    def _tag_rows(self, _key: str, tags: list[str]) -> list[str]:
        """Keep one tag row per tag, reusing the rows of tags kept (a row deleted and inserted
        again with the same key in one flush would collide)."""
        kept = {row.tag: row for row in self.tag_rows} if self.id is not None else {}
        self.tag_rows = [kept.get(t) or PortalDatasetTag(tag=t) for t in dict.fromkeys(tags)]
        return tags


class PortalDatasetTag(PortalBase):
    """A dataset's tag, one row each, so that tags filter and count in the database."""

    __tablename__ = "portal_dataset_tag"
    __table_args__ = (sa.Index("ix_portal_dataset_tag_tag", "tag", "dataset_id"),)

    dataset_id: Mapped[int] = mapped_column(ForeignKey("portal_dataset.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)


class PortalField(PortalBase):
    """One open item of a dataset: the data dictionary the public sees."""

    __tablename__ = "portal_field"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("portal_dataset.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # the data item's name, 单位名称
    column: Mapped[str] = mapped_column(String(20))  # c0, c1, … in the rows table
    type: Mapped[str] = mapped_column(String(16))  # a key of FIELD_TYPES
    description: Mapped[str] = mapped_column(String(500), default="")
    masking: Mapped[str] = mapped_column(String(60), default="")  # the masking rule's label


class PortalRelease(PortalBase):
    """One publication of a dataset: its update history."""

    __tablename__ = "portal_release"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("portal_dataset.id"), index=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")


def rows_table(dataset_id: int, fields: list[tuple[str, str]]) -> sa.Table:
    """The rows table of a dataset, given its fields as (column, type) in order, in a
    metadata of its own (the tables come and go with publications)."""
    return sa.Table(
        rows_table_name(dataset_id),
        sa.MetaData(),
        sa.Column("_row", sa.BigInteger, primary_key=True, autoincrement=False),
        *(sa.Column(column, FIELD_TYPES[type_]()) for column, type_ in fields),
    )


def rows_table_name(dataset_id: int) -> str:
    return f"portal_data_{dataset_id}"


def dataset_rows_table(dataset: PortalDataset) -> sa.Table | None:
    """The rows table of a published table dataset, or None for a file or service."""
    if dataset.rows_table is None:
        return None
    return rows_table(dataset.id, [(f.column, f.type) for f in dataset.fields])


# --- the public's side: accounts, applications for conditional data, entitlements -----------
# Written by the portal (accounts, sessions, applications as submitted) and by the platform
# (an application's acceptance, deadline and answer; entitlements), which reads the submitted
# applications into its own records (`govshare.opendata.public`).


class PortalAccount(PortalBase):
    """A registered member of the public (OPN-2, SR§22): a citizen with real name, ID number
    (GB 11643) and mobile, or a company or organisation with its unified social credit code."""

    __tablename__ = "portal_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # person | organization
    name: Mapped[str] = mapped_column(String(200))  # real name, or the organisation's name
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)  # a person's
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)  # an organisation's
    contact_name: Mapped[str] = mapped_column(String(100), default="")  # an organisation's contact
    mobile: Mapped[str] = mapped_column(String(11))
    login: Mapped[str] = mapped_column(String(18), unique=True)  # the mobile number, as typed
    password_hash: Mapped[str] = mapped_column(String(200))
    api_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # SHA-256 hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Wrong passwords in a row; at the limit the account is locked until `locked_until`.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PortalSession(PortalBase):
    """A signed-in browser: the SHA-256 of its cookie's token, never the token."""

    __tablename__ = "portal_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_account.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))  # the token its forms must carry
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PortalApplication(PortalBase):
    """An application for conditional open data (有条件开放申请, OPN-2, SR§22).

    `state`: submitted (on the portal only) → accepted (read by the platform, which sets the
    deadline `due_on` in working days from the profile) → approved | refused (the provider's
    answer, a refusal with reasons and its legal basis)."""

    __tablename__ = "portal_application"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_account.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("portal_dataset.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)  # 申请用途
    usage: Mapped[str] = mapped_column(Text)  # how and where the data will be used (使用场景)
    fields: Mapped[list[str]] = mapped_column(JSON)  # items applied for
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), index=True)
    number: Mapped[str | None] = mapped_column(String(30))  # the platform's number, once accepted
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_on: Mapped[date | None] = mapped_column(Date)
    # The profile's working days behind `due_on` (20 under SR§22), shown as "N 个工作日内".
    due_working_days: Mapped[int | None] = mapped_column(Integer)
    due_provisional: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str] = mapped_column(Text, default="")  # reasons, or the terms of use
    legal_basis: Mapped[str] = mapped_column(Text, default="")  # a refusal's 法律政策依据

    dataset: Mapped[PortalDataset] = relationship(lazy="joined")
    account: Mapped[PortalAccount] = relationship(lazy="joined")


class PortalEntitlement(PortalBase):
    """What an approved application lets its applicant (and no one else) use: downloads and
    API access to these fields of the dataset until `valid_until`."""

    __tablename__ = "portal_entitlement"

    application_id: Mapped[int] = mapped_column(
        ForeignKey("portal_application.id"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_account.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("portal_dataset.id"), index=True)
    fields: Mapped[list[str]] = mapped_column(JSON)
    valid_until: Mapped[date] = mapped_column(Date)


class PortalUsageDay(PortalBase):
    """How much a dataset was used on one city day: page views, downloads, API calls."""

    __tablename__ = "portal_usage_day"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("portal_dataset.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    views: Mapped[int] = mapped_column(BigInteger, default=0)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    api_calls: Mapped[int] = mapped_column(BigInteger, default=0)


class PortalDataRequest(PortalBase):
    """A request for data that is not open yet (数据开放需求, SR§7, CAT-10), made by a signed-in
    account and shown to everyone with its answer (the requester's name masked).

    `state`: submitted (on the portal only) → accepted (read by the platform, numbered; once the
    operator assigns it, `assigned_department` names who answers) → answered (the department
    will open the data by `planned_on`, or cannot, with its reasons in `answer`)."""

    __tablename__ = "portal_data_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_account.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))  # 需要什么数据
    description: Mapped[str] = mapped_column(Text)  # what for, and what it should hold
    domain: Mapped[str | None] = mapped_column(String(32))  # an SR§21 domain value
    department: Mapped[str] = mapped_column(String(100), default="")  # who the requester thinks
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    number: Mapped[str | None] = mapped_column(String(30))  # the platform's number, once accepted
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_department: Mapped[str] = mapped_column(String(200), default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    will_open: Mapped[bool | None] = mapped_column(sa.Boolean)
    planned_on: Mapped[date | None] = mapped_column(Date)
    answer: Mapped[str] = mapped_column(Text, default="")

    account: Mapped[PortalAccount] = relationship(lazy="joined")
