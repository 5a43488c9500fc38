"""Catalogs along the levels (级联目录, CAT-13, LVL-1, SR§7): the published catalog entries
this platform mirrors from the platforms above and below it, how far it has read each
peer's catalog, and the dated editions (目录版本) of its own catalog."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govshare.core.db import Base, UTCDateTime, str_enum
from govshare.federation.models import Peer, Relation


class RemoteResource(Base):
    """A resource published in another platform's catalog (级联目录资源), as the peer that
    reported it last described it. `chain` is its provenance: the platforms it passed
    through, origin first, the peer it came from last."""

    __tablename__ = "federation_remote_resource"
    __table_args__ = (UniqueConstraint("origin_code", "resource_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"), index=True)
    relation: Mapped[Relation] = mapped_column(str_enum(Relation, 16), index=True)
    origin_code: Mapped[str] = mapped_column(String(12), index=True)
    origin_name: Mapped[str] = mapped_column(String(100))
    chain: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    resource_code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    provider_name: Mapped[str] = mapped_column(String(100))
    provider_level: Mapped[str] = mapped_column(String(16))
    search_text: Mapped[str] = mapped_column(Text)  # name, summary, provider, items; lower case
    entry: Mapped[dict[str, Any]] = mapped_column(JSON)  # the entry as the peer sent it
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)  # at its origin
    retired: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    first_synced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Here, when the peer's entry last changed the mirror: the order this platform passes
    # mirrored entries on to its own upper peer in.
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    peer: Mapped[Peer] = relationship(lazy="joined")


class CatalogWatermark(Base):
    """How far this platform has read a peer's catalog (同步水位): the position of the last
    entry taken, and the outcome of the last attempt."""

    # Bookkeeping: every pull is a logged message, and a sync that changes the mirror writes
    # its own audit entry; the time of an attempt that found nothing new is not a fact.
    __audit_exempt__ = True
    __tablename__ = "federation_catalog_watermark"

    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"), primary_key=True)
    position: Mapped[dict[str, str] | None] = mapped_column(JSON)  # {at, origin, code}
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class CatalogEdition(Base):
    """A dated edition of this platform's catalog (目录版本, 编制版次; CAT-13, SR§7): its own
    published resources and those of the platforms below it, frozen on the day it was
    published. A county platform's editions are its county catalog; the city's hold one
    part per county besides its own."""

    __tablename__ = "federation_catalog_edition"
    __table_args__ = (UniqueConstraint("year", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)  # 第 n 版 of the year
    published_on: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="")
    platform_code: Mapped[str] = mapped_column(String(12))
    platform_name: Mapped[str] = mapped_column(String(100))
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{code, name, level, count}]
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer)

    @property
    def title(self) -> str:
        return f"{self.year}年第{self.number}版"
