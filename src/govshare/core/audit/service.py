"""Audit log rules: append, verify, query, export, prune."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, delete, event, func, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql.util import find_tables

from govshare.core import clock
from govshare.core.audit.models import GENESIS_HASH, AuditAnchor, AuditEntry, AuditHead
from govshare.core.errors import Invalid
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import MIN_AUDIT_RETENTION_MONTHS

READERS = (Role.AUDITOR, Role.PLATFORM_OPERATOR, Role.AUTHORITY)
HEAD_ID = 1
# Set once per process from the settings (GOVSHARE_AUDIT_HASH); each entry stores its own
# algorithm, so switching keeps older entries verifiable.
default_algorithm = "sha256"


def digest(algorithm: str, payload: bytes) -> str:
    """Hex digest with SHA-256 or SM3 (GB/T 32905)."""
    if algorithm == "sha256":
        return hashlib.sha256(payload).hexdigest()
    if algorithm == "sm3":
        from cryptography.hazmat.primitives import hashes  # only deployments choosing SM3 pay

        h = hashes.Hash(hashes.SM3())
        h.update(payload)
        return h.finalize().hex()
    raise ValueError(f"unknown audit hash algorithm {algorithm!r}")


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _timestamp(moment: datetime) -> str:
    return clock.as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(entry: AuditEntry) -> str:
    """The hash an entry must carry, computed from its content and its predecessor's hash."""
    content = {
        "seq": entry.seq,
        "occurred_at": _timestamp(entry.occurred_at),
        "actor_label": entry.actor_label,
        "actor_user_id": entry.actor_user_id,
        "actor_organization_id": entry.actor_organization_id,
        "actor_token_id": entry.actor_token_id,
        "source_ip": entry.source_ip,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    return digest(entry.algorithm, canonical_json(content).encode())


def record(
    db_session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Appends an entry to the chain, in the caller's transaction.

    The entry is chained (numbered, hashed, inserted) when the transaction commits, so the
    chain head is locked only for the last moment of a transaction, not from its first audited
    step: otherwise every audited data call would wait for every other one to commit. A read
    of the audit tables in the same transaction chains the pending entries first, so the
    transaction still sees its own entries. Its `seq` and `hash` are set once chained."""
    entry = AuditEntry(
        occurred_at=clock.now(),
        actor_label=actor.label,
        actor_user_id=actor.user_id,
        actor_organization_id=actor.organization_id,
        actor_token_id=actor.token_id,
        source_ip=actor.source_ip,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=canonical_json(details or {}),
        algorithm=default_algorithm,
    )
    if not db_session.in_transaction():
        db_session.begin()  # the pending entry belongs to this transaction, not the session
    if db_session.in_nested_transaction():
        # A savepoint rolled back must take its entry with it: chain it inside the savepoint.
        _chain(db_session, [entry])
    else:
        db_session.info.setdefault(PENDING, []).append(entry)
    return entry


PENDING = "audit_pending"
AUDIT_TABLES = frozenset({"audit_entry", "audit_head", "audit_anchor"})


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
        entry.seq = head.last_seq + 1
        entry.prev_hash = head.last_hash
        entry.hash = entry_hash(entry)
        head.last_seq, head.last_hash = entry.seq, entry.hash
        db_session.add(entry)
    db_session.flush()


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


# --- verification ---------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """Outcome of walking the chain."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"审计链完整：已校验 {self.checked} 条记录"
        return f"审计链被破坏：第 {self.first_bad_seq} 条记录{self.problem}"


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment, kept outside the database (a file on another host,
    a report to the authority) so that a rewound or rewritten chain can be proven."""

    seq: int
    hash: str

    def line(self) -> str:
        return f"{self.seq} {self.hash}"

    @classmethod
    def parse(cls, line: str, *, where: str) -> Checkpoint:
        parts = line.split()
        if len(parts) < 2 or not parts[0].isdigit() or len(parts[1]) != 64:
            raise Invalid(f"{where}: 检查点格式应为“序号 哈希值”", field="checkpoints")
        return cls(int(parts[0]), parts[1].lower())


def checkpoint(db_session: Session) -> Checkpoint:
    """The current chain head, to be kept outside the database."""
    head = db_session.get(AuditHead, HEAD_ID, populate_existing=True)
    assert head is not None
    return Checkpoint(head.last_seq, head.last_hash)


def verify(db_session: Session, checkpoints: tuple[Checkpoint, ...] = ()) -> Verification:
    """Walks the chain from the last anchor (or the start) to the head, then checks that
    every external checkpoint is still in it."""
    result = _walk(db_session)
    if not result.ok:
        return result
    head = checkpoint(db_session)
    anchor_seq = db_session.execute(select(func.max(AuditAnchor.seq))).scalar() or 0
    for point in sorted(checkpoints, key=lambda c: c.seq):
        if point.seq > head.seq:
            return Verification(
                False,
                result.checked,
                head.seq + 1,
                f"缺失（链被回退：外部检查点记录到第 {point.seq} 条）",
            )
        if point.seq <= anchor_seq or point.seq == 0:
            continue  # pruned past retention; the anchor vouches for it
        entry = db_session.get(AuditEntry, point.seq)
        if entry is None or entry.hash != point.hash:
            return Verification(False, result.checked, point.seq, "与外部检查点不符（链被改写）")
    return result


def _walk(db_session: Session) -> Verification:
    head = db_session.get(AuditHead, HEAD_ID, populate_existing=True)
    anchor = db_session.execute(
        select(AuditAnchor).order_by(AuditAnchor.seq.desc()).limit(1)
    ).scalar_one_or_none()
    expected_seq, expected_prev = (anchor.seq + 1, anchor.hash) if anchor else (1, GENESIS_HASH)
    assert head is not None, "audit_head row missing: run `govshare db upgrade`"

    stray = db_session.execute(
        select(func.min(AuditEntry.seq)).where(
            (AuditEntry.seq > head.last_seq) | (AuditEntry.seq < expected_seq)
        )
    ).scalar()
    if stray is not None:
        return Verification(False, 0, stray, "不在链中（被插入）")

    checked = 0
    # populate_existing: compare what the database holds now, not objects cached earlier.
    rows = db_session.execute(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(populate_existing=True)
    ).scalars()
    for entry in rows.yield_per(2000):
        if entry.seq != expected_seq:
            return Verification(False, checked, expected_seq, "缺失（被删除）")
        if entry.hash != entry_hash(entry):
            return Verification(False, checked, entry.seq, "内容被修改")
        if entry.prev_hash != expected_prev:
            return Verification(
                False, checked, entry.seq, "与前一条记录的哈希不衔接（前一条被替换）"
            )
        checked += 1
        expected_seq, expected_prev = entry.seq + 1, entry.hash
    if expected_seq != head.last_seq + 1:
        return Verification(False, checked, expected_seq, "缺失（被删除）")
    if expected_prev != head.last_hash:
        return Verification(False, checked, head.last_seq, "内容被替换（与链头不符）")
    return Verification(True, checked)


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
            stmt.order_by(AuditEntry.seq.desc()).offset((page - 1) * per_page).limit(per_page)
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
    "actor_label",
    "actor_user_id",
    "actor_organization_id",
    "actor_token_id",
    "source_ip",
    "action",
    "object_type",
    "object_id",
    "details",
    "algorithm",
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
    stmt = _filtered(criteria).order_by(AuditEntry.seq)
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
    last = db_session.get(AuditEntry, last_removed)
    assert last is not None
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
