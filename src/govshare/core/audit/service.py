"""Audit log rules: append, verify, query, export, prune."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Select, bindparam, delete, event, func, select, text
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql.util import find_tables

from govshare.core import clock
from govshare.core.audit import verify as _verify
from govshare.core.audit.hashing import (
    CONTENT_COLUMNS,
    GENESIS_HASH,
    canonical_json,
    content_leaf,
    digest,
    entry_hash,
    node_of,
    timestamp,
)
from govshare.core.audit.models import AuditAnchor, AuditEntry, AuditHead
from govshare.core.audit.signing import Checkpoint
from govshare.core.audit.verify import HEAD_ID, Verification
from govshare.core.errors import Invalid
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import MIN_AUDIT_RETENTION_MONTHS

__all__ = [
    "GENESIS_HASH",
    "HEAD_ID",
    "Checkpoint",
    "Verification",
    "canonical_json",
    "digest",
    "entry_hash",
]

READERS = (Role.AUDITOR, Role.PLATFORM_OPERATOR, Role.AUTHORITY)
# Set once per process from the settings (GOVSHARE_AUDIT_HASH); each entry stores its own
# algorithm, so switching keeps older entries verifiable.
default_algorithm = "sha256"
# Who gives entries their chain position (GOVSHARE_AUDIT_SEQUENCING): "inline", the committing
# transaction under the head lock; or "sequencer", the worker's sequencer, writers only insert.
sequencing = "inline"
_timestamp = timestamp


def entry_fields(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The content columns of a new entry, as both `record` and `append` write them."""
    return {
        "occurred_at": clock.now(),
        "actor_label": actor.label,
        "actor_user_id": actor.user_id,
        "actor_organization_id": actor.organization_id,
        "actor_token_id": actor.token_id,
        "source_ip": actor.source_ip,
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "details": canonical_json(details or {}),
        "algorithm": default_algorithm,
    }


def _field_names() -> tuple[str, ...]:
    """The columns `entry_fields` fills, in its order."""
    return tuple(entry_fields(actor=Actor.command_line("-"), action="-", object_type="-"))


def record(
    db_session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Appends an entry to the log, in the caller's transaction.

    With the sequencer (`sequencing == "sequencer"`) the entry is inserted at the next flush
    with its leaf hash and no chain position, locking nothing shared; the sequencer chains it
    once committed. Inline, it is chained (numbered, hashed, inserted) when the transaction
    commits, so the chain head is locked only for the last moment of a transaction. Either way
    a read of the audit tables in the same transaction sees the transaction's own entries."""
    entry = AuditEntry(
        **entry_fields(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details,
        )
    )
    _add(db_session, entry)
    return entry


def _add(db_session: Session, entry: AuditEntry) -> None:
    if not db_session.in_transaction():
        db_session.begin()  # the pending entry belongs to this transaction, not the session
    if sequencing == "sequencer":
        db_session.add(entry)  # leaf hash set as it is inserted (`_leaf_on_insert`)
    elif db_session.in_nested_transaction():
        # A savepoint rolled back must take its entry with it: chain it inside the savepoint.
        _chain(db_session, [entry])
    else:
        db_session.info.setdefault(PENDING, []).append(entry)


_ENTRY_COLUMNS = (*_field_names(), "leaf_hash")
_inserts: dict[int, Any] = {}


def _insert_of(count: int) -> Any:
    """One INSERT of `count` entries (VALUES (…), (…)), its parameters named column_i, typed
    as the columns: a textual statement, so that SQLAlchemy and the driver cache it (a
    multi-row `insert().values()` is compiled again on every call)."""
    found = _inserts.get(count)
    if found is None:
        table = AuditEntry.__table__
        rows = ", ".join(
            "(" + ", ".join(f":{c}_{i}" for c in _ENTRY_COLUMNS) + ")" for i in range(count)
        )
        found = text(
            f"INSERT INTO {table.name} ({', '.join(_ENTRY_COLUMNS)}) VALUES {rows}"
        ).bindparams(
            *(
                bindparam(f"{c}_{i}", type_=table.c[c].type)
                for i in range(count)
                for c in _ENTRY_COLUMNS
            )
        )
        _inserts[count] = found
    return found


def append(db_session: Session, entries: Sequence[dict[str, Any]]) -> None:
    """Appends entries made by `entry_fields` for a hot path: with the sequencer, one Core
    INSERT of every entry (one statement, a row each) with its leaf hash (`content_leaf`, as
    the ORM path computes it) on the transaction's connection — no ORM object, no flush — and
    the transaction counts as audited (`core.db._require_audit`). Inline, the entries need the
    head at commit, so they go the way of `record`."""
    if not entries:
        return
    if sequencing != "sequencer":
        for fields in entries:
            _add(db_session, AuditEntry(**fields))
        return
    values: dict[str, Any] = {}
    for i, fields in enumerate(entries):
        leaf = content_leaf(SimpleNamespace(**fields))
        values.update({f"{c}_{i}": fields[c] for c in _ENTRY_COLUMNS[:-1]})
        values[f"leaf_hash_{i}"] = leaf
    db_session.connection().execute(_insert_of(len(entries)), values)
    db_session.info["audited"] = True


PENDING = "audit_pending"
AUDIT_TABLES = frozenset({"audit_entry", "audit_head", "audit_anchor", "audit_checkpoint"})


def chain_pending(db_session: Session) -> None:
    """Numbers, hashes and inserts the transaction's pending entries under the head lock."""
    pending: list[AuditEntry] = db_session.info.pop(PENDING, [])
    if pending:
        _chain(db_session, pending)


def _chain(db_session: Session, pending: list[AuditEntry]) -> None:
    head = db_session.execute(
        select(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .with_for_update()
        .execution_options(audit_chaining=True)
    ).scalar_one()
    for entry in pending:
        entry.leaf_hash = content_leaf(entry)
        entry.seq = head.last_seq + 1
        entry.prev_hash = head.last_hash
        entry.hash = node_of(entry.algorithm, entry.seq, head.last_hash, entry.leaf_hash)
        head.last_seq, head.last_hash = entry.seq, entry.hash
        db_session.add(entry)
    db_session.flush()


@event.listens_for(AuditEntry, "before_insert")
def _leaf_on_insert(_mapper: Any, _connection: Any, entry: AuditEntry) -> None:
    """The writer's digest of the content as inserted; the sequencer chains this."""
    if entry.leaf_hash is None and entry.seq is None:
        entry.leaf_hash = content_leaf(entry)


def _has_pending(db_session: Session) -> bool:
    return bool(db_session.info.get(PENDING))


@event.listens_for(Session, "before_commit")
def _chain_on_commit(db_session: Session) -> None:
    chain_pending(db_session)


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(db_session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the session's own transaction, committed or not
        db_session.info.pop(PENDING, None)


@event.listens_for(Session, "do_orm_execute")
def _chain_before_reading(state: ORMExecuteState) -> None:
    if not _has_pending(state.session) or not state.is_select:
        return
    if state.execution_options.get("audit_chaining"):
        return
    tables = find_tables(state.statement, include_aliases=True)
    if any(getattr(t, "name", None) in AUDIT_TABLES for t in tables):
        chain_pending(state.session)


# --- verification (core/audit/verify.py) ----------------------------------------------


def checkpoint(db_session: Session) -> Checkpoint:
    """The current chain head, to be kept outside the database."""
    chain_pending(db_session)
    return _verify.head_checkpoint(db_session)


def verify(
    db_session: Session,
    checkpoints: tuple[Checkpoint, ...] = (),
    *,
    public_key: Ed25519PublicKey | None = None,
) -> Verification:
    """Verifies the chain (see `verify.verify`), the transaction's pending entries chained."""
    chain_pending(db_session)
    db_session.flush()
    return _verify.verify(db_session, checkpoints, public_key=public_key)


# --- queries and export ---------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """Criteria for the auditor's search; every field optional."""

    actor: str | None = None  # actor label (user name, console:…, token:…), exact
    user_id: int | None = None
    organization_id: int | None = None
    object_type: str | None = None
    object_id: str | None = None
    action: str | None = None  # exact, or a prefix ending in "."
    since: date | None = None  # city dates, inclusive
    until: date | None = None

    def as_details(self) -> dict[str, Any]:
        return {k: str(v) for k, v in self.__dict__.items() if v not in (None, "")}


def _city_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.CITY_TZ).astimezone(UTC)


def _filtered(criteria: AuditFilter) -> Select[tuple[AuditEntry]]:
    stmt = select(AuditEntry)
    if criteria.actor:
        stmt = stmt.where(AuditEntry.actor_label == criteria.actor)
    if criteria.user_id is not None:
        stmt = stmt.where(AuditEntry.actor_user_id == criteria.user_id)
    if criteria.organization_id is not None:
        stmt = stmt.where(AuditEntry.actor_organization_id == criteria.organization_id)
    if criteria.object_type:
        stmt = stmt.where(AuditEntry.object_type == criteria.object_type)
    if criteria.object_id:
        stmt = stmt.where(AuditEntry.object_id == criteria.object_id)
    if criteria.action:
        if criteria.action.endswith("."):
            stmt = stmt.where(AuditEntry.action.startswith(criteria.action, autoescape=True))
        else:
            stmt = stmt.where(AuditEntry.action == criteria.action)
    if criteria.since and criteria.until and criteria.since > criteria.until:
        raise Invalid("起始日期不能晚于结束日期", field="since")
    if criteria.since:
        stmt = stmt.where(AuditEntry.occurred_at >= _city_midnight_utc(criteria.since))
    if criteria.until:
        stmt = stmt.where(
            AuditEntry.occurred_at < _city_midnight_utc(criteria.until + timedelta(days=1))
        )
    return stmt


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int
    per_page: int


def search(
    db_session: Session, *, actor: Actor, criteria: AuditFilter, page: int = 1, per_page: int = 50
) -> AuditPage:
    """Returns one page of entries matching the criteria, newest first."""
    require(actor, *READERS, action="查看审计日志")
    if page < 1:
        raise Invalid("页码必须从 1 开始", field="page")
    if not 1 <= per_page <= 500:
        raise Invalid("每页条数必须在 1 到 500 之间", field="per_page")
    stmt = _filtered(criteria)
    total = db_session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    entries = list(
        db_session.execute(
            stmt.order_by(AuditEntry.seq.desc().nulls_first(), AuditEntry.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).scalars()
    )
    record(
        db_session,
        actor=actor,
        action="audit.query",
        object_type="audit_log",
        details={**criteria.as_details(), "page": page},
    )
    return AuditPage(entries, total, page, per_page)


EXPORT_FORMATS = ("csv", "jsonl")
EXPORT_COLUMNS = (
    "seq",
    "occurred_at",
    *CONTENT_COLUMNS,
    "algorithm",
    "leaf_hash",
    "prev_hash",
    "hash",
)


def start_export(
    db_session: Session, *, actor: Actor, criteria: AuditFilter, fmt: str
) -> AuditEntry:
    """Checks the caller and records the export before any row leaves."""
    require(actor, *READERS, action="导出审计日志")
    if fmt not in EXPORT_FORMATS:
        raise Invalid(f"导出格式只能是 {' 或 '.join(EXPORT_FORMATS)}", field="format")
    _filtered(criteria)  # validates the criteria now, not half-way through the stream
    return record(
        db_session,
        actor=actor,
        action="audit.export",
        object_type="audit_log",
        details={**criteria.as_details(), "format": fmt},
    )


def _row(entry: AuditEntry) -> dict[str, Any]:
    row = {c: getattr(entry, c) for c in EXPORT_COLUMNS}
    row["occurred_at"] = _timestamp(entry.occurred_at)
    return row


def iter_export(db_session: Session, *, criteria: AuditFilter, fmt: str) -> Iterator[str]:
    """Streams the matching entries, oldest first, as CSV or JSON Lines text chunks."""
    stmt = _filtered(criteria).order_by(AuditEntry.seq.asc().nulls_last(), AuditEntry.id)
    rows = db_session.execute(stmt).scalars().yield_per(1000)
    if fmt == "jsonl":
        for entry in rows:
            yield canonical_json(_row(entry)) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
    buffer.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
    writer.writeheader()
    for entry in rows:
        writer.writerow(_row(entry))
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- pruning --------------------------------------------------------------------------


def retention_cutoff(retention_months: int, today: date) -> date:
    """The first city date whose entries must be kept."""
    months = max(retention_months, MIN_AUDIT_RETENTION_MONTHS)
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    month += 1
    day = min(today.day, _month_length(year, month))
    return date(year, month, day)


def _month_length(year: int, month: int) -> int:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


@dataclass(frozen=True)
class PruneResult:
    removed: int
    cutoff_on: date
    anchor_seq: int | None


def prune(
    db_session: Session, *, actor: Actor, retention_months: int, before: date | None = None
) -> PruneResult:
    """Removes entries older than the retention period, leaving an anchor to verify from.

    Entries younger than the retention are never removed, whatever `before` says; a broken
    chain is not pruned (that would destroy the evidence)."""
    require(actor, Role.PLATFORM_OPERATOR, action="清理审计日志")
    cutoff = retention_cutoff(retention_months, clock.today())
    if before is not None:
        if before > cutoff:
            raise Invalid(
                f"保留期内的审计记录不得删除：只能清理 {cutoff.isoformat()} 之前的记录",
                field="before",
            )
        cutoff = before
    check = verify(db_session)
    if not check.ok:
        raise Invalid(f"审计链校验未通过，拒绝清理：{check.describe()}", field="audit_log")
    cutoff_at = _city_midnight_utc(cutoff)
    first_kept = db_session.execute(
        select(func.min(AuditEntry.seq)).where(AuditEntry.occurred_at >= cutoff_at)
    ).scalar()
    bound = select(func.max(AuditEntry.seq))
    if first_kept is not None:
        bound = bound.where(AuditEntry.seq < first_kept)
    last_removed = db_session.execute(bound).scalar()
    if last_removed is None:
        record(
            db_session,
            actor=actor,
            action="audit.prune",
            object_type="audit_log",
            details={"cutoff_on": cutoff.isoformat(), "removed": 0},
        )
        return PruneResult(0, cutoff, None)
    last = db_session.execute(select(AuditEntry).where(AuditEntry.seq == last_removed)).scalar_one()
    removed = db_session.execute(delete(AuditEntry).where(AuditEntry.seq <= last_removed)).rowcount
    db_session.add(
        AuditAnchor(
            seq=last.seq,
            hash=last.hash,
            removed=removed,
            cutoff_at=cutoff_at,
            created_at=clock.now(),
        )
    )
    record(
        db_session,
        actor=actor,
        action="audit.prune",
        object_type="audit_log",
        details={"cutoff_on": cutoff.isoformat(), "removed": removed, "anchor_seq": last.seq},
    )
    return PruneResult(removed, cutoff, last.seq)
