"""The audit sequencer: writers insert without a shared lock, the sequencer chains committed
entries in commit order, one sequencer at a time, signed checkpoints, stale entries, and the
migration of a chain written before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from govshare.core import clock, migrate
from govshare.core.audit import hashing, sequencer, signing
from govshare.core.audit import service as audit_service
from govshare.core.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEntry
from govshare.core.db import make_engine, make_sessionmaker
from govshare.core.permissions import Actor
from tests.conftest import BACKENDS, POSTGRES_URL, _fresh_postgres

CONSOLE = Actor.command_line("test")
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def _url(backend: str, name: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / (name + '.db')}"
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + POSTGRES_URL.rsplit("/", 1)[1] + "_" + name
    _fresh_postgres(url)
    return url


@pytest.fixture(scope="module", params=BACKENDS)
def log_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A database of its own whose transactions really commit (other connections see them)."""
    engine = make_engine(_url(request.param, "seq", tmp_path_factory.mktemp("seq")))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine_(log_db: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The log database, empty, with writers in sequencer mode."""
    monkeypatch.setattr(audit_service, "sequencing", "sequencer")
    yield log_db
    with log_db.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry"))
        conn.execute(text("DELETE FROM audit_checkpoint"))
        conn.execute(text("DELETE FROM audit_anchor"))
        conn.execute(
            text("UPDATE audit_head SET last_seq = 0, last_hash = :g"), {"g": GENESIS_HASH}
        )


def postgres_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no two transactions are open together")


def note(db: Session, i: int) -> AuditEntry:
    entry = audit_service.record(
        db, actor=CONSOLE, action="test.step", object_type="thing", object_id=i
    )
    db.flush()
    return entry


def commit_one(engine: Engine, i: int) -> int:
    with Session(engine) as db:
        entry = note(db, i)
        db.commit()
        return entry.id


def sequence(engine: Engine, key: Ed25519PrivateKey | None = None) -> int:
    with Session(engine) as db:
        return sequencer.sequence_all(db, key=key)


def positions(engine: Engine) -> dict[str, int | None]:
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.object_id, AuditEntry.seq))
        return {oid: seq for oid, seq in rows}


def verify(
    engine: Engine, *points: signing.Checkpoint, key: bool = False
) -> audit_service.Verification:
    with Session(engine) as db:
        public = KEY.public_key() if key else None
        return audit_service.verify(db, tuple(points), public_key=public)


# --- writers ----------------------------------------------------------------------------


def test_a_writer_inserts_its_entry_unsequenced_and_sees_it(engine_: Engine) -> None:
    with Session(engine_) as db:
        entry = audit_service.record(db, actor=CONSOLE, action="test.step", object_type="thing")
        assert db.execute(select(AuditEntry.action)).scalars().all() == ["test.step"]
        assert entry.id is not None and entry.seq is None and entry.hash is None
        assert entry.leaf_hash == hashing.content_leaf(entry)
        db.commit()


def test_a_writer_commits_while_the_head_is_locked(engine_: Engine) -> None:
    """No writer touches the head: one holding it does not stop them."""
    postgres_only(engine_)
    with engine_.connect() as holder:
        holder.execute(text("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE"))
        with Session(engine_) as db:
            db.execute(text("SET LOCAL lock_timeout = '2s'"))
            note(db, 1)
            db.commit()  # would time out if it waited for the head
        holder.rollback()
    assert positions(engine_) == {"1": None}


# --- the sequencer ----------------------------------------------------------------------


def test_entries_are_sequenced_in_commit_order_not_id_order(engine_: Engine) -> None:
    postgres_only(engine_)
    with Session(engine_) as slow:
        early = note(slow, 1)  # the lower id, committed last
        late_id = commit_one(engine_, 2)
        assert early.id < late_id
        assert sequence(engine_) == 1
        slow.commit()
    assert sequence(engine_) == 1
    assert positions(engine_) == {"2": 1, "1": 2}
    assert verify(engine_).ok


def test_a_rolled_back_transaction_leaves_no_gap(engine_: Engine) -> None:
    with Session(engine_) as db:
        note(db, 1)
        db.rollback()
    commit_one(engine_, 2)
    commit_one(engine_, 3)
    assert sequence(engine_) == 2
    assert positions(engine_) == {"2": 1, "3": 2}
    result = verify(engine_)
    assert result.ok and result.checked == 2


def test_the_sequencer_chains_what_inline_commits_chained_before(
    engine_: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_service, "sequencing", "inline")
    commit_one(engine_, 1)
    monkeypatch.setattr(audit_service, "sequencing", "sequencer")
    commit_one(engine_, 2)
    sequence(engine_)
    assert positions(engine_) == {"1": 1, "2": 2}
    assert verify(engine_).ok


def test_an_entry_changed_before_it_is_sequenced_is_named(engine_: Engine) -> None:
    commit_one(engine_, 1)
    entry_id = commit_one(engine_, 2)
    with engine_.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET action = 'x' WHERE id = :i"), {"i": entry_id})
    sequence(engine_)
    result = verify(engine_)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 2, "内容被修改")


def test_an_entry_left_unsequenced_too_long_fails_verification(engine_: Engine) -> None:
    commit_one(engine_, 1)
    sequence(engine_)
    with clock.frozen(clock.now() - timedelta(minutes=1)):
        stale_id = commit_one(engine_, 2)
    commit_one(engine_, 3)  # fresh: not yet due
    result = verify(engine_)
    assert (result.ok, result.unsequenced_id) == (False, stale_id)
    assert f"编号 {stale_id} 的记录已 60 秒未排入审计链" in result.describe()
    sequence(engine_)
    assert verify(engine_).ok


def test_two_sequencers_are_never_both_active(engine_: Engine) -> None:
    postgres_only(engine_)
    first, second = sequencer.Lease(engine_), sequencer.Lease(engine_)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        assert not second.held
        first.release()
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()


def wait_for(condition: object, seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < end, "not reached in time"
        time.sleep(0.05)


def test_a_standby_sequencer_takes_over_when_the_active_one_stops(engine_: Engine) -> None:
    postgres_only(engine_)
    sessions = make_sessionmaker(engine_)
    active = sequencer.SequencerLoop(engine_, sessions, key=KEY, interval=0.05)
    standby = sequencer.SequencerLoop(engine_, sessions, key=KEY, interval=0.05)
    active.start()
    try:
        wait_for(lambda: active.lease.held)
        standby.start()
        commit_one(engine_, 1)
        wait_for(lambda: positions(engine_)["1"] == 1)
        assert not standby.lease.held and standby.batches == 0
        active.stop()
        commit_one(engine_, 2)
        wait_for(lambda: positions(engine_)["2"] == 2)
        assert standby.lease.held and standby.batches > 0
    finally:
        active.stop()
        standby.stop()
    assert verify(engine_, key=True).ok


# --- signed checkpoints -----------------------------------------------------------------


def test_a_checkpoint_signature_verifies_with_the_public_key_alone() -> None:
    point = signing.sign(KEY, 42, "ab" * 32, clock.now())
    pem = signing.public_pem(KEY.public_key()).encode()
    public = signing.load_public_key(pem)
    parsed = signing.Checkpoint.parse(point.line(), where="x")
    assert parsed == point and parsed.signature_valid(public)
    changed = point.line().replace("ab" * 32, "cd" * 32)
    assert not signing.Checkpoint.parse(changed, where="x").signature_valid(public)
    other = Ed25519PrivateKey.generate().public_key()
    assert not parsed.signature_valid(other)


def test_unsigned_checkpoint_lines_are_still_read() -> None:
    point = signing.Checkpoint.parse(f"7 {'A' * 64}", where="x")
    assert (point.seq, point.hash, point.signed) == (7, "a" * 64, False)


def test_the_sequencer_publishes_signed_checkpoints_the_chain_holds(engine_: Engine) -> None:
    commit_one(engine_, 1)
    commit_one(engine_, 2)
    sequence(engine_, KEY)
    with Session(engine_) as db:
        stored = db.execute(select(AuditCheckpoint)).scalar_one()
        head = audit_service.checkpoint(db)
    assert (stored.seq, stored.hash) == (head.seq, head.hash) == (2, head.hash)
    point = signing.Checkpoint(
        stored.seq,
        stored.hash,
        hashing.timestamp(stored.signed_at),
        stored.key_id,
        stored.signature,
    )
    assert point.signature_valid(KEY.public_key())
    assert verify(engine_, point, key=True).ok


def test_a_forged_signed_checkpoint_is_named(engine_: Engine) -> None:
    commit_one(engine_, 1)
    sequence(engine_, KEY)
    forged = signing.sign(Ed25519PrivateKey.generate(), 1, "ab" * 32, clock.now())
    result = verify(engine_, forged, key=True)
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert result.problem is not None and "签名无效" in result.problem


def test_a_rewritten_chain_disagrees_with_its_published_checkpoint(engine_: Engine) -> None:
    commit_one(engine_, 1)
    commit_one(engine_, 2)
    sequence(engine_, KEY)
    with Session(engine_) as db:  # rewrite entry 2 and recompute its hash and the head
        entry = db.execute(select(AuditEntry).where(AuditEntry.seq == 2)).scalar_one()
        entry.action = "x"
        new_hash = hashing.entry_hash(entry)
        db.rollback()
    with engine_.begin() as conn:
        conn.execute(
            text("UPDATE audit_entry SET action='x', hash=:h WHERE seq=2"), {"h": new_hash}
        )
        conn.execute(text("UPDATE audit_head SET last_hash=:h"), {"h": new_hash})
    result = verify(engine_)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert result.problem is not None and "检查点" in result.problem


# --- migration of the chain written before 0025 -----------------------------------------


def _legacy_rows(n: int) -> list[dict[str, object]]:
    rows, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        row = SimpleNamespace(
            seq=seq,
            occurred_at=clock.now(),
            actor_label="console:old",
            actor_user_id=None,
            actor_organization_id=7,
            actor_token_id=None,
            source_ip="10.0.0.1",
            action="test.old",
            object_type="thing",
            object_id=str(seq),
            details='{"中文":"是"}',
            algorithm="sha256",
            prev_hash=prev,
        )
        row.hash = prev = hashing.legacy_hash(row)
        rows.append(vars(row))
    return rows


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_keeps_the_chain_written_before_verifiable(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_service, "sequencing", "inline")
    engine = make_engine(_url(backend, "mig", tmp_path))
    try:
        migrate.upgrade(engine, "0024")
        rows = _legacy_rows(3)
        with engine.begin() as conn:
            columns = ", ".join(rows[0])
            marks = ", ".join(f":{c}" for c in rows[0])
            conn.execute(text(f"INSERT INTO audit_entry ({columns}) VALUES ({marks})"), rows)
            conn.execute(
                text("UPDATE audit_head SET last_seq = 3, last_hash = :h"), {"h": rows[-1]["hash"]}
            )
        migrate.upgrade(engine)
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT id, seq, hash FROM audit_entry ORDER BY seq")).all()
        assert [tuple(r) for r in kept] == [(r["seq"], r["seq"], r["hash"]) for r in rows]
        assert verify(engine).checked == 3
        commit_one(engine, 4)  # new entries continue the old chain
        monkeypatch.setattr(audit_service, "sequencing", "sequencer")
        commit_one(engine, 5)
        sequence(engine)
        assert positions(engine) == {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5}
        result = verify(engine, signing.Checkpoint(3, str(rows[-1]["hash"])))
        assert result.ok and result.checked == 5
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_entry SET action = 'x' WHERE seq = 2"))
        assert verify(engine).first_bad_seq == 2
    finally:
        engine.dispose()


def test_the_signing_key_is_the_setting_or_derived_from_the_secret_key(tmp_path: Path) -> None:
    from govshare.core.settings import load_settings

    def public(**env: str) -> str:
        base = {"GOVSHARE_DATA_DIR": str(tmp_path), "GOVSHARE_SECRET_KEY": "k" * 40}
        return signing.public_pem(signing.key_of(load_settings(environ=base | env)).public_key())

    assert public() == public()  # the same on every process sharing the secret key
    assert public() != public(GOVSHARE_SECRET_KEY="j" * 40)
    given = public(GOVSHARE_AUDIT_SIGNING_KEY="00" * 32)
    assert given == signing.public_pem(signing.private_key(bytes(32)).public_key())


# --- the Core append of hot paths --------------------------------------------------------


def _fields(i: int) -> dict[str, object]:
    return audit_service.entry_fields(
        actor=CONSOLE, action="test.step", object_type="thing", object_id=i, details={"n": i}
    )


def test_append_writes_what_record_writes_in_one_statement(engine_: Engine) -> None:
    with Session(engine_) as db, clock.frozen(clock.now()):
        recorded = audit_service.record(
            db,
            actor=CONSOLE,
            action="test.step",
            object_type="thing",
            object_id=1,
            details={"n": 1},
        )
        db.flush()
        recorded_leaf = recorded.leaf_hash
        statements: list[str] = []
        conn = db.connection()

        def seen(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(conn, "before_cursor_execute", seen)
        audit_service.append(db, [_fields(1), _fields(2)])
        event.remove(conn, "before_cursor_execute", seen)
        db.commit()
    assert len([s for s in statements if s.startswith("INSERT INTO audit_entry")]) == 1
    with engine_.connect() as conn:
        rows = conn.execute(select(AuditEntry).order_by(AuditEntry.id)).all()
    _, appended, _ = rows
    assert appended.leaf_hash == recorded_leaf == hashing.content_leaf(appended)
    assert (appended.seq, appended.details) == (None, '{"n":1}')
    assert sequence(engine_) == 3
    assert verify(engine_).ok


def test_an_appended_entry_changed_before_it_is_sequenced_is_named(engine_: Engine) -> None:
    with Session(engine_) as db:
        audit_service.append(db, [_fields(1), _fields(2)])
        db.commit()
    with engine_.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET details = '{}' WHERE object_id = '2'"))
    sequence(engine_)
    result = verify(engine_)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 2, "内容被修改")


def test_inline_append_is_chained_at_commit(
    engine_: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_service, "sequencing", "inline")
    with Session(engine_) as db:
        audit_service.append(db, [_fields(1), _fields(2)])
        db.commit()
    assert positions(engine_) == {"1": 1, "2": 2}
    assert verify(engine_).ok
