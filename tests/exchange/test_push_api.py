"""Pushes over the JSON API: a consumer's data officer creates a push of its grant into its
own front-end database (a real SQLite file in the data directory, or the real MariaDB), a
run started through the API fills the target table with exactly the grant's fields, rows
and masked values, later runs follow the center, pausing stops it, and another
department's grant or connection, a bad or taken table name, are refused as problem+json
naming the field."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pymysql
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from huey import MemoryHuey
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.permissions import Actor, Role
from govshare.core.runtime import Runtime
from govshare.exchange.center import Center
from govshare.exchange.jobs import JobQueue
from govshare.exchange.masking import Mask, mask_value, row_key_value
from govshare.exchange.models import (
    Connection,
    ConnectionRole,
    DatabaseKind,
    Push,
    PushState,
    RunKind,
    RunState,
    SyncRun,
)
from govshare.exchange.schemas import ConnectionIn
from govshare.exchange.service import connections, pushes, run_execution, runs
from govshare.exchange.service.delivery import masking_key
from govshare.identity.models import User
from govshare.sharing.models import Grant, MaskRule
from govshare.sharing.schemas import DecisionIn
from govshare.sharing.service import decisions
from tests.builders import actor_of, count, organization, user
from tests.exchange.builders import (
    MYSQL_URL,
    Exchange,
    exchange_world,
    people_rows,
    source_directory,
)
from tests.http import csrf_for, sign_in
from tests.sharing.builders import SHANGRAO, deciding

PROBLEM = "application/problem+json"
API = "/api/v1/exchange/pushes"
USED_AT = "2026-10-12T10:00:00+08:00"  # the builders' grants run from 2026-10-01
GRANTED = ["公民身份号码", "姓名", "出生日期", "行政区划代码"]
REGION = "361102"
JOB = Actor(label="job:test", roles=frozenset({Role.SYSTEM}))


@dataclass
class World:
    x: Exchange
    runtime: Runtime
    grant: Grant
    front: Connection  # the consumer's front-end database: a SQLite file in the data dir
    front_path: Path


def _runtime(app: FastAPI) -> Runtime:
    return app.state.runtime


def _execute(runtime: Runtime, run_id: int) -> SyncRun:
    """What the worker does with a queued run: the real sync, on the app's center."""
    run = run_execution.execute_run(
        runtime.sessions, settings=runtime.settings, center=runtime.center, run_id=run_id
    )
    assert run is not None
    return run


def _sync_center(db: Session, w: World, kind: RunKind = RunKind.FULL) -> None:
    run = runs.request_run(db, actor=w.x.s.provider_officer, binding_id=w.x.binding.id, kind=kind)
    db.commit()
    assert _execute(w.runtime, run.id).state is RunState.SUCCEEDED


def _frontend(db: Session, w: Exchange, actor: Actor, name: str, path: Path) -> Connection:
    """A front-end SQLite file in the directory the operator assigned to the actor's
    department (the file's own directory)."""
    assert actor.organization_id is not None
    source_directory(db, w.settings, actor.organization_id, str(path.parent))
    sqlite3.connect(path).close()
    return connections.register_connection(
        db,
        actor=actor,
        settings=w.settings,
        data=ConnectionIn(
            name=name,
            role=ConnectionRole.FRONTEND,
            kind=DatabaseKind.SQLITE,
            database=str(path),
        ),
    )


@pytest.fixture
def jobs(app: FastAPI) -> MemoryHuey:
    """The app's job queue: Huey, keeping its jobs in memory instead of the database."""
    huey = MemoryHuey("test-push-api", utc=True)

    @huey.task(name="exchange.run")
    def run_task(run_id: int) -> None:
        return None

    app.state.exchange_jobs = JobQueue(huey, run_task)
    return huey


@pytest.fixture
def w(app: FastAPI, db: Session, center: Center) -> Iterator[World]:
    """The sharing cast and the provider's bound population table, its 40 rows in the center;
    the consumer holds a grant of 4 items, one region and the ID number masked, and has a
    front-end database of its own."""
    runtime = _runtime(app)
    with clock.frozen(USED_AT):
        x = exchange_world(db, runtime.settings.data_dir, rows=40)
        scope: dict[str, Any] = {
            "fields": GRANTED,
            "row_filter": [{"field": "行政区划代码", "op": "in", "values": [REGION]}],
        }
        asked = deciding(x.s, **scope)
        decided = decisions.decide(
            db,
            actor=x.s.provider_officer,
            profile=SHANGRAO,
            application_id=asked.id,
            data=DecisionIn(
                approve=True, masking=[{"field": "公民身份号码", "rule": "id_number"}], **scope
            ),
        )
        grant = db.get(Grant, decided.grant_id)
        assert grant is not None
        path = runtime.settings.data_dir / "front" / "front.db"
        front = _frontend(db, x, x.s.consumer_officer, "民政前置库", path)
        db.commit()
        world = World(x, runtime, grant, front, path)
        _sync_center(db, world)
        yield world


def _as(client: TestClient, app: FastAPI, db: Session, actor: Actor) -> dict[str, str]:
    """Signs the client in as `actor`; the CSRF header its writes must carry."""
    client.cookies.clear()
    account = db.get(User, actor.user_id)
    assert account is not None
    assert sign_in(client, account.username).status_code == 200
    return csrf_for(app, client)


def _create(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post(API, json=body, headers=headers)


def _expected(w: World) -> list[tuple[Any, ...]]:
    """The grant's share of the source rows: (masked id, name, birth date, region)."""
    key = masking_key(w.runtime.settings)
    return sorted(
        (mask_value(r[0], Mask(MaskRule.ID_NUMBER), key=key), r[1], r[3], r[5])
        for r in people_rows(40)
        if r[5] == REGION
    )


def _front_rows(path: Path, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as front:
        cursor = front.execute(f'SELECT * FROM "{table}"')
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    return names, rows


def _problem(response: Any, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["field"] == field, body
    return body


# --- create and run -------------------------------------------------------------------------


def test_a_push_created_and_run_through_the_api_holds_exactly_the_grant(
    app: FastAPI, client: TestClient, db: Session, w: World, jobs: MemoryHuey
) -> None:
    headers = _as(client, app, db, w.x.s.consumer_officer)
    with clock.frozen(USED_AT):
        created = _create(
            client, headers, grant_id=w.grant.id, connection_id=w.front.id, target_table="rk_share"
        )
        assert created.status_code == 201, created.text
        push = created.json()
        assert (push["state"], push["grant_number"], push["target_table"]) == (
            "active",
            w.grant.number,
            "rk_share",
        )
        assert push["last_run"] is None and push["problem"] == ""
        assert [
            (c["column"], c["type"], c["target_type"], c["masking"], c["key"])
            for c in push["columns"]
        ] == [
            ("name", "text", "TEXT", None, False),
            ("id_number", "text", "TEXT", "身份证号脱敏", False),  # masked: text whatever it was
            ("birth_date", "date", "DATE", None, False),
            ("region_code", "text", "TEXT", None, False),
            # Masked ID numbers collide, so rows are keyed by a keyed hash of the real one,
            # and the update time the grant leaves out carries incremental runs.
            ("govshare_row_key", "text", "TEXT", None, True),
            ("govshare_changed_at", "timestamp", "TIMESTAMP", None, False),
        ]
        assert push["row_filter"] == [f"行政区划代码 属于其一 {REGION}"]

        queued = client.post(f"{API}/{push['id']}/runs", headers=headers)
        assert queued.status_code == 202, queued.text
        run = queued.json()
        assert (run["push_id"], run["kind"], run["state"]) == (push["id"], "full", "queued")
        assert [task.args for task in jobs.pending()] == [(run["id"],)]  # after the commit

        busy = client.post(f"{API}/{push['id']}/runs", headers=headers)
        assert busy.status_code == 409 and busy.headers["content-type"] == PROBLEM

        done = _execute(w.runtime, run["id"])
        assert done.state is RunState.SUCCEEDED, done.error
        names, rows = _front_rows(w.front_path, "rk_share")
        assert names == [
            "name",
            "id_number",
            "birth_date",
            "region_code",
            "govshare_row_key",
            "govshare_changed_at",
        ]
        assert sorted((r[1], r[0], r[2], r[3]) for r in rows) == _expected(w)
        assert done.rows_written == len(rows) == 10
        secret = pushes.row_key_secret(w.runtime.settings, w.grant)
        source = {
            mask_value(p[0], Mask(MaskRule.ID_NUMBER), key=masking_key(w.runtime.settings))
            + p[1]: p
            for p in people_rows(40)
        }
        for row in rows:
            person = source[row[1] + row[0]]
            assert row[4] == row_key_value([person[0]], key=secret)
            assert row[5] == person[7]  # the center's update time

        history = client.get(f"{API}/{push['id']}/runs").json()
        assert [(r["id"], r["state"], r["rows_written"]) for r in history] == [
            (run["id"], "succeeded", 10)
        ]
        listed = client.get(API).json()
        assert [(p["id"], p["last_run"]["state"]) for p in listed] == [(push["id"], "succeeded")]
        following = datetime.fromisoformat(listed[0]["next_run_at"].replace("Z", "+00:00"))
        assert following > datetime.fromisoformat(USED_AT)  # the run took the due first slot
        assert not [r for r in runs.schedule_due(db, actor=JOB) if r.push_id]


def test_a_later_run_follows_the_center_within_the_grant(
    app: FastAPI, client: TestClient, db: Session, w: World, jobs: MemoryHuey
) -> None:
    headers = _as(client, app, db, w.x.s.consumer_officer)
    with clock.frozen(USED_AT):
        push = _create(
            client, headers, grant_id=w.grant.id, connection_id=w.front.id, target_table="rk"
        ).json()
        first = client.post(f"{API}/{push['id']}/runs", headers=headers).json()
        assert _execute(w.runtime, first["id"]).state is RunState.SUCCEEDED

        changed = "UPDATE people SET name=?, updated_at='2027-01-01 00:00:00' WHERE id_number=?"
        inside = next(r for r in people_rows(40) if r[5] == REGION)
        outside = next(r for r in people_rows(40) if r[5] != REGION)
        with sqlite3.connect(w.x.source.database) as source:
            source.execute(changed, ("赵六", inside[0]))
            source.execute(changed, ("钱七", outside[0]))
        _sync_center(db, w, RunKind.INCREMENTAL)

        again = client.post(f"{API}/{push['id']}/runs", headers=headers)
        assert again.status_code == 202 and again.json()["kind"] == "incremental"
        done = _execute(w.runtime, again.json()["id"])
        assert done.state is RunState.SUCCEEDED, done.error
        _, rows = _front_rows(w.front_path, "rk")
        names = sorted(r[0] for r in rows)
        assert "赵六" in names and "钱七" not in names and len(rows) == 10
        # Incremental by the center's update time, which the grant does not carry: only the
        # changed row inside the grant is read and written.
        assert (done.rows_read, done.rows_written) == (1, 1)


def test_a_push_to_the_real_mariadb_creates_the_table_with_mapped_types(
    app: FastAPI, client: TestClient, db: Session, w: World, jobs: MemoryHuey, mariadb: str
) -> None:
    url = make_url(MYSQL_URL)
    with clock.frozen(USED_AT):
        front = connections.register_connection(
            db,
            actor=w.x.s.consumer_officer,
            settings=w.runtime.settings,
            data=ConnectionIn(
                name="民政前置库（MariaDB）",
                role=ConnectionRole.FRONTEND,
                kind=DatabaseKind.MYSQL,
                host=url.host or "",
                port=url.port,
                database=mariadb,
                username=url.username or "",
            ),
        )
        db.commit()
        headers = _as(client, app, db, w.x.s.consumer_officer)
        created = _create(
            client, headers, grant_id=w.grant.id, connection_id=front.id, target_table="rk_share"
        )
        assert created.status_code == 201, created.text
        types = {c["column"]: c["target_type"] for c in created.json()["columns"]}
        assert types["id_number"] == "LONGTEXT"  # masked: no longer the key
        assert types["govshare_row_key"] == "VARCHAR(255) COLLATE utf8mb4_bin"  # a text key
        assert types["birth_date"] == "DATE"
        run = client.post(f"{API}/{created.json()['id']}/runs", headers=headers).json()
        done = _execute(w.runtime, run["id"])
        assert done.state is RunState.SUCCEEDED, done.error

    conn = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, database=mariadb
    )
    with conn.cursor() as cur:
        cur.execute("SELECT id_number, name, birth_date, region_code FROM rk_share")
        got = sorted((r[0], r[1], r[2].isoformat(), r[3]) for r in cur.fetchall())
        cur.execute(
            "SELECT column_name, data_type, column_key FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'rk_share' ORDER BY ordinal_position",
            (mariadb,),
        )
        columns = cur.fetchall()
    conn.close()
    assert got == _expected(w)
    assert [tuple(c) for c in columns] == [
        ("name", "longtext", ""),
        ("id_number", "longtext", ""),
        ("birth_date", "date", ""),
        ("region_code", "longtext", ""),
        ("govshare_row_key", "varchar", "PRI"),
        ("govshare_changed_at", "datetime", ""),
    ]


@pytest.fixture
def mariadb() -> Iterator[str]:
    """A database of its own on the real MariaDB, as the consumer's front-end database."""
    url = make_url(MYSQL_URL)
    name = f"gs_push_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password or ""
    )
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    yield name
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE {name}")
    admin.close()


# --- pause and resume -----------------------------------------------------------------------


def test_pausing_stops_runs_and_resuming_makes_one_due_at_once(
    app: FastAPI, client: TestClient, db: Session, w: World, jobs: MemoryHuey
) -> None:
    headers = _as(client, app, db, w.x.s.consumer_officer)
    with clock.frozen(USED_AT):
        push = _create(
            client, headers, grant_id=w.grant.id, connection_id=w.front.id, target_table="rk"
        ).json()
        paused = client.post(
            f"{API}/{push['id']}/pause", json={"reason": "前置库迁移"}, headers=headers
        )
        assert paused.status_code == 200, paused.text
        assert (paused.json()["state"], paused.json()["state_reason"]) == ("paused", "前置库迁移")
        assert paused.json()["next_run_at"] is None
        refused = client.post(f"{API}/{push['id']}/runs", headers=headers)
        assert refused.status_code == 409 and refused.headers["content-type"] == PROBLEM
        assert "已暂停" in refused.json()["detail"]
        assert not [r for r in runs.schedule_due(db, actor=JOB) if r.push_id]
        assert db.execute(select(SyncRun).where(SyncRun.push_id == push["id"])).first() is None

        resumed = client.post(f"{API}/{push['id']}/resume", headers=headers)
        assert resumed.status_code == 200 and resumed.json()["state"] == "active"
        [due] = [r for r in runs.schedule_due(db, actor=JOB) if r.push_id]
        assert due.push_id == push["id"] and due.kind is RunKind.FULL
    db.expire_all()
    stored = db.get(Push, push["id"])
    assert stored is not None and stored.state is PushState.ACTIVE


# --- refusals -------------------------------------------------------------------------------


def test_another_departments_grant_or_connection_is_refused_naming_the_field(
    app: FastAPI, client: TestClient, db: Session, w: World, jobs: MemoryHuey
) -> None:
    other_org = organization(db, "市人社局")
    other = actor_of(user(db, other_org, [Role.DATA_OFFICER]))
    with clock.frozen(USED_AT):
        theirs = _frontend(
            db, w.x, other, "人社前置库", w.runtime.settings.data_dir / "rs" / "rs.db"
        )
        db.commit()
        headers = _as(client, app, db, w.x.s.consumer_officer)
        body = {"grant_id": w.grant.id, "target_table": "rk"}
        foreign = _create(client, headers, connection_id=theirs.id, **body)
        assert _problem(foreign, 403, "connection_id")["detail"] == (
            "只能推送到本单位登记的前置交换库连接"
        )
        source = _create(client, headers, connection_id=w.x.source.id, **body)
        assert source.status_code == 403  # the provider's source database is not ours either
        missing = _create(client, headers, connection_id=999_999, **body)
        _problem(missing, 404, "connection_id")

        headers = _as(client, app, db, other)
        stolen = _create(client, headers, connection_id=theirs.id, **body)
        assert _problem(stolen, 404, "grant_id")["detail"] == "本单位没有这项授权"
        assert client.get(API).json() == []
    assert count(db, Push) == 0


def test_bad_or_taken_table_names_are_refused_naming_the_field(
    app: FastAPI, client: TestClient, db: Session, w: World, jobs: MemoryHuey
) -> None:
    with sqlite3.connect(w.front_path) as front:  # a table of the department's own
        front.execute("CREATE TABLE dibao (id TEXT PRIMARY KEY, amount NUMERIC)")
        front.execute("INSERT INTO dibao VALUES ('1', 800)")
    headers = _as(client, app, db, w.x.s.consumer_officer)
    body = {"grant_id": w.grant.id, "connection_id": w.front.id}
    with clock.frozen(USED_AT):
        syntax = _create(client, headers, target_table="rk-share", **body)
        assert "只能包含英文字母、数字和下划线" in _problem(syntax, 422, "target_table")["detail"]
        long = _create(client, headers, target_table="t" * 49, **body)
        assert _problem(long, 422, "target_table")["detail"] == "表名不能超过 48 个字符"
        reserved = _create(client, headers, target_table="govshare_sync_state", **body)
        _problem(reserved, 422, "target_table")
        taken = _create(client, headers, target_table="dibao", **body)
        assert "前置库中已有表 dibao" in _problem(taken, 409, "target_table")["detail"]
        assert _create(client, headers, target_table="rk", **body).status_code == 201
        twice = _create(client, headers, target_table="rk", **body)
        assert "已用于另一项推送" in _problem(twice, 409, "target_table")["detail"]
        no_grant = client.post(
            API, json={"connection_id": w.front.id, "target_table": "x"}, headers=headers
        )
        _problem(no_grant, 422, "grant_id")
    with sqlite3.connect(w.front_path) as front:
        assert front.execute("SELECT * FROM dibao").fetchall() == [("1", 800)]  # untouched
    assert count(db, Push) == 1


def test_a_push_of_another_department_is_not_shown_or_run(
    app: FastAPI, client: TestClient, db: Session, w: World, jobs: MemoryHuey
) -> None:
    headers = _as(client, app, db, w.x.s.consumer_officer)
    with clock.frozen(USED_AT):
        push = _create(
            client, headers, grant_id=w.grant.id, connection_id=w.front.id, target_table="rk"
        ).json()
        other = actor_of(user(db, organization(db, "市人社局"), [Role.DATA_OFFICER]))
        db.commit()
        headers = _as(client, app, db, other)
        assert client.get(f"{API}/{push['id']}").status_code == 403
        assert client.post(f"{API}/{push['id']}/runs", headers=headers).status_code == 403
        assert client.post(f"{API}/{push['id']}/pause", headers=headers).status_code == 403
    assert db.execute(select(SyncRun).where(SyncRun.push_id == push["id"])).first() is None
