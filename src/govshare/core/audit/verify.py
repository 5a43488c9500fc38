"""Verification of the audit chain: every sequenced entry's hash and link, the head, entries
left unsequenced too long, and checkpoints kept outside the database (signed or not).

The walk reads plain rows in `seq` order (no ORM objects) and hashes in one tight loop."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import hashing
from govshare.core.audit.hashing import GENESIS_HASH, LEAF_TAG, legacy_hash, timestamp
from govshare.core.audit.models import AuditAnchor, AuditCheckpoint, AuditEntry, AuditHead
from govshare.core.audit.signing import Checkpoint

HEAD_ID = 1
# An entry committed but not sequenced for longer than this fails verification (the sequencer
# is not running). Set from GOVSHARE_AUDIT_UNSEQUENCED_SECONDS.
stale_after = timedelta(seconds=10)
_entry = AuditEntry.__table__
_head = AuditHead.__table__
WALK_COLUMNS = (
    _entry.c.seq,
    _entry.c.occurred_at,
    _entry.c.actor_label,
    _entry.c.actor_user_id,
    _entry.c.actor_organization_id,
    _entry.c.actor_token_id,
    _entry.c.source_ip,
    _entry.c.action,
    _entry.c.object_type,
    _entry.c.object_id,
    _entry.c.details,
    _entry.c.algorithm,
    _entry.c.leaf_hash,
    _entry.c.prev_hash,
    _entry.c.hash,
)


@dataclass(frozen=True)
class Verification:
    """Outcome of walking the chain."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    unsequenced_id: int | None = None  # an entry left unsequenced too long, by its id

    def describe(self) -> str:
        if self.ok:
            return f"审计链完整：已校验 {self.checked} 条记录"
        if self.first_bad_seq is None:
            return f"审计链未完成：编号 {self.unsequenced_id} 的记录{self.problem}"
        return f"审计链被破坏：第 {self.first_bad_seq} 条记录{self.problem}"


def head_checkpoint(db_session: Session) -> Checkpoint:
    """The current chain head, unsigned."""
    row = db_session.execute(
        select(_head.c.last_seq, _head.c.last_hash).where(_head.c.id == HEAD_ID)
    ).one()
    return Checkpoint(row.last_seq, row.last_hash)


def _hash_at(db_session: Session, seq: int) -> str | None:
    return db_session.execute(select(_entry.c.hash).where(_entry.c.seq == seq)).scalar()


def verify(
    db_session: Session,
    checkpoints: tuple[Checkpoint, ...] = (),
    *,
    public_key: Ed25519PublicKey | None = None,
) -> Verification:
    """Walks the chain from the last anchor (or the start) to the head, checks that no entry
    waits unsequenced past `stale_after`, then that every checkpoint — those given, and those
    the sequencer published in `audit_checkpoint` — is still in it; with `public_key`, every
    signed checkpoint's signature too."""
    result = _walk(db_session)
    if not result.ok:
        return result
    stale = _stale(db_session)
    if stale is not None:
        return stale
    head = head_checkpoint(db_session)
    anchor_seq = db_session.execute(select(func.max(AuditAnchor.seq))).scalar() or 0
    published = tuple(
        Checkpoint(p.seq, p.hash, timestamp(p.signed_at), p.key_id, p.signature)
        for p in db_session.execute(select(AuditCheckpoint).where(AuditCheckpoint.seq > anchor_seq))
        .scalars()
        .all()
    )
    for point in sorted((*checkpoints, *published), key=lambda c: c.seq):
        if public_key is not None and point.signed and not point.signature_valid(public_key):
            return Verification(
                False, result.checked, point.seq, "的签名检查点签名无效（被伪造或改动）"
            )
        if point.seq > head.seq:
            return Verification(
                False,
                result.checked,
                head.seq + 1,
                f"缺失（链被回退：外部检查点记录到第 {point.seq} 条）",
            )
        if point.seq <= anchor_seq or point.seq == 0:
            continue  # pruned past retention; the anchor vouches for it
        if _hash_at(db_session, point.seq) != point.hash:
            return Verification(False, result.checked, point.seq, "与外部检查点不符（链被改写）")
    return result


def _stale(db_session: Session) -> Verification | None:
    limit = clock.now() - stale_after
    row = db_session.execute(
        select(_entry.c.id, _entry.c.occurred_at)
        .where(_entry.c.seq.is_(None), _entry.c.occurred_at < limit)
        .order_by(_entry.c.occurred_at)
        .limit(1)
    ).first()
    if row is None:
        return None
    waited = int((clock.now() - row.occurred_at).total_seconds())
    return Verification(
        False,
        0,
        None,
        f"已 {waited} 秒未排入审计链（排序进程未运行？请检查 govshare worker）",
        unsequenced_id=row.id,
    )


def _walk(db_session: Session) -> Verification:
    head = db_session.execute(
        select(_head.c.last_seq, _head.c.last_hash).where(_head.c.id == HEAD_ID)
    ).first()
    assert head is not None, "audit_head row missing: run `govshare db upgrade`"
    anchor = db_session.execute(
        select(AuditAnchor.seq, AuditAnchor.hash).order_by(AuditAnchor.seq.desc()).limit(1)
    ).first()
    expected_seq, expected_prev = (anchor.seq + 1, anchor.hash) if anchor else (1, GENESIS_HASH)

    stray = db_session.execute(
        select(func.min(_entry.c.seq)).where(
            (_entry.c.seq > head.last_seq) | (_entry.c.seq < expected_seq)
        )
    ).scalar()
    if stray is not None:
        return Verification(False, 0, stray, "不在链中（被插入）")

    rows = db_session.execute(
        select(*WALK_COLUMNS)
        .where(_entry.c.seq.is_not(None))
        .order_by(_entry.c.seq)
        .execution_options(yield_per=5000)
    )
    checked, expected_seq, expected_prev, bad = walk_rows(rows, expected_seq, expected_prev)
    if bad is not None:
        return Verification(False, checked, bad[0], bad[1])
    if expected_seq != head.last_seq + 1:
        return Verification(False, checked, expected_seq, "缺失（被删除）")
    if expected_prev != head.last_hash:
        return Verification(False, checked, head.last_seq, "内容被替换（与链头不符）")
    return Verification(True, checked)


class _Legacy:
    __slots__ = tuple(c.name for c in WALK_COLUMNS)

    def __init__(self, row: Any) -> None:
        for name, value in zip(self.__slots__, row, strict=True):
            setattr(self, name, value)


def walk_rows(
    rows: Any, expected_seq: int, expected_prev: str
) -> tuple[int, int, str, tuple[int, str] | None]:
    """Checks rows (WALK_COLUMNS, in seq order) from `expected_seq`/`expected_prev` on.
    Returns how many passed, where the walk ended, and the first problem (seq, text)."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    sha256 = hashing._sha256
    digest = hashing.digest
    checked = 0
    for row in rows:
        (
            seq,
            occurred,
            label,
            uid,
            oid,
            tid,
            ip,
            action,
            otype,
            obj,
            details,
            alg,
            leaf,
            prev,
            h,
        ) = row
        if seq != expected_seq:
            return checked, expected_seq, expected_prev, (expected_seq, "缺失（被删除）")
        if leaf is None:
            computed = legacy_hash(_Legacy(row))
        else:
            content = encode(
                [
                    LEAF_TAG,
                    timestamp(occurred),
                    label,
                    uid,
                    oid,
                    tid,
                    ip,
                    action,
                    otype,
                    obj,
                    details,
                ]
            ).encode()
            if alg == "sha256":
                leaf_now = sha256(content).hexdigest()
                computed = sha256(f"{seq}:{prev}:{leaf_now}".encode()).hexdigest()
            else:
                leaf_now = digest(alg, content)
                computed = digest(alg, f"{seq}:{prev}:{leaf_now}".encode())
        if h != computed:
            return checked, expected_seq, expected_prev, (seq, "内容被修改")
        if prev != expected_prev:
            return (
                checked,
                expected_seq,
                expected_prev,
                (seq, "与前一条记录的哈希不衔接（前一条被替换）"),
            )
        checked += 1
        expected_seq, expected_prev = seq + 1, h
    return checked, expected_seq, expected_prev, None
