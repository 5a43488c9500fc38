"""Audit tables: the entries, the chain head and the anchors left by pruning."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govshare.core.db import Base, UTCDateTime

GENESIS_HASH = "0" * 64


# SQLite numbers rows itself only for an INTEGER PRIMARY KEY (its rowid, 64 bits anyway).
ENTRY_ID = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(Base):
    """One audited operation (审计记录). Inserted by the writer with its content and `leaf_hash`
    (the digest of that content); its chain position (`seq`, `prev_hash`, `hash`) is set once,
    by whoever sequences it, and never changed after. Deleted only by pruning past retention."""

    __tablename__ = "audit_entry"

    # Insert-time identity: a database sequence, no lock shared between writers.
    id: Mapped[int] = mapped_column(ENTRY_ID, primary_key=True, autoincrement=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_label: Mapped[str] = mapped_column(String(120), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_organization_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_token_id: Mapped[int | None] = mapped_column(Integer)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(60), index=True)
    object_id: Mapped[str | None] = mapped_column(String(80), index=True)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as hashed
    algorithm: Mapped[str] = mapped_column(String(10))
    # NULL on entries chained before 0025, whose hash covers the content directly.
    leaf_hash: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The single row naming the chain's last entry. Whoever sequences locks it (the
    sequencer, or in inline mode the committing writer), and verification compares the table's tail against it, which
    exposes a deleted last entry or a row appended behind the platform's back."""

    __tablename__ = "audit_head"
    __audit_exempt__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditAnchor(Base):
    """Where the chain resumes after pruning: the seq and hash of the last entry removed."""

    __tablename__ = "audit_anchor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    removed: Mapped[int] = mapped_column(Integer)
    cutoff_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditCheckpoint(Base):
    """A signed statement of the chain head (签名检查点): the sequencer publishes one as the head
    moves; anyone holding the log's public key can check it and hold the chain to it."""

    __tablename__ = "audit_checkpoint"
    __audit_exempt__ = True  # derived from the chain; a forged row fails its signature

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
