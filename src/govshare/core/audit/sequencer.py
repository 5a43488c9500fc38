"""The audit sequencer (审计排序): gives committed entries their chain position, in batches.

Writers insert their entries in their own transactions with no chain position and no shared
row to lock. The sequencer — one at a time across every process and host — locks the head,
takes the committed entries not yet sequenced (those its snapshot sees, oldest id first: a
long transaction that commits late simply gets a later position, a rolled-back one leaves
nothing), chains them from their writers' leaf hashes and moves the head, then publishes a
signed checkpoint when the head moved and the last one is older than `checkpoint_every`.

One active sequencer: on PostgreSQL a session advisory lock held on the sequencer's own
connection (a standby's try fails until the holder's connection ends, then it takes over at
its next try); on SQLite a single machine's writes are serialised anyway, so any process may
sequence. In inline mode (GOVSHARE_AUDIT_SEQUENCING=inline) committing writers chain their
own entries under the head lock and no sequencer is needed."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, bindparam, select, text, update
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import hashing, signing
from govshare.core.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from govshare.core.audit.signing import sign
from govshare.core.audit.verify import HEAD_ID, head_checkpoint
from govshare.core.errors import Invalid

if TYPE_CHECKING:
    from govshare.core.runtime import Runtime

log = logging.getLogger(__name__)
LOCK_KEY = 0x676F7661756474  # the advisory lock of the one active sequencer ("govaudt")
BATCH = 10_000
_entry = AuditEntry.__table__
_set_position = (
    update(_entry)
    .where(_entry.c.id == bindparam("_id"))
    .values(seq=bindparam("_seq"), prev_hash=bindparam("_prev"), hash=bindparam("_hash"))
)

_set_positions_pg = text(
    "UPDATE audit_entry AS e SET seq = v.seq, prev_hash = v.prev, hash = v.hash"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[]), CAST(:prevs AS varchar[]),"
    " CAST(:hashes AS varchar[])) AS v(id, seq, prev, hash) WHERE e.id = v.id"
)


@dataclass(frozen=True)
class Batch:
    sequenced: int
    head_seq: int
    checkpoint_seq: int | None = None


def sequence_batch(
    db_session: Session,
    *,
    limit: int = BATCH,
    key: Ed25519PrivateKey | None = None,
    checkpoint_every: timedelta = timedelta(seconds=10),
) -> Batch:
    """Chains up to `limit` committed, unsequenced entries in the caller's transaction."""
    head = db_session.execute(
        select(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .with_for_update()
        .execution_options(audit_chaining=True, populate_existing=True)
    ).scalar_one()
    rows = db_session.execute(
        select(_entry.c.id, _entry.c.leaf_hash, _entry.c.algorithm)
        .where(_entry.c.seq.is_(None))
        .order_by(_entry.c.id)
        .limit(limit)
        .execution_options(audit_chaining=True)
    ).all()
    seq, prev = head.last_seq, head.last_hash
    params = []
    for entry_id, leaf, algorithm in rows:
        if leaf is None:  # inserted without one (not by `record`): hash what is there now
            entry = db_session.get(AuditEntry, entry_id)
            assert entry is not None
            leaf = hashing.content_leaf(entry)
            entry.leaf_hash = leaf
        seq += 1
        node = hashing.node_of(algorithm, seq, prev, leaf)
        params.append({"_id": entry_id, "_seq": seq, "_prev": prev, "_hash": node})
        prev = node
    if params:
        db_session.flush()
        connection = db_session.connection()
        if connection.dialect.name == "postgresql":  # one statement for the whole batch
            connection.execute(
                _set_positions_pg,
                {
                    "ids": [p["_id"] for p in params],
                    "seqs": [p["_seq"] for p in params],
                    "prevs": [p["_prev"] for p in params],
                    "hashes": [p["_hash"] for p in params],
                },
            )
        else:
            connection.execute(_set_position, params)
        head.last_seq, head.last_hash = seq, prev
        db_session.flush()
    published = publish_checkpoint(db_session, key, checkpoint_every) if key else None
    return Batch(len(params), head.last_seq, published)


def publish_checkpoint(
    db_session: Session, key: Ed25519PrivateKey, every: timedelta = timedelta(0)
) -> int | None:
    """Signs the head into `audit_checkpoint` when it moved since the last checkpoint and that
    one is at least `every` old; returns the signed seq, or None."""
    head = db_session.get(AuditHead, HEAD_ID)
    assert head is not None
    if head.last_seq == 0:
        return None
    last = db_session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)
    ).scalar_one_or_none()
    now = clock.now()
    if last is not None and (last.seq >= head.last_seq or now - last.signed_at < every):
        return None
    point = sign(key, head.last_seq, head.last_hash, now)
    assert point.signature is not None and point.key_id is not None
    db_session.add(
        AuditCheckpoint(
            seq=point.seq,
            hash=point.hash,
            signed_at=now,
            key_id=point.key_id,
            signature=point.signature,
        )
    )
    db_session.flush()
    return point.seq


def signed_checkpoint(db_session: Session, key: Ed25519PrivateKey) -> signing.Checkpoint:
    """The current chain head, signed: the newest published checkpoint if it is the head,
    otherwise one signed now and published (`govshare audit checkpoint`)."""
    from govshare.core.audit.service import chain_pending

    chain_pending(db_session)
    head = head_checkpoint(db_session)
    if head.seq == 0:
        raise Invalid("审计链为空，没有可签署的链头", field="audit_log")
    publish_checkpoint(db_session, key)
    stored = db_session.execute(
        select(AuditCheckpoint).where(AuditCheckpoint.seq == head.seq)
    ).scalar_one()
    return signing.Checkpoint(
        stored.seq,
        stored.hash,
        hashing.timestamp(stored.signed_at),
        stored.key_id,
        stored.signature,
    )


def sequence_all(
    db_session: Session, *, key: Ed25519PrivateKey | None = None, limit: int = BATCH
) -> int:
    """Sequences every committed entry waiting (`govshare audit sequence`), then signs the
    head. Call outside any other transaction's work: it commits after each batch."""
    total = 0
    while True:
        batch = sequence_batch(db_session, limit=limit)
        db_session.commit()
        total += batch.sequenced
        if batch.sequenced < limit:
            break
    if key is not None:
        publish_checkpoint(db_session, key)
        db_session.commit()
    return total


class Lease:
    """The right to be the one active sequencer, held on a connection of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._local = engine.dialect.name != "postgresql"

    @property
    def held(self) -> bool:
        return self._local or self._conn is not None

    def try_acquire(self) -> bool:
        if self.held:
            return True
        conn = self.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None


class SequencerLoop(threading.Thread):
    """The worker's sequencer: every `interval` it tries the lease (standby) or, holding it,
    sequences one batch and publishes a checkpoint when due. `stop()` ends it and frees the
    lease for a standby."""

    def __init__(
        self,
        engine: Engine,
        sessions: object,
        *,
        key: Ed25519PrivateKey | None,
        interval: float = 0.2,
        checkpoint_every: timedelta = timedelta(seconds=10),
    ) -> None:
        super().__init__(name="audit-sequencer", daemon=True)
        self.lease = Lease(engine)
        self.sessions = sessions
        self.key = key
        self.interval = interval
        self.checkpoint_every = checkpoint_every
        self._halt = threading.Event()
        self.batches = 0

    def run(self) -> None:
        while not self._halt.is_set():
            busy = False
            try:
                if self.lease.try_acquire():
                    busy = self.step()
            except Exception:
                log.exception("audit sequencer: batch failed; retrying")
                self.lease.release()
            if not busy:
                self._halt.wait(self.interval)
        self.lease.release()

    def step(self) -> bool:
        """One batch; True when it was full (more are waiting)."""
        with self.sessions() as db_session:  # type: ignore[operator]
            batch = sequence_batch(db_session, key=self.key, checkpoint_every=self.checkpoint_every)
            db_session.commit()
        self.batches += 1
        return batch.sequenced >= BATCH

    def stop(self, timeout: float = 5.0) -> None:
        self._halt.set()
        self.join(timeout)


def loop_for(runtime: Runtime) -> SequencerLoop | None:
    """The worker's sequencer loop when the platform sequences (GOVSHARE_AUDIT_SEQUENCING)."""
    settings = runtime.settings
    if settings.audit_sequencing != "sequencer":
        return None
    return SequencerLoop(
        runtime.engine,
        runtime.sessions,
        key=signing.key_of(settings),
        interval=settings.audit_sequencer_interval,
        checkpoint_every=timedelta(seconds=settings.audit_checkpoint_seconds),
    )
