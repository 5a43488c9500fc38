"""Verification of the audit chain: every sequenced entry's hash and link, the head, entries
left unsequenced too long, and checkpoints kept outside the database (signed or not).

The walk reads plain rows in `seq` order (no ORM objects) and hashes in one tight loop."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import hashing
from govshare.core.audit.hashing import (
    CONTENT_COLUMNS,
    GENESIS_HASH,
    LEAF_TAG,
    legacy_hash_of,
    timestamp,
)
from govshare.core.audit.models import AuditAnchor, AuditCheckpoint, AuditEntry, AuditHead
from govshare.core.audit.signing import Checkpoint

HEAD_ID = 1
# An entry committed but not sequenced for longer than this fails verification (the sequencer
# is not running). Set from GOVSHARE_AUDIT_UNSEQUENCED_SECONDS.
stale_after = timedelta(seconds=10)
_entry = AuditEntry.__table__
_head = AuditHead.__table__


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
    anchor_seq = db_session.execute(select(func.max(AuditAnchor.seq))).scalar() or 0
    published = tuple(
        Checkpoint(p.seq, p.hash, timestamp(p.signed_at), p.key_id, p.signature)
        for p in db_session.execute(select(AuditCheckpoint).where(AuditCheckpoint.seq > anchor_seq))
        .scalars()
        .all()
    )
    head = head_checkpoint(db_session)  # after the published ones: it covers every one of them
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
    # The head and the stray check in one statement each: a sequencer appending meanwhile
    # moves neither the entries up to the head read here nor what the walk compares.
    head = db_session.execute(
        select(_head.c.last_seq, _head.c.last_hash).where(_head.c.id == HEAD_ID)
    ).first()
    assert head is not None, "audit_head row missing: run `govshare db upgrade`"
    anchor = db_session.execute(
        select(AuditAnchor.seq, AuditAnchor.hash).order_by(AuditAnchor.seq.desc()).limit(1)
    ).first()
    expected_seq, expected_prev = (anchor.seq + 1, anchor.hash) if anchor else (1, GENESIS_HASH)
    current_head = select(_head.c.last_seq).where(_head.c.id == HEAD_ID).scalar_subquery()
    stray = db_session.execute(
        select(func.min(_entry.c.seq)).where(
            (_entry.c.seq > current_head) | (_entry.c.seq < expected_seq)
        )
    ).scalar()
    if stray is not None:
        return Verification(False, 0, stray, "不在链中（被插入）")

    connection = db_session.connection()
    sql = walk_sql(connection.dialect.name)
    chunks = _parallel_chunks(connection, expected_seq, head.last_seq)
    if chunks:
        checked, expected_seq, expected_prev, bad = _walk_parallel(
            connection, sql, chunks, expected_prev
        )
    else:
        rows = connection.exec_driver_sql(
            sql, {"lo": expected_seq, "hi": head.last_seq}, execution_options=STREAM
        )
        checked, expected_seq, expected_prev, bad, _ = walk_rows(rows, expected_seq, expected_prev)
    if bad is not None:
        return Verification(False, checked, bad[0], bad[1])
    if expected_seq != head.last_seq + 1:
        return Verification(False, checked, expected_seq, "缺失（被删除）")
    if expected_prev != head.last_hash:
        return Verification(False, checked, head.last_seq, "内容被替换（与链头不符）")
    return Verification(True, checked)


# --- the walk -------------------------------------------------------------------------
# The database hands over each entry's leaf preimage (`hashing.leaf_preimage`) built in SQL,
# and its time formatted as hashed; the verifier hashes them itself. (Building the preimage in
# Python from plain columns was measured too: twice the client's CPU and a slower walk, since
# the server builds strings in its own process while the client hashes.) Entries from before 0025
# (no leaf hash) come with their columns for the old canonical-JSON hash.

STREAM = {"yield_per": 10_000}  # a server-side cursor on PostgreSQL, per statement
_INTEGER = {"actor_user_id", "actor_organization_id", "actor_token_id"}


def walk_sql(dialect: str) -> str:
    """Rows `seq, algorithm, prev_hash, hash, preimage, legacy…` for `:lo <= seq <= :hi`."""
    if dialect == "postgresql":
        ts = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

        def as_text(column: str) -> str:
            return f"{column}::text" if column in _INTEGER else column
    else:
        # SQLite keeps text: normalised to UTC by strftime (which reads an offset, if any),
        # the microseconds taken as written
        ts = (
            "(strftime('%Y-%m-%dT%H:%M:%S', occurred_at) || '.' || CASE WHEN"
            " substr(occurred_at, 20, 1) = '.' THEN substr(occurred_at, 21, 6) ELSE '000000'"
            " END || 'Z')"
        )

        def as_text(column: str) -> str:
            return f"CAST({column} AS TEXT)" if column in _INTEGER else column

    def field(expr: str) -> str:
        return f"COALESCE(length({expr}) || ':' || {expr}, '-')"

    preimage = " || ',' || ".join(
        [f"'{LEAF_TAG}'", field(ts), *(field(as_text(c)) for c in CONTENT_COLUMNS)]
    )
    legacy = ", ".join(f"CASE WHEN leaf_hash IS NULL THEN {c} END" for c in (ts, *CONTENT_COLUMNS))
    lo, hi = ("%(lo)s", "%(hi)s") if dialect == "postgresql" else (":lo", ":hi")  # the driver's
    return (
        f"SELECT seq, algorithm, prev_hash, hash,"
        f" CASE WHEN leaf_hash IS NOT NULL THEN {preimage} END, {legacy}"
        f" FROM audit_entry WHERE seq >= {lo} AND seq <= {hi} ORDER BY seq"
    )


def walk_rows(
    rows: Any, expected_seq: int, expected_prev: str | None
) -> tuple[int, int, str | None, tuple[int, str] | None, str | None]:
    """Checks rows (`walk_sql`, in seq order) from `expected_seq`/`expected_prev` on (None:
    whatever the first row links to). Returns how many passed, where the walk ended, the first
    problem (seq, text), and the first row's prev_hash."""
    sha256 = hashing._sha256
    digest = hashing.digest
    checked = 0
    first_prev: str | None = None
    for row in rows:
        seq, alg, prev, h, pre = row[0], row[1], row[2], row[3], row[4]
        if seq != expected_seq:
            return (
                checked,
                expected_seq,
                expected_prev,
                (expected_seq, "缺失（被删除）"),
                first_prev,
            )
        if checked == 0:
            first_prev = prev
            if expected_prev is None:
                expected_prev = prev
        if pre is None:
            computed = legacy_hash_of(alg, seq, *row[5:], prev)
        elif alg == "sha256":
            leaf = sha256(pre.encode()).hexdigest()
            computed = sha256(f"{seq}:{prev}:{leaf}".encode()).hexdigest()
        else:
            computed = digest(alg, f"{seq}:{prev}:{digest(alg, pre.encode())}".encode())
        if h != computed:
            return checked, expected_seq, expected_prev, (seq, "内容被修改"), first_prev
        if prev != expected_prev:
            problem = (seq, "与前一条记录的哈希不衔接（前一条被替换）")
            return checked, expected_seq, expected_prev, problem, first_prev
        checked += 1
        expected_seq, expected_prev = seq + 1, h
    return checked, expected_seq, expected_prev, None, first_prev


# --- in parallel, for long chains on PostgreSQL ------------------------------------------
# Each entry stores its predecessor's hash, so ranges of the chain are walked independently
# (each in a process of its own, on a connection of its own, reading committed entries); the
# ranges are then joined: each must start where the one before ended.

PARALLEL_MIN = 200_000


def _parallel_chunks(connection: Any, lo: int, hi: int) -> list[tuple[int, int]]:
    workers = min(os.cpu_count() or 1, 8)
    if connection.dialect.name != "postgresql" or hi - lo < PARALLEL_MIN or workers < 2:
        return []
    if connection.in_transaction() and _writes_pending(connection):
        return []
    size = (hi - lo + workers) // workers
    return [(start, min(start + size - 1, hi)) for start in range(lo, hi + 1, size)]


def _writes_pending(connection: Any) -> bool:
    """Whether this transaction changed audit rows others cannot see (then walk it alone)."""
    return bool(
        connection.exec_driver_sql(
            "SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND mode = 'RowExclusiveLock'"
            " AND relation = 'audit_entry'::regclass"
        ).first()
    )


def _walk_chunk(url: str, sql: str, lo: int, hi: int) -> tuple[Any, ...]:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(sql, {"lo": lo, "hi": hi}, execution_options=STREAM)
            return walk_rows(rows, lo, None)
    finally:
        engine.dispose()


def _walk_parallel(
    connection: Any, sql: str, chunks: list[tuple[int, int]], expected_prev: str
) -> tuple[int, int, str | None, tuple[int, str] | None]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    url = connection.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(chunks), mp_context=context) as pool:
        results = list(
            pool.map(
                _walk_chunk, [url] * len(chunks), [sql] * len(chunks), *zip(*chunks, strict=True)
            )
        )
    checked, expected_seq = 0, chunks[0][0]
    for (lo, _hi), (count, end_seq, end_prev, bad, first_prev) in zip(chunks, results, strict=True):
        if count and first_prev != expected_prev:
            return checked, lo, expected_prev, (lo, "与前一条记录的哈希不衔接（前一条被替换）")
        if bad is not None:
            return checked + count, end_seq, end_prev, bad
        checked += count
        expected_seq, expected_prev = end_seq, end_prev
    return checked, expected_seq, expected_prev, None
