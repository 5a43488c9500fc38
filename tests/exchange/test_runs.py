"""Bindings and runs: a bound table resource is synchronised into the center (full, then
incremental, deletes by key comparison), each run recording its counts, rejects, checksum
and watermark; runs are queued once per slot and claimed once; a push delivers the grant's
share into the consumer's front-end database (the real MariaDB) and stops with the grant."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pymysql
import pytest
from sqlalchemy import make_url, select, text
from sqlalchemy.orm import Session, sessionmaker

from govshare.catalog.schemas import RetirementIn, ReviewIn
from govshare.catalog.service import retirements
from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid
from govshare.exchange import runlock
from govshare.exchange.center import Center
from govshare.exchange.masking import Mask, mask_value, row_key_value
from govshare.exchange.models import (
    BindingState,
    ConnectionRole,
    DatabaseKind,
    RunKind,
    RunState,
    SyncRun,
)
from govshare.exchange.schemas import BindingIn, ColumnMapIn, ConnectionIn, PushIn
from govshare.exchange.service import (
    bindings,
    connections,
    delivery,
    pushes,
    run_execution,
    run_views,
    runs,
)
from govshare.exchange.service.delivery import masking_key
from govshare.sharing.models import Grant, MaskRule
from govshare.sharing.schemas import GrantActionIn
from govshare.sharing.service import grants
from tests.catalog.builders import RULES
from tests.exchange.builders import MYSQL_URL, PEOPLE_COLUMNS, Exchange, exchange_world, people_rows
from tests.sharing.builders import approved

JOB = runs.Actor(label="job:test", roles=frozenset({runs.Role.SYSTEM}))


@pytest.fixture
def sessions(db: Session) -> sessionmaker[Session]:
    """Sessions the way a worker has them: each unit of work a savepoint of the test's."""
    return sessionmaker(
        bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def _run(
    x: Exchange, db: Session, sessions: sessionmaker[Session], center: Center, kind: RunKind
) -> SyncRun:
    run = runs.request_run(db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=kind)
    db.commit()
    done = run_execution.execute_run(sessions, settings=x.settings, center=center, run_id=run.id)
    assert done is not None
    db.expire_all()
    return done


def _center_rows(center: Center, table: str) -> list[tuple[object, ...]]:
    name = f'"{center.schema}"."{table}"' if center.schema else f'"{table}"'
    with center.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(f"SELECT id_number, name, phone FROM {name} ORDER BY id_number")
            )
        ]


def _source(x: Exchange) -> sqlite3.Connection:
    return sqlite3.connect(x.source.database)


def test_full_then_incremental_then_deletes(
    db: Session, data_dir: Path, sessions: sessionmaker[Session], center: Center
) -> None:
    x = exchange_world(db, data_dir, rows=40)
    full = _run(x, db, sessions, center, RunKind.FULL)
    assert full.state is RunState.SUCCEEDED, full.error
    assert (full.rows_read, full.rows_written, full.rows_rejected) == (40, 40, 0)
    assert full.checksum and full.watermark_after
    expected = sorted((r[0], r[1], r[6]) for r in people_rows(40))
    assert _center_rows(center, x.binding.center_table) == expected

    with _source(x) as src:
        src.execute(
            "UPDATE people SET phone='13900000000', updated_at='2027-01-01 00:00:00' WHERE rowid=3"
        )
        src.executemany("INSERT INTO people VALUES (?,?,?,?,?,?,?,?)", people_rows(5, start=40))
        src.execute("DELETE FROM people WHERE rowid=7")
    incremental = _run(x, db, sessions, center, RunKind.INCREMENTAL)
    assert incremental.state is RunState.SUCCEEDED, incremental.error
    assert incremental.rows_written == 6  # one update, five inserts
    assert incremental.watermark_before == full.watermark_after
    assert len(_center_rows(center, x.binding.center_table)) == 45  # deletes wait for a comparison

    compare = _run(x, db, sessions, center, RunKind.COMPARE)
    assert compare.state is RunState.SUCCEEDED and compare.rows_deleted == 1
    with _source(x) as src:
        source_rows = sorted(
            tuple(r) for r in src.execute("SELECT id_number, name, phone FROM people")
        )
    assert _center_rows(center, x.binding.center_table) == source_rows
    updates = run_views.list_runs(db, actor=x.s.provider_officer, binding_id=x.binding.id)
    assert [r.id for r in updates] == [compare.id, incremental.id, full.id]


def test_rejected_rows_are_kept_with_their_reason(
    db: Session, data_dir: Path, sessions: sessionmaker[Session], center: Center
) -> None:
    x = exchange_world(db, data_dir, rows=10)
    with _source(x) as src:  # SQLite lets a TEXT primary key be NULL
        src.execute(
            "INSERT INTO people VALUES (NULL,'无号','男','1990-01-01','上饶','361102',"
            "'13800000000','2026-02-01 00:00:00')"
        )
    run = _run(x, db, sessions, center, RunKind.FULL)
    assert run.state is RunState.SUCCEEDED and run.rows_written == 10 and run.rows_rejected == 1
    [rejected] = run_views.rejected_rows(db, actor=x.s.provider_officer, run_id=run.id)
    assert "主键" in rejected.reason and "无号" in rejected.row_text


def test_a_binding_is_checked_against_the_real_source(db: Session, data_dir: Path) -> None:
    x = exchange_world(db, data_dir)
    columns = [ColumnMapIn(item=i, column=c) for i, c in PEOPLE_COLUMNS.items()]
    data = BindingIn(
        resource_id=x.people.id,
        connection_id=x.source.id,
        source_table="people",
        columns=columns,
        key_columns=["id_number"],
    )
    with pytest.raises(Invalid) as no_table:
        bindings.save_binding(
            db,
            actor=x.s.provider_officer,
            settings=x.settings,
            data=data.model_copy(update={"source_table": "nobody"}),
        )
    assert no_table.value.field == "source_table"
    wrong = [*columns[:-1], ColumnMapIn(item="手机号码", column="mobile")]
    with pytest.raises(Invalid) as no_column:
        bindings.save_binding(
            db,
            actor=x.s.provider_officer,
            settings=x.settings,
            data=data.model_copy(update={"columns": wrong}),
        )
    assert "mobile" in str(no_column.value)
    with pytest.raises(Invalid) as unmapped:
        bindings.save_binding(
            db,
            actor=x.s.provider_officer,
            settings=x.settings,
            data=data.model_copy(update={"columns": columns[:-1]}),
        )
    assert "手机号码" in str(unmapped.value)
    with pytest.raises(Invalid) as stray_key:
        bindings.save_binding(
            db,
            actor=x.s.provider_officer,
            settings=x.settings,
            data=data.model_copy(update={"key_columns": ["updated_at"]}),
        )
    assert stray_key.value.field == "key_columns" and "updated_at" in str(stray_key.value)
    with pytest.raises(Invalid) as text_change:
        bindings.save_binding(
            db,
            actor=x.s.provider_officer,
            settings=x.settings,
            data=data.model_copy(update={"change_column": "name"}),
        )
    assert text_change.value.field == "change_column" and "文本" in str(text_change.value)


def test_a_run_the_engine_cannot_take_fails_with_the_reason_instead_of_looping(
    db: Session, data_dir: Path, sessions: sessionmaker[Session], center: Center
) -> None:
    x = exchange_world(db, data_dir, rows=3)
    # A binding changed behind the service's back: its key is no column the run would read.
    x.binding.key_columns = ["nobody"]
    run = runs.request_run(
        db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
    )
    db.commit()
    done = run_execution.execute_run(sessions, settings=x.settings, center=center, run_id=run.id)
    assert done is not None and done.state is RunState.FAILED
    assert "同步配置无效" in done.error and "nobody" in done.error


def test_a_retired_resources_binding_is_never_due(db: Session, data_dir: Path) -> None:
    """After its retirement no one may use the data (CAT-6): the schedule stops syncing it,
    rather than failing a run at every period."""
    with clock.frozen("2026-10-05T10:00:00+08:00"):
        x = exchange_world(db, data_dir, rows=3)
        retirements.request_retirement(
            db,
            actor=x.s.provider_officer,
            resource_id=x.people.id,
            data=RetirementIn(reason="数据改由市数据局统一提供"),
        )
        retirements.review_retirement(
            db, actor=x.s.op, resource_id=x.people.id, decision=ReviewIn(approve=True), rules=RULES
        )
    with clock.frozen("2026-11-20T09:00:00+08:00"):
        assert retirements.apply_due_changes(db, actor=JOB).retired == [x.people.code]
        db.refresh(x.binding)
        assert x.binding.state is BindingState.ACTIVE
        assert clock.as_utc(x.binding.next_run_at) <= clock.now()  # it would be due
        assert [r for r in runs.schedule_due(db, actor=JOB) if r.binding_id] == []


def test_due_runs_are_queued_once_and_claimed_once(
    db: Session, data_dir: Path, sessions: sessionmaker[Session], center: Center
) -> None:
    x = exchange_world(db, data_dir, rows=5)
    sent: list[int] = []
    first = runs.schedule_due(db, actor=JOB, enqueue=sent.append)
    assert [r.kind for r in first] == [RunKind.FULL]
    assert runs.schedule_due(db, actor=JOB, enqueue=sent.append) == []  # the slot is taken
    db.commit()
    assert sent == [first[0].id]
    with pytest.raises(Conflict):
        runs.request_run(db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL)
    done = run_execution.execute_run(
        sessions, settings=x.settings, center=center, run_id=first[0].id
    )
    assert done is not None and done.state is RunState.SUCCEEDED
    assert (
        run_execution.execute_run(sessions, settings=x.settings, center=center, run_id=first[0].id)
        is None
    )
    db.expire_all()
    assert x.binding.next_run_at is not None and x.binding.next_run_at > clock.now() + timedelta(
        hours=23
    )


def test_the_run_summary_shows_a_department_its_own_runs_and_overseers_all(
    db: Session, data_dir: Path
) -> None:
    x = exchange_world(db, data_dir, rows=5)
    run = runs.request_run(
        db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
    )
    since = clock.now() - timedelta(hours=1)
    own = run_views.summary(db, actor=x.s.provider_officer, since=since)
    assert own.count(RunState.QUEUED) == 1 and [r.id for r in own.latest] == [run.id]
    assert not own.everyone
    other = run_views.summary(db, actor=x.s.consumer_officer, since=since)
    assert other.count(RunState.QUEUED) == 0 and other.latest == []
    everyone = run_views.summary(db, actor=x.s.op, since=since)
    assert everyone.everyone and [r.id for r in everyone.latest] == [run.id]
    later = run_views.summary(db, actor=x.s.op, since=clock.now() + timedelta(minutes=1))
    assert later.count(RunState.QUEUED) == 0 and len(later.latest) == 1


def test_a_running_run_whose_lock_is_free_is_failed_and_queued_again(
    db: Session, data_dir: Path
) -> None:
    x = exchange_world(db, data_dir, rows=5)
    run = runs.request_run(
        db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
    )
    run.state, run.heartbeat_at = RunState.RUNNING, clock.now()  # a fresh heartbeat: no matter
    db.flush()
    [again] = runs.recover_stalled(db, actor=JOB)
    db.refresh(run)
    assert run.state is RunState.FAILED and run.error.startswith(runs.OWNER_DEAD)
    assert again.state is RunState.QUEUED and again.kind is RunKind.FULL


def test_a_running_run_whose_lock_is_held_is_left_alone(db: Session, data_dir: Path) -> None:
    x = exchange_world(db, data_dir, rows=5)
    run = runs.request_run(
        db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
    )
    run.state, run.heartbeat_at = RunState.RUNNING, clock.now() - timedelta(hours=3)
    db.flush()
    target = runlock.Target("binding", x.binding.id)
    with runlock.holding(db.get_bind(), target) as lock:
        assert lock is not None
        assert runlock.is_held(db, target)
        assert runs.recover_stalled(db, actor=JOB) == []
        with pytest.raises(Conflict, match="正在排队或运行中"):
            runs.request_run(
                db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
            )
        assert runlock.acquire(db.get_bind(), target) is None  # one holder at a time
    assert not runlock.is_held(db, target)
    db.refresh(run)
    assert run.state is RunState.RUNNING
    rerun = runs.request_run(
        db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
    )
    db.refresh(run)
    assert run.state is RunState.FAILED and run.error == runs.OWNER_DEAD
    assert rerun.state is RunState.QUEUED


@pytest.fixture
def frontend_db() -> Iterator[str]:
    """A database of its own on the real MariaDB, as a consumer's front-end database."""
    url = make_url(MYSQL_URL)
    name = f"gs_front_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password or ""
    )
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    yield name
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE {name}")
    admin.close()


def test_a_push_delivers_exactly_the_grant_and_stops_with_it(
    db: Session,
    data_dir: Path,
    sessions: sessionmaker[Session],
    center: Center,
    frontend_db: str,
) -> None:
    x = exchange_world(db, data_dir, rows=40)
    assert _run(x, db, sessions, center, RunKind.FULL).state is RunState.SUCCEEDED
    application = approved(
        x.s,
        fields=["公民身份号码", "姓名", "行政区划代码"],
        row_filter=[{"field": "行政区划代码", "op": "in", "values": ["361102"]}],
        masking=[{"field": "公民身份号码", "rule": "id_number"}],
    )
    grant = db.get(Grant, application.grant_id)
    assert grant is not None
    url = make_url(MYSQL_URL)
    front = connections.register_connection(
        db,
        actor=x.s.consumer_officer,
        settings=x.settings,
        data=ConnectionIn(
            name="民政前置库",
            role=ConnectionRole.FRONTEND,
            kind=DatabaseKind.MYSQL,
            host=url.host or "",
            port=url.port,
            database=frontend_db,
            username=url.username or "",
        ),
    )
    push = pushes.create_push(
        db,
        actor=x.s.consumer_officer,
        data=PushIn(grant_id=grant.id, connection_id=front.id, target_table="people_share"),
    )
    [queued] = [r for r in runs.schedule_due(db, actor=JOB) if r.push_id]
    assert queued.push_id == push.id and queued.kind is RunKind.FULL
    db.commit()
    done = run_execution.execute_run(sessions, settings=x.settings, center=center, run_id=queued.id)
    assert done is not None and done.state is RunState.SUCCEEDED, done.error

    key = masking_key(x.settings)
    expected = sorted(
        (mask_value(r[0], Mask(MaskRule.ID_NUMBER), key=key), r[1], r[5])
        for r in people_rows(40)
        if r[5] == "361102"
    )
    mysql = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, database=frontend_db
    )
    with mysql.cursor() as cur:
        cur.execute("SELECT * FROM people_share")
        names = [d[0] for d in cur.description]
        got = sorted(cur.fetchall())
    mysql.close()
    # the binding's order, granted only, then the platform's: the ID number is masked, so a
    # keyed hash of the real one keys the rows, and the update time carries incremental runs
    assert names == ["name", "id_number", "region_code", "govshare_row_key", "govshare_changed_at"]
    assert sorted((r[1], r[0], r[2]) for r in got) == expected
    secret = pushes.row_key_secret(x.settings, grant)
    assert sorted(r[3] for r in got) == sorted(
        row_key_value([r[0]], key=secret) for r in people_rows(40) if r[5] == "361102"
    )

    grants.suspend_grant(
        db, actor=x.s.provider_officer, grant_id=grant.id, data=GrantActionIn(reason="超范围使用")
    )
    push.next_run_at = clock.now()
    db.flush()
    [after] = [r for r in runs.schedule_due(db, actor=JOB) if r.push_id]
    db.commit()
    failed = run_execution.execute_run(
        sessions, settings=x.settings, center=center, run_id=after.id
    )
    assert failed is not None and failed.state is RunState.FAILED
    assert "暂停" in failed.error  # a push run after suspension fails with the grant's reason
    with pytest.raises(Forbidden):
        pushes.create_push(
            db,
            actor=x.s.consumer_officer,
            data=PushIn(grant_id=grant.id, connection_id=front.id, target_table="people_again"),
        )
    assert db.execute(select(SyncRun).where(SyncRun.push_id == push.id)).scalars().all()


def test_a_whole_resource_grant_delivers_the_data_items_not_the_kept_change_column(
    db: Session, data_dir: Path
) -> None:
    x = exchange_world(db, data_dir, rows=3)
    assert {"item": "", "column": "updated_at", "type": "timestamp"} in x.binding.columns
    whole = Grant(whole_resource=True, fields=[], row_filter=[], masking=[])
    scope = delivery.grant_scope(x.binding, whole)
    assert scope.columns == list(PEOPLE_COLUMNS.values())


def test_a_row_deleted_at_the_source_leaves_the_pushed_table_at_the_next_scheduled_push(
    db: Session,
    data_dir: Path,
    sessions: sessionmaker[Session],
    center: Center,
    frontend_db: str,
) -> None:
    start = datetime.fromisoformat("2026-10-12T10:00:00+08:00")  # inside the grant's period
    url = make_url(MYSQL_URL)

    def front_ids() -> list[str]:
        mysql = pymysql.connect(
            host=url.host, port=url.port or 3306, user=url.username, database=frontend_db
        )
        with mysql.cursor() as cur:
            cur.execute("SELECT id_number FROM people_share")
            ids = sorted(r[0] for r in cur.fetchall())
        mysql.close()
        return ids

    def work(queued: list[SyncRun]) -> dict[str, RunKind]:
        """Executes the queued runs, the center's first; the kind of each, by target."""
        db.commit()
        kinds = {}
        for run in sorted(queued, key=lambda r: r.binding_id is None):
            done = run_execution.execute_run(
                sessions, settings=x.settings, center=center, run_id=run.id
            )
            assert done is not None and done.state is RunState.SUCCEEDED, done and done.error
            kinds["binding" if run.binding_id else "push"] = run.kind
        db.expire_all()
        return kinds

    with clock.frozen(start):
        x = exchange_world(db, data_dir, rows=40)
        assert _run(x, db, sessions, center, RunKind.FULL).state is RunState.SUCCEEDED
        grant_id = approved(
            x.s,
            fields=["公民身份号码", "姓名", "行政区划代码"],
            row_filter=[{"field": "行政区划代码", "op": "in", "values": ["361102"]}],
        ).grant_id
        front = connections.register_connection(
            db,
            actor=x.s.consumer_officer,
            settings=x.settings,
            data=ConnectionIn(
                name="民政前置库",
                role=ConnectionRole.FRONTEND,
                kind=DatabaseKind.MYSQL,
                host=url.host or "",
                port=url.port,
                database=frontend_db,
                username=url.username or "",
            ),
        )
        push = pushes.create_push(
            db,
            actor=x.s.consumer_officer,
            data=PushIn(grant_id=grant_id, connection_id=front.id, target_table="people_share"),
        )
        assert work(runs.schedule_due(db, actor=JOB))["push"] is RunKind.FULL
    shared = sorted(r[0] for r in people_rows(40) if r[5] == "361102")
    assert front_ids() == shared

    # Deleted at the source: gone from the front-end table after the next scheduled sync of
    # the center and the next scheduled push (a day on: both compare keys).
    with _source(x) as src:
        src.execute("DELETE FROM people WHERE id_number = ?", (shared[0],))
    with clock.frozen(start + timedelta(days=1, minutes=1)):
        kinds = work(runs.schedule_due(db, actor=JOB))
    assert kinds == {"binding": RunKind.COMPARE, "push": RunKind.COMPARE}
    assert front_ids() == shared[1:]

    # Rows the center loses reach a push at its very next run, however soon (a realtime
    # resource pushes every five minutes), not only at the daily comparison.
    with _source(x) as src:
        src.execute("DELETE FROM people WHERE id_number = ?", (shared[1],))
    with clock.frozen(start + timedelta(days=1, minutes=5)):
        compared = _run(x, db, sessions, center, RunKind.COMPARE)
        assert compared.state is RunState.SUCCEEDED and compared.rows_deleted == 1
    with clock.frozen(start + timedelta(days=1, minutes=10)):
        push.next_run_at = clock.now()
        db.flush()
        assert work([r for r in runs.schedule_due(db, actor=JOB) if r.push_id]) == {
            "push": RunKind.COMPARE
        }
    assert front_ids() == shared[2:]
    with clock.frozen(start + timedelta(days=1, minutes=15)):
        push.next_run_at = clock.now()
        db.flush()
        assert work([r for r in runs.schedule_due(db, actor=JOB) if r.push_id]) == {
            "push": RunKind.INCREMENTAL  # nothing owed: changes only
        }
    assert front_ids() == shared[2:]
