"""The audit log: the hash chain, tamper detection, SM3, search, export and pruning."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import sequencer
from govshare.core.audit import service as audit_service
from govshare.core.audit.models import GENESIS_HASH, AuditAnchor, AuditEntry, AuditHead
from govshare.core.errors import Forbidden, Invalid
from govshare.core.permissions import Actor, Role
from tests.builders import count

CONSOLE = Actor.command_line("test")
AUDITOR = Actor(label="auditor", roles=frozenset({Role.AUDITOR}), user_id=900, organization_id=9)
ALICE = Actor(label="alice", roles=frozenset({Role.DATA_OFFICER}), user_id=101, organization_id=7)
BOB = Actor(label="bob", roles=frozenset({Role.DEPARTMENT_STAFF}), user_id=102, organization_id=8)
# An entry's content and chain position; `id` is the row's insert-time identity, which a
# forger inserting a row of his own does not copy.
COLUMNS = [c.name for c in AuditEntry.__table__.columns if c.name != "id"]


@pytest.fixture(params=["inline", "sequencer"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each tampering test runs on a chain made inline and on one made by the sequencer."""
    monkeypatch.setattr(audit_service, "sequencing", request.param)
    return str(request.param)


def chain(db: Session, n: int = 5, actor: Actor = CONSOLE) -> list[AuditEntry]:
    """`n` fresh entries, chained as a commit (inline) or the sequencer would chain them;
    returns them in order."""
    entries = [
        audit_service.record(
            db, actor=actor, action="test.step", object_type="thing", object_id=i, details={"i": i}
        )
        for i in range(n)
    ]
    if audit_service.sequencing == "sequencer":
        db.flush()
        assert all(e.seq is None and e.leaf_hash for e in entries)
        sequencer.sequence_batch(db)
        for entry in entries:
            db.refresh(entry)
    else:
        audit_service.chain_pending(db)
    return entries


def tamper(db: Session, sql: str, **params: Any) -> None:
    """Change the table behind the ORM's back, as someone with database access would.
    Loaded objects are detached, so they keep what they held and verify reads afresh."""
    db.execute(text(sql), params)
    db.expunge_all()


def hash_with(entry: AuditEntry, **changes: Any) -> str:
    """The hash `entry` would carry with `changes` applied (computed on a detached copy)."""
    copy = AuditEntry(**{c: getattr(entry, c) for c in COLUMNS} | changes)
    return audit_service.entry_hash(copy)


def search(db: Session, **criteria: Any) -> list[AuditEntry]:
    filt = audit_service.AuditFilter(**criteria)
    with clock.frozen("2026-12-01"):  # the search's own entry falls outside every range used
        return audit_service.search(db, actor=AUDITOR, criteria=filt, per_page=500).entries


# --- the chain --------------------------------------------------------------------------


@pytest.mark.usefixtures("mode")
def test_record_links_each_entry_to_its_predecessor(db: Session) -> None:
    start = db.get(AuditHead, audit_service.HEAD_ID)
    assert start is not None
    first_seq, first_prev = start.last_seq + 1, start.last_hash
    entries = chain(db, 4)
    assert [e.seq for e in entries] == list(range(first_seq, first_seq + 4))
    assert entries[0].prev_hash == first_prev
    for previous, entry in itertools.pairwise(entries):
        assert entry.prev_hash == previous.hash
    for entry in entries:
        assert entry.hash == audit_service.entry_hash(entry)
    head = db.get(AuditHead, audit_service.HEAD_ID)
    assert head is not None and (head.last_seq, head.last_hash) == (
        entries[-1].seq,
        entries[-1].hash,
    )


def record_one(db: Session, i: int = 0) -> AuditEntry:
    return audit_service.record(
        db, actor=CONSOLE, action="test.step", object_type="thing", object_id=i
    )


def test_entries_are_chained_when_the_transaction_commits(db: Session) -> None:
    first, second = record_one(db, 1), record_one(db, 2)
    assert first.seq is None and second.seq is None
    db.commit()
    assert (first.seq, second.seq) == (1, 2) and second.prev_hash == first.hash
    assert audit_service.verify(db).ok


def test_a_rolled_back_transaction_leaves_no_entry(db: Session) -> None:
    record_one(db, 1)
    db.rollback()
    record_one(db, 2)
    db.commit()
    (only,) = db.execute(select(AuditEntry)).scalars()
    assert (only.seq, only.object_id) == (1, "2")


def test_a_transaction_reading_the_log_sees_its_own_entries(db: Session) -> None:
    entry = record_one(db, 7)
    assert db.execute(select(AuditEntry.object_id)).scalars().all() == ["7"]
    assert entry.seq == 1


def test_reads_through_joins_and_aliases_see_the_pending_entries(db: Session) -> None:
    record_one(db, 3)
    head = AuditHead.__table__
    entry = AuditEntry.__table__.alias("e")
    joined = select(entry.c.object_id).select_from(entry.join(head, head.c.last_seq == entry.c.seq))
    assert db.execute(joined).scalars().all() == ["3"]
    other = record_one(db, 4)
    assert other.seq is None  # nothing read the log since
    assert db.execute(select(func.count()).select_from(entry)).scalar_one() == 2


def test_a_rolled_back_savepoint_takes_its_entries_with_it(db: Session) -> None:
    record_one(db, 1)
    with db.begin_nested() as inner:
        record_one(db, 2)
        inner.rollback()
    db.commit()
    assert db.execute(select(AuditEntry.object_id)).scalars().all() == ["1"]
    assert audit_service.verify(db).ok


def test_an_open_transaction_does_not_hold_the_chain_head(engine: Engine) -> None:
    """Audited data calls run side by side: the head is locked only while committing."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time whatever the audit log does")
    grab = text("SELECT last_seq FROM audit_head WHERE id = 1 FOR UPDATE NOWAIT")
    with Session(engine) as first, engine.connect() as second:
        record_one(first)
        second.execute(grab)  # would fail if recording had locked the head
        second.rollback()
        audit_service.chain_pending(first)  # what the commit does
        with pytest.raises(OperationalError, match="lock"):
            second.execute(grab)
        second.rollback()
        first.rollback()


@pytest.mark.usefixtures("mode")
def test_chain_of_a_fresh_database_starts_at_genesis(db: Session) -> None:
    first = chain(db, 1)[0]
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)


@pytest.mark.usefixtures("mode")
def test_untouched_chain_verifies(db: Session) -> None:
    chain(db, 5)
    db.commit()
    result = audit_service.verify(db)
    assert result.ok and result.checked == 5
    assert result.describe() == "审计链完整：已校验 5 条记录"


def test_empty_chain_verifies(db: Session) -> None:
    assert audit_service.verify(db).ok


@pytest.mark.parametrize(
    ("column", "value"),
    [("action", "x"), ("actor_label", "someone"), ("details", "{}"), ("object_id", "999")],
)
@pytest.mark.usefixtures("mode")
def test_changed_entry_is_named(db: Session, column: str, value: str) -> None:
    entries = chain(db, 5)
    tamper(db, f"UPDATE audit_entry SET {column} = :v WHERE seq = :s", v=value, s=entries[2].seq)
    result = audit_service.verify(db)
    assert not result.ok
    assert (result.first_bad_seq, result.problem) == (entries[2].seq, "内容被修改")


@pytest.mark.usefixtures("mode")
def test_deleted_middle_entry_is_named(db: Session) -> None:
    entries = chain(db, 5)
    tamper(db, "DELETE FROM audit_entry WHERE seq = :s", s=entries[2].seq)
    result = audit_service.verify(db)
    assert not result.ok
    assert (result.first_bad_seq, result.problem) == (entries[2].seq, "缺失（被删除）")


@pytest.mark.usefixtures("mode")
def test_deleted_first_entry_is_named(db: Session) -> None:
    entries = chain(db, 3)
    tamper(db, "DELETE FROM audit_entry WHERE seq = :s", s=entries[0].seq)
    assert audit_service.verify(db).first_bad_seq == entries[0].seq


@pytest.mark.usefixtures("mode")
def test_deleted_last_entry_is_named(db: Session) -> None:
    entries = chain(db, 5)
    tamper(db, "DELETE FROM audit_entry WHERE seq = :s", s=entries[-1].seq)
    result = audit_service.verify(db)
    assert not result.ok
    assert (result.first_bad_seq, result.problem) == (entries[-1].seq, "缺失（被删除）")


@pytest.mark.usefixtures("mode")
def test_forged_entry_after_the_head_is_named(db: Session) -> None:
    entries = chain(db, 3)
    last = entries[-1]
    forged = {c: getattr(last, c) for c in COLUMNS} | {
        "seq": last.seq + 1,
        "action": "identity.user.create",
        "prev_hash": last.hash,
    }
    forged["hash"] = hash_with(last, **forged)
    db.execute(AuditEntry.__table__.insert().values(**forged))
    db.expunge_all()
    result = audit_service.verify(db)
    assert not result.ok
    assert (result.first_bad_seq, result.problem) == (last.seq + 1, "不在链中（被插入）")


@pytest.mark.usefixtures("mode")
def test_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link(db: Session) -> None:
    entries = chain(db, 5)
    target = entries[2]
    new_hash = hash_with(target, action="x")
    tamper(
        db,
        "UPDATE audit_entry SET action = 'x', hash = :h WHERE seq = :s",
        h=new_hash,
        s=target.seq,
    )
    result = audit_service.verify(db)
    assert not result.ok
    assert result.first_bad_seq == entries[3].seq
    assert result.problem is not None and "不衔接" in result.problem


@pytest.mark.usefixtures("mode")
def test_rewritten_last_entry_with_a_recomputed_hash_disagrees_with_the_head(db: Session) -> None:
    entries = chain(db, 3)
    target = entries[-1]
    tamper(
        db,
        "UPDATE audit_entry SET action = 'x', hash = :h WHERE seq = :s",
        h=hash_with(target, action="x"),
        s=target.seq,
    )
    result = audit_service.verify(db)
    assert not result.ok
    assert result.first_bad_seq == target.seq
    assert result.problem is not None and "链头" in result.problem


# --- SM3 --------------------------------------------------------------------------------


@pytest.mark.usefixtures("mode")
def test_sm3_entries_verify(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_service, "default_algorithm", "sm3")
    entries = chain(db, 3)
    assert {e.algorithm for e in entries} == {"sm3"}
    for entry in entries:
        assert entry.hash == audit_service.entry_hash(entry)
        assert entry.hash != hash_with(entry, algorithm="sha256")
    assert audit_service.verify(db).ok


def test_sm3_digest_matches_the_standard_test_vector() -> None:
    # GB/T 32905-2016, appendix A.1: SM3("abc").
    expected = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert audit_service.digest("sm3", b"abc") == expected


@pytest.mark.usefixtures("mode")
def test_chain_mixing_sha256_and_sm3_verifies(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    older = chain(db, 2)
    monkeypatch.setattr(audit_service, "default_algorithm", "sm3")
    newer = chain(db, 2)
    assert [e.algorithm for e in older + newer] == ["sha256", "sha256", "sm3", "sm3"]
    assert newer[0].prev_hash == older[-1].hash
    result = audit_service.verify(db)
    assert result.ok and result.checked == 4


@pytest.mark.usefixtures("mode")
def test_tampered_sm3_entry_is_named(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_service, "default_algorithm", "sm3")
    entries = chain(db, 3)
    tamper(db, "UPDATE audit_entry SET action = 'x' WHERE seq = :s", s=entries[1].seq)
    assert audit_service.verify(db).first_bad_seq == entries[1].seq


# --- search -----------------------------------------------------------------------------


def note(db: Session, actor: Actor, action: str, object_type: str = "user", oid: int = 1) -> int:
    entry = audit_service.record(
        db, actor=actor, action=action, object_type=object_type, object_id=oid
    )
    audit_service.chain_pending(db)
    return entry.seq


def test_search_by_actor_label(db: Session) -> None:
    mine = {note(db, ALICE, "identity.user.create"), note(db, ALICE, "calendar.import_year")}
    note(db, BOB, "identity.user.create")
    assert {e.seq for e in search(db, actor="alice")} == mine


def test_search_by_actor_user_and_organization(db: Session) -> None:
    alices = note(db, ALICE, "identity.user.create")
    note(db, BOB, "identity.user.create")
    assert [e.seq for e in search(db, user_id=101)] == [alices]
    assert [e.seq for e in search(db, organization_id=7)] == [alices]


def test_search_by_object(db: Session) -> None:
    wanted = note(db, ALICE, "identity.user.update", "user", 5)
    note(db, ALICE, "identity.user.update", "user", 6)
    note(db, ALICE, "identity.organization.update", "organization", 5)
    assert [e.seq for e in search(db, object_type="user", object_id="5")] == [wanted]
    assert len(search(db, object_type="user")) == 2


def test_search_by_exact_action(db: Session) -> None:
    wanted = note(db, ALICE, "identity.user.create")
    note(db, ALICE, "identity.user.create_more")
    assert [e.seq for e in search(db, action="identity.user.create")] == [wanted]


def test_search_by_action_prefix(db: Session) -> None:
    wanted = {note(db, ALICE, "identity.user.create"), note(db, BOB, "identity.sign_in")}
    note(db, ALICE, "identityx.other")
    note(db, ALICE, "calendar.import_year")
    assert {e.seq for e in search(db, action="identity.")} == wanted


def test_action_prefix_treats_underscore_literally(db: Session) -> None:
    note(db, ALICE, "identity.signxin.failed")
    wanted = note(db, ALICE, "identity.sign_in.failed")
    assert [e.seq for e in search(db, action="identity.sign_in.")] == [wanted]


def test_date_range_is_counted_in_city_days(db: Session) -> None:
    def at(moment: str) -> int:
        with clock.frozen(moment):
            return note(db, ALICE, "test.step")

    at("2026-03-01T23:59:00+08:00")
    inside = {at("2026-03-02T00:00:00+08:00"), at("2026-03-02T23:59:59+08:00")}
    at("2026-03-03T00:00:00+08:00")
    found = search(db, since=date(2026, 3, 2), until=date(2026, 3, 2), action="test.step")
    assert {e.seq for e in found} == inside


def test_reversed_date_range_is_refused(db: Session) -> None:
    with pytest.raises(Invalid) as caught:
        search(db, since=date(2026, 3, 3), until=date(2026, 3, 2))
    assert caught.value.field == "since"


def test_search_itself_is_audited(db: Session) -> None:
    note(db, ALICE, "identity.user.create")
    before = count(db, AuditEntry)
    search(db, action="identity.")
    assert count(db, AuditEntry) == before + 1
    last = db.execute(select(AuditEntry).order_by(AuditEntry.seq.desc())).scalars().first()
    assert last is not None
    assert (last.action, last.actor_label) == ("audit.query", "auditor")
    assert json.loads(last.details) == {"action": "identity.", "page": 1}
    db.commit()


def test_search_results_are_paged_newest_first(db: Session) -> None:
    seqs = [note(db, ALICE, "test.step") for _ in range(5)]
    page = audit_service.search(
        db,
        actor=AUDITOR,
        criteria=audit_service.AuditFilter(action="test.step"),
        page=2,
        per_page=2,
    )
    assert page.total == 5
    assert [e.seq for e in page.entries] == [seqs[2], seqs[1]]


@pytest.mark.parametrize("role", [Role.DEPARTMENT_STAFF, Role.DATA_OFFICER, Role.SYSTEM])
def test_search_by_a_non_reader_is_forbidden(db: Session, role: Role) -> None:
    outsider = Actor(label="x", roles=frozenset({role}), organization_id=7)
    before = count(db, AuditEntry)
    with pytest.raises(Forbidden):
        audit_service.search(db, actor=outsider, criteria=audit_service.AuditFilter())
    assert count(db, AuditEntry) == before


# --- export -----------------------------------------------------------------------------


def export(db: Session, fmt: str, **criteria: Any) -> str:
    filt = audit_service.AuditFilter(**criteria)
    return "".join(audit_service.iter_export(db, criteria=filt, fmt=fmt))


def test_start_export_records_the_export(db: Session) -> None:
    entry = audit_service.start_export(
        db, actor=AUDITOR, criteria=audit_service.AuditFilter(actor="alice"), fmt="csv"
    )
    assert entry.action == "audit.export"
    assert json.loads(entry.details) == {"actor": "alice", "format": "csv"}


def test_export_in_an_unknown_format_is_refused(db: Session) -> None:
    with pytest.raises(Invalid) as caught:
        audit_service.start_export(
            db, actor=AUDITOR, criteria=audit_service.AuditFilter(), fmt="xlsx"
        )
    assert caught.value.field == "format"


def test_export_by_a_non_reader_is_forbidden(db: Session) -> None:
    with pytest.raises(Forbidden):
        audit_service.start_export(db, actor=BOB, criteria=audit_service.AuditFilter(), fmt="csv")


def test_csv_export_round_trips(db: Session) -> None:
    entries = chain(db, 3, actor=ALICE) + chain(db, 1, actor=BOB)
    body = export(db, "csv", actor="alice")
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert [int(r["seq"]) for r in rows] == [e.seq for e in entries[:3]]
    for row, entry in zip(rows, entries, strict=False):
        assert (row["hash"], row["prev_hash"], row["details"]) == (
            entry.hash,
            entry.prev_hash,
            entry.details,
        )
        assert row["actor_label"] == "alice" and row["actor_user_id"] == "101"
        assert row["source_ip"] == ""


def test_jsonl_export_carries_enough_to_recompute_every_hash(db: Session) -> None:
    entries = chain(db, 3, actor=ALICE)
    lines = export(db, "jsonl").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["seq"] for r in rows] == [e.seq for e in entries]
    for row in rows:
        row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
        assert audit_service.entry_hash(AuditEntry(**row)) == row["hash"]


# --- pruning ----------------------------------------------------------------------------


def notes_at(db: Session, moment: str, n: int = 1) -> list[AuditEntry]:
    with clock.frozen(moment):
        return chain(db, n)


def prune(db: Session, retention_months: int = 6, before: date | None = None) -> Any:
    with clock.frozen("2026-11-20"):  # cutoff with 6 months: 2026-05-20
        return audit_service.prune(
            db, actor=CONSOLE, retention_months=retention_months, before=before
        )


def test_prune_before_a_date_inside_the_retention_is_refused(db: Session) -> None:
    notes_at(db, "2025-01-01", 2)
    with pytest.raises(Invalid) as caught:
        prune(db, before=date(2026, 5, 21))
    assert caught.value.field == "before"
    assert "2026-05-20" in caught.value.message
    assert count(db, AuditEntry) == 2


def test_prune_removes_only_entries_older_than_the_cutoff(db: Session) -> None:
    old = notes_at(db, "2025-01-01", 3)
    last_old = notes_at(db, "2026-05-19T23:59:59+08:00")[0]
    kept = notes_at(db, "2026-05-20T00:00:00+08:00") + notes_at(db, "2026-10-01", 2)
    result = prune(db)
    assert (result.removed, result.cutoff_on, result.anchor_seq) == (
        len(old) + 1,
        date(2026, 5, 20),
        last_old.seq,
    )
    remaining = db.execute(select(AuditEntry.seq).order_by(AuditEntry.seq)).scalars().all()
    assert remaining[: len(kept)] == [e.seq for e in kept]
    assert db.execute(
        select(AuditEntry.action).where(AuditEntry.seq == remaining[-1])
    ).scalar() == ("audit.prune")
    db.commit()


def test_prune_leaves_an_anchor_with_the_last_removed_hash(db: Session) -> None:
    old = notes_at(db, "2025-01-01", 3)
    notes_at(db, "2026-10-01")
    prune(db)
    anchor = db.execute(select(AuditAnchor)).scalar_one()
    assert (anchor.seq, anchor.hash, anchor.removed) == (old[-1].seq, old[-1].hash, 3)


def test_retention_shorter_than_the_legal_minimum_keeps_six_months(db: Session) -> None:
    notes_at(db, "2026-05-01")
    kept = notes_at(db, "2026-06-01")
    result = prune(db, retention_months=1)
    assert result.cutoff_on == date(2026, 5, 20) and result.removed == 1
    assert db.execute(select(AuditEntry).where(AuditEntry.seq == kept[0].seq)).first()


def test_chain_verifies_after_prune(db: Session) -> None:
    notes_at(db, "2025-01-01", 3)
    notes_at(db, "2026-10-01", 2)
    prune(db)
    db.commit()
    result = audit_service.verify(db)
    assert result.ok and result.checked == 3  # two kept entries and the prune's own


@pytest.mark.usefixtures("mode")
def test_tampering_after_prune_is_still_detected(db: Session) -> None:
    notes_at(db, "2025-01-01", 3)
    kept = notes_at(db, "2026-10-01", 2)
    prune(db)
    tamper(db, "UPDATE audit_entry SET action = 'x' WHERE seq = :s", s=kept[0].seq)
    assert audit_service.verify(db).first_bad_seq == kept[0].seq


@pytest.mark.usefixtures("mode")
def test_deleting_the_entry_after_the_anchor_is_detected(db: Session) -> None:
    notes_at(db, "2025-01-01", 3)
    kept = notes_at(db, "2026-10-01", 2)
    prune(db)
    tamper(db, "DELETE FROM audit_entry WHERE seq = :s", s=kept[0].seq)
    result = audit_service.verify(db)
    assert (result.ok, result.first_bad_seq) == (False, kept[0].seq)


@pytest.mark.usefixtures("mode")
def test_restoring_a_pruned_entry_is_detected(db: Session) -> None:
    old = notes_at(db, "2025-01-01", 3)
    notes_at(db, "2026-10-01")
    saved = {c: getattr(old[0], c) for c in COLUMNS}
    prune(db)
    db.execute(AuditEntry.__table__.insert().values(**saved))
    db.expunge_all()
    result = audit_service.verify(db)
    assert (result.ok, result.first_bad_seq) == (False, old[0].seq)


@pytest.mark.usefixtures("mode")
def test_prune_of_a_broken_chain_is_refused(db: Session) -> None:
    old = notes_at(db, "2025-01-01", 3)
    notes_at(db, "2026-10-01")
    tamper(db, "UPDATE audit_entry SET action = 'x' WHERE seq = :s", s=old[1].seq)
    with pytest.raises(Invalid) as caught:
        prune(db)
    assert caught.value.field == "audit_log"
    assert f"第 {old[1].seq} 条" in caught.value.message
    assert count(db, AuditEntry) == 4 and count(db, AuditAnchor) == 0


def test_prune_by_a_non_operator_is_forbidden(db: Session) -> None:
    notes_at(db, "2025-01-01")
    with clock.frozen("2026-11-20"), pytest.raises(Forbidden):
        audit_service.prune(db, actor=AUDITOR, retention_months=6)
    assert count(db, AuditEntry) == 1


def test_prune_with_nothing_old_enough_removes_nothing(db: Session) -> None:
    notes_at(db, "2026-10-01", 2)
    result = prune(db)
    assert (result.removed, result.anchor_seq) == (0, None)
    assert count(db, AuditEntry) == 3 and count(db, AuditAnchor) == 0


@pytest.mark.usefixtures("mode")
def test_content_the_database_and_the_writer_hash_alike(db: Session) -> None:
    """The walk hashes what the database builds from the row; the writer hashed what Python
    built: unusual content must give the same leaf both ways."""
    odd = Actor(label="张三,:-😀", roles=frozenset({Role.AUDITOR}), user_id=0, token_id=12)
    entries = [
        audit_service.record(
            db,
            actor=odd,
            action="test.step",
            object_type="thing",
            object_id="a:b,c",
            details={"名称": '逗号,冒号:换行\n引号"反斜杠\\', "n": None, "e": ""},
        ),
        audit_service.record(db, actor=CONSOLE, action="test.step", object_type="thing"),
    ]
    if audit_service.sequencing == "sequencer":
        db.flush()
        sequencer.sequence_batch(db)
    else:
        audit_service.chain_pending(db)
    result = audit_service.verify(db)
    assert result.ok and result.checked == len(entries)
