"""Acceptance of the exchange (issue 5, first item), end to end over the HTTP API on each
backend: the generated 15-column population table is bound and synchronised into the center;
a consumer holding a grant of 5 of the 15 fields, one county and ID-number masking gets exactly
those fields, rows and masked values by online query, by download (CSV, Excel, JSON Lines) and
by push into its front-end database on the real MariaDB; a field outside the grant is refused
naming it; a suspended grant stops query, download and push at once; after a retirement takes
effect every path refuses the resource with the retirement's reason.

Expected rows are computed here from the generated source rows with the reference masking
(`masking.mask_value`), never through the delivery code. The source is a SQLite file in the
data directory on SQLite, a schema of the test database on PostgreSQL.

Not over HTTP: the worker's part. A run handed to the queue is executed by `jobs.execute`, the
job `govshare worker` runs (tests/exchange/test_workers.py runs the real workers), and due runs
are queued by `runs.schedule_due`, the worker's minute tick."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pymysql
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from huey import MemoryHuey
from openpyxl import load_workbook
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from govshare.catalog import jobs as catalog_jobs
from govshare.catalog.models import Resource
from govshare.catalog.schemas import RetirementIn, ReviewIn
from govshare.catalog.service import retirements
from govshare.core import clock
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role
from govshare.core.settings import derived_key
from govshare.exchange import jobs
from govshare.exchange.demo_data import POPULATION_COLUMNS, load_table, population_rows
from govshare.exchange.masking import Mask, mask_value, row_key_value, text_form
from govshare.exchange.service import pushes, runs
from govshare.exchange.service.pushes import ROW_KEY
from govshare.identity import service as identity_service
from govshare.identity.models import User
from govshare.identity.schemas import ApiTokenIn
from govshare.sharing.models import Grant, MaskRule
from govshare.sharing.schemas import GrantActionIn
from govshare.sharing.service import grants
from tests.builders import actor_of, organization, system_of, user
from tests.exchange.builders import (
    BUILT_AT,
    MYSQL_URL,
    POPULATION_ITEMS,
    USED_AT,
    grant_for,
    population_binding_in,
    population_resource,
    source_directory,
)
from tests.http import csrf_for, sign_in
from tests.sharing.builders import SHANGRAO, Sharing, sharing_world

API = "/api/v1/exchange"
PROBLEM = "application/problem+json"
AS_OF = datetime(2026, 7, 1)
ROWS = 400
REGION = "361128"  # 鄱阳县, the most populous county: about a fifth of the rows
GRANTED_COLUMNS = ["id_number", "name", "birth_date", "region_code", "updated_at"]
GRANTED = [POPULATION_ITEMS[c][0] for c in GRANTED_COLUMNS]
COLUMNS = [name for name, _ in POPULATION_COLUMNS]
REASON = "超出申请用途向第三方提供数据"
NEXT_DAY = "2026-10-13T10:00:00+08:00"  # the push's next scheduled run
RETIREMENT = "人口基础信息改由市大数据中心统一提供"
RETIRED = f"资源已下架：{RETIREMENT}"


# --- the world ------------------------------------------------------------------------------


@dataclass
class Acceptance:
    w: Sharing
    resource: Resource
    grant: Grant
    push_id: int
    rows: list[dict[str, Any]]  # the generated source rows
    source: Engine
    frontend: str  # the consumer's front-end database on MariaDB
    token: dict[str, str]  # the consumer's system's bearer header
    sent: list[int]  # run ids handed to the job queue and not yet executed
    binding_id: int

    @property
    def code(self) -> str:
        return self.resource.code


@pytest.fixture
def frontend_db() -> Iterator[str]:
    """A database of this test's own on the real MariaDB: the consumer's front-end database."""
    url = make_url(MYSQL_URL)
    name = f"gs_accept_front_{uuid.uuid4().hex[:8]}"
    admin = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password or ""
    )
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    yield name
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE {name}")
    admin.close()


@pytest.fixture
def source(engine: Engine, tmp_path: Path) -> Iterator[tuple[Engine, dict[str, Any]]]:
    """The provider's source database, and the connection registering it: a SQLite file in
    the app's data directory, or a schema of its own in the PostgreSQL test database."""
    if engine.dialect.name == "sqlite":
        path = tmp_path / "sources" / "population.db"
        path.parent.mkdir()
        src = sa.create_engine(f"sqlite:///{path}")
        yield src, {"kind": "sqlite", "database": "sources/population.db"}
        src.dispose()
        return
    schema = f"src_{uuid.uuid4().hex[:8]}"
    url = engine.url.set(query={"options": f"-csearch_path={schema}"})
    src = sa.create_engine(url.render_as_string(hide_password=False))
    with src.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield (
        src,
        {
            "kind": "postgresql",
            "host": engine.url.host,
            "port": engine.url.port or 5432,
            "database": engine.url.database,
            "db_schema": schema,
            "username": engine.url.username or "",
        },
    )
    with src.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    src.dispose()


def as_user(client: TestClient, app: FastAPI, db: Session, actor: Actor) -> dict[str, str]:
    """Signs `actor` in; the CSRF header its pages would send."""
    client.cookies.clear()
    account = db.get(User, actor.user_id)
    assert account is not None
    assert sign_in(client, account.username).status_code == 200
    return csrf_for(app, client)


def work(app: FastAPI, sent: list[int]) -> list[str]:
    """What a worker does with each run handed to the queue: the `exchange.run` job."""
    done = [jobs.execute(app.state.runtime, run_id) for run_id in sent]
    sent.clear()
    return done


def tick(app: FastAPI, sent: list[int]) -> None:
    """The worker's minute tick: queue the runs whose time has come."""
    with app.state.runtime.transaction() as db_session:
        runs.schedule_due(db_session, actor=jobs.SCHEDULER, enqueue=sent.append)


def frontend_table(frontend: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The pushed table's column names and rows, as MariaDB holds them."""
    url = make_url(MYSQL_URL)
    conn = pymysql.connect(
        host=url.host,
        port=url.port or 3306,
        user=url.username,
        password=url.password or "",
        database=frontend,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM people_share")
            return [d[0] for d in cur.description], list(cur.fetchall())
    finally:
        conn.close()


@pytest.fixture
def acc(
    app: FastAPI,
    client: TestClient,
    db: Session,
    source: tuple[Engine, dict[str, Any]],
    frontend_db: str,
) -> Iterator[Acceptance]:
    """The provider binds and synchronises its population table over the API; the consumer
    holds its grant, a system token, and a push into its front-end database that has run once."""
    sent: list[int] = []
    app.state.exchange_jobs = jobs.JobQueue(MemoryHuey("acceptance"), sent.append)
    src, connection = source
    rows = list(population_rows(ROWS, as_of=AS_OF))
    load_table(src.url, "population", POPULATION_COLUMNS, rows, key="id_number")
    with clock.frozen(BUILT_AT):
        w = sharing_world(db)
        if connection["kind"] == "sqlite":  # the operator gives 公安局 its source directory
            source_directory(db, app.state.runtime.settings, w.provider.id, "sources")
        resource = population_resource(w)
        grant = grant_for(
            w,
            resource,
            fields=GRANTED,
            row_filter=[{"field": "行政区划代码", "op": "eq", "values": [REGION]}],
            masking=[{"field": "公民身份号码", "rule": "id_number"}],
        )
        _, secret = identity_service.issue_api_token(
            db,
            actor=w.consumer_officer,
            data=ApiTokenIn(name="社会救助信息系统", system_id=system_of(db, w.consumer.id)),
        )
        db.commit()

        headers = as_user(client, app, db, w.provider_officer)
        registered = client.post(
            f"{API}/connections",
            json={"name": "公安人口库只读副本", "role": "source", **connection},
            headers=headers,
        )
        assert registered.status_code == 201, registered.text
        binding_in = population_binding_in(resource.id, registered.json()["id"], "population")
        bound = client.post(
            f"{API}/bindings", json=binding_in.model_dump(mode="json"), headers=headers
        )
        assert bound.status_code == 201, bound.text
        binding = bound.json()
        assert [(c["item"], c["column"]) for c in binding["columns"]] == [
            (item, column) for column, (item, _, _) in POPULATION_ITEMS.items()
        ]
        queued = client.post(
            f"{API}/bindings/{binding['id']}/runs", json={"kind": "full"}, headers=headers
        )
        assert queued.status_code == 202 and queued.json()["state"] == "queued", queued.text
        assert sent == [queued.json()["id"]]  # handed to the queue once committed
        assert work(app, sent) == [f"run {queued.json()['id']}: succeeded"]
        run = client.get(f"{API}/runs/{queued.json()['id']}").json()
        assert (run["state"], run["rows_read"], run["rows_written"]) == ("succeeded", ROWS, ROWS)

    with clock.frozen(USED_AT):
        url = make_url(MYSQL_URL)
        headers = as_user(client, app, db, w.consumer_officer)
        front = client.post(
            f"{API}/connections",
            json={
                "name": "民政局前置交换库",
                "role": "frontend",
                "kind": "mysql",
                "host": url.host,
                "port": url.port or 3306,
                "database": frontend_db,
                "username": url.username,
            },
            headers=headers,
        )
        assert front.status_code == 201, front.text
        created = client.post(
            f"{API}/pushes",
            json={
                "grant_id": grant.id,
                "connection_id": front.json()["id"],
                "target_table": "people_share",
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
        push = created.json()
        # The granted fields, and the platform's row key: masked ID numbers collide, so the
        # table is keyed by a keyed hash of the real one (the update time is granted here).
        assert [c["column"] for c in push["columns"]] == [*GRANTED_COLUMNS, ROW_KEY]
        assert [c["column"] for c in push["columns"] if c["masking"]] == ["id_number"]
        assert [c["column"] for c in push["columns"] if c["key"]] == [ROW_KEY]
        first = client.post(f"{API}/pushes/{push['id']}/runs", json={}, headers=headers)
        assert first.status_code == 202 and first.json()["kind"] == "full", first.text
        assert work(app, sent) == [f"run {first.json()['id']}: succeeded"]
        client.cookies.clear()
        yield Acceptance(
            w,
            resource,
            grant,
            push["id"],
            [dict(zip(COLUMNS, r, strict=True)) for r in rows],
            src,
            frontend_db,
            {"Authorization": f"Bearer {secret}"},
            sent,
            binding["id"],
        )


def key_of(app: FastAPI) -> bytes:
    """The app's masking key, derived from its settings (no GOVSHARE_MASK_KEY is set)."""
    return derived_key(app.state.runtime.settings, "govshare masking")


def expected(a: Acceptance, key: bytes) -> list[dict[str, Any]]:
    """The granted rows: the region's, in ID order, the 5 fields, the ID number masked."""
    chosen = sorted((r for r in a.rows if r["region_code"] == REGION), key=lambda r: r["id_number"])
    return [
        {
            c: mask_value(r[c], Mask(MaskRule.ID_NUMBER), key=key) if c == "id_number" else r[c]
            for c in GRANTED_COLUMNS
        }
        for r in chosen
    ]


def as_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v.isoformat() if isinstance(v, date) else v for k, v in r.items()} for r in rows]


def as_text(rows: list[dict[str, Any]]) -> list[list[str | None]]:
    return [[text_form(v) for v in r.values()] for r in rows]


# --- the tests ------------------------------------------------------------------------------


def test_the_grant_delivers_exactly_its_fields_rows_and_masks_on_every_path(
    app: FastAPI, client: TestClient, acc: Acceptance
) -> None:
    want = expected(acc, key_of(app))
    assert 0 < len(want) < ROWS / 3  # one county of many
    assert all(r["id_number"].count("*") == 8 for r in want)  # 18 digits: 6 kept, 4 kept

    # (a) online query, paged, as the consumer's system
    rows, url, first = [], f"{API}/data/{acc.code}?limit=25&total=true", None
    while url:
        page = client.get(url, headers=acc.token)
        assert page.status_code == 200, page.text
        body = page.json()
        first = first or body
        rows += body["rows"]
        cursor = body["next_cursor"]
        url = f"{API}/data/{acc.code}?limit=25&cursor={cursor}" if cursor else ""
    assert rows == as_json(want)
    assert all(list(r) == GRANTED_COLUMNS for r in rows)
    assert first is not None and first["total"] == len(want)
    assert [(f["name"], f["item"], f["masking"]) for f in first["fields"]] == [
        (c, i, "id_number" if c == "id_number" else None)
        for c, i in zip(GRANTED_COLUMNS, GRANTED, strict=True)
    ]
    # Asking for another county gives nothing: the consumer's filters narrow the grant's.
    other = client.get(f"{API}/data/{acc.code}?行政区划代码=361102", headers=acc.token)
    assert other.status_code == 200 and other.json()["rows"] == []
    # The everyday lookup: by the raw ID number, the masked record; outside the county, none.
    citizen = next(r for r in acc.rows if r["region_code"] == REGION)
    found = client.get(f"{API}/data/{acc.code}/{citizen['id_number']}", headers=acc.token)
    assert found.status_code == 200, found.text
    masked = mask_value(citizen["id_number"], Mask(MaskRule.ID_NUMBER), key=key_of(app))
    assert found.json()["rows"] == as_json(
        [{c: masked if c == "id_number" else citizen[c] for c in GRANTED_COLUMNS}]
    )
    outsider = next(r for r in acc.rows if r["region_code"] != REGION)
    missing = client.get(f"{API}/data/{acc.code}/{outsider['id_number']}", headers=acc.token)
    assert missing.status_code == 404

    # (b) downloads
    url = f"{API}/data/{acc.code}/download?format="
    got = client.get(url + "csv", headers=acc.token)
    assert got.status_code == 200, got.text
    table = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert table == [GRANTED] + [["" if v is None else v for v in r] for r in as_text(want)]

    got = client.get(url + "jsonl", headers=acc.token)
    assert got.status_code == 200, got.text
    assert [json.loads(line) for line in got.text.splitlines()] == as_json(want)

    got = client.get(url + "xlsx", headers=acc.token)
    assert got.status_code == 200, got.text
    sheets = load_workbook(io.BytesIO(got.content), read_only=True).worksheets
    assert len(sheets) == 1
    table = [list(r) for r in sheets[0].iter_rows(values_only=True)]
    assert table[0] == GRANTED
    as_excel = [
        [datetime.combine(v, datetime.min.time()) if type(v) is date else v for v in r.values()]
        for r in want
    ]
    assert table[1:] == as_excel

    # (c) the push into the front-end database (run in the fixture)
    names, pushed = frontend_table(acc.frontend)
    assert names == [*GRANTED_COLUMNS, ROW_KEY]
    assert sorted([text_form(v) for v in r[:-1]] for r in pushed) == sorted(as_text(want))
    secret = pushes.row_key_secret(app.state.runtime.settings, acc.grant)
    real_ids = {r["id_number"] for r in acc.rows if r["region_code"] == REGION}
    assert sorted(r[-1] for r in pushed) == sorted(row_key_value([i], key=secret) for i in real_ids)


def test_a_field_outside_the_grant_is_refused_naming_it(
    client: TestClient, acc: Acceptance
) -> None:
    data = f"{API}/data/{acc.code}"
    for path, named in [
        ("?手机号码=13800000000", "手机号码"),  # a filter by data item
        ("?phone__prefix=138", "手机号码"),  # by column name
        ("?ethnicity=汉族", "民族"),
        ("?fields=姓名,户籍地址", "户籍地址"),  # a column asked for
        ("?fields=name,record_no", "记录编号"),
        (f"/{acc.rows[0]['id_number']}?fields=phone", "手机号码"),  # the lookup
        ("/download?format=csv&fields=姓名,手机号码", "手机号码"),
        ("/download?format=xlsx&fields=occupation", "职业"),
        ("/download?format=jsonl&户籍地址__prefix=江西", "户籍地址"),
    ]:
        refused = client.get(data + path, headers=acc.token)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["detail"] == f"字段“{named}”不在授权范围内", path


def test_a_suspended_grant_stops_query_download_and_push_at_once(
    app: FastAPI, client: TestClient, db: Session, acc: Acceptance
) -> None:
    data = f"{API}/data/{acc.code}"
    assert client.get(data, headers=acc.token).status_code == 200
    _, before = frontend_table(acc.frontend)
    assert before

    # The provider's data changes: new people in the county, and one moves in. The center
    # takes them in; an active grant would push them on.
    newcomers = [
        dict(zip(COLUMNS, r, strict=True)) | {"updated_at": datetime(2026, 10, 12, 8, 30)}
        for r in population_rows(200, start=ROWS, as_of=AS_OF)
    ]
    newcomers = [r for r in newcomers if r["region_code"] == REGION]
    mover = next(r for r in acc.rows if r["region_code"] != REGION)
    with acc.source.begin() as conn:
        table = sa.Table("population", sa.MetaData(), autoload_with=conn)
        conn.execute(table.insert(), newcomers)
        conn.execute(
            table.update()
            .where(table.c.id_number == mover["id_number"])
            .values(region_code=REGION, updated_at=datetime(2026, 10, 12, 8, 45))
        )
    headers = as_user(client, app, db, acc.w.provider_officer)
    queued = client.post(
        f"{API}/bindings/{acc.binding_id}/runs", json={"kind": "incremental"}, headers=headers
    )
    assert queued.status_code == 202, queued.text
    assert work(app, acc.sent) == [f"run {queued.json()['id']}: succeeded"]
    run = client.get(f"{API}/runs/{queued.json()['id']}").json()
    assert run["rows_written"] == len(newcomers) + 1 > 1
    client.cookies.clear()

    grants.suspend_grant(
        db, actor=acc.w.provider_officer, grant_id=acc.grant.id, data=GrantActionIn(reason=REASON)
    )
    db.commit()

    for path in (
        "",
        "?limit=5",
        f"/{newcomers[0]['id_number']}",
        "/download?format=csv",
        "/download?format=xlsx",
        "/download?format=jsonl",
    ):
        refused = client.get(data + path, headers=acc.token)
        assert refused.status_code == 403, (path, refused.text)
        body = refused.json()
        assert f"已被暂停使用：{REASON}" in body["detail"], path
        assert body["grant_state"] == "suspended" and body["grant_id"] == acc.grant.id

    # The consumer's 立即推送 is refused with the reason, or queued and failing with it.
    headers = as_user(client, app, db, acc.w.consumer_officer)
    asked = client.post(f"{API}/pushes/{acc.push_id}/runs", json={}, headers=headers)
    if asked.status_code == 202:
        [outcome] = work(app, acc.sent)
        assert outcome.startswith(f"run {asked.json()['id']}: failed "), outcome
    else:
        assert asked.status_code in (403, 409), asked.text
        assert REASON in asked.json()["detail"]
    # So is the scheduled one, the next day.
    with clock.frozen(NEXT_DAY):
        tick(app, acc.sent)
        outcomes = work(app, acc.sent)
    pushed = client.get(f"{API}/pushes/{acc.push_id}/runs").json()
    last = pushed[0]
    assert f"run {last['id']}: failed {last['error']}" in outcomes
    for run in pushed[:-1]:  # every run after the first
        assert run["state"] == "failed" and run["rows_written"] == 0
        assert f"已被暂停使用：{REASON}" in run["error"]
    _, after = frontend_table(acc.frontend)
    assert sorted(after) == sorted(before)  # nothing new reached the front-end database


def test_after_retirement_every_path_refuses_the_resource_with_its_reason(
    app: FastAPI, client: TestClient, db: Session, acc: Acceptance
) -> None:
    """CAT-6, SR§9: announced a month ahead to the grant holder, the retirement then ends its
    grant, and access check, query, lookup, downloads and pushes refuse with the reason."""
    data, access = f"{API}/data/{acc.code}", f"/api/v1/sharing/access/{acc.code}"
    with clock.frozen("2026-10-13T09:00:00+08:00"):
        retirements.request_retirement(
            db,
            actor=acc.w.provider_officer,
            resource_id=acc.resource.id,
            data=RetirementIn(reason=RETIREMENT),
        )
        retirements.review_retirement(
            db,
            actor=acc.w.op,
            resource_id=acc.resource.id,
            decision=ReviewIn(approve=True),
            rules=SHANGRAO.rules,
        )
        db.commit()
        assert acc.resource.retires_on == date(2026, 11, 13)
        # The consumer holds a grant and never subscribed: it is told a month ahead.
        told = [n.title for n in inbox.list_notifications(db, actor=acc.w.consumer_officer).rows]
        assert "下架预告：人口基础信息 将于 2026-11-13 下架" in told
        usable = client.get(access, headers=acc.token)
        assert usable.status_code == 200 and usable.json()["usable"] is True
        assert client.get(data, headers=acc.token).status_code == 200
    _, before = frontend_table(acc.frontend)

    with clock.frozen("2026-11-13T00:30:00+08:00"):
        assert catalog_jobs.apply_due(app.state.runtime).retired == [acc.code]

    with clock.frozen("2026-11-13T09:00:00+08:00"):
        refused = client.get(access, headers=acc.token)
        assert refused.status_code == 403, refused.text
        body = _problem(refused)
        assert body["detail"] == RETIRED
        assert body["grant_state"] == "ended" and body["grant_id"] == acc.grant.id
        citizen = next(r for r in acc.rows if r["region_code"] == REGION)
        for path in (
            "",
            "?limit=5",
            f"/{citizen['id_number']}",
            "/download?format=csv",
            "/download?format=xlsx",
            "/download?format=jsonl",
        ):
            refused = client.get(data + path, headers=acc.token)
            assert refused.status_code == 403, (path, refused.text)
            assert _problem(refused)["detail"] == RETIRED, path

        # The consumer's 立即推送 is refused with the reason, or queued and failing with it.
        headers = as_user(client, app, db, acc.w.consumer_officer)
        asked = client.post(f"{API}/pushes/{acc.push_id}/runs", json={}, headers=headers)
        if asked.status_code == 202:
            [outcome] = work(app, acc.sent)
            assert outcome == f"run {asked.json()['id']}: failed {RETIRED}", outcome
        else:
            assert asked.status_code in (403, 409), asked.text
            assert asked.json()["detail"] == RETIRED
        client.cookies.clear()

    with clock.frozen("2026-11-14T10:00:00+08:00"):  # so is the scheduled one
        tick(app, acc.sent)
        outcomes = work(app, acc.sent)
        headers = as_user(client, app, db, acc.w.consumer_officer)
        pushed = client.get(f"{API}/pushes/{acc.push_id}/runs", headers=headers).json()
    last = pushed[0]
    assert last["trigger"] == "schedule", last
    # The provider's sync is no longer scheduled: the one run worked is the push's.
    assert outcomes == [f"run {last['id']}: failed {last['error']}"]
    for run in pushed[:-1]:  # every run after the first
        assert run["state"] == "failed" and run["rows_written"] == 0
        assert RETIRED in run["error"]
    _, after = frontend_table(acc.frontend)
    assert sorted(after) == sorted(before)  # nothing reached the front-end database


def _problem(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"] == PROBLEM, response.text
    return response.json()


# --- what the provider sees (SR§25, SHR-7) ----------------------------------------------------

USE_COUNT = re.compile(
    r'<tr class="use-count" data-kind="(\w+)"><td>[^<]*</td>'
    r'<td class="num">(\d+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td>'
)


def counts_on(page: str, number: str) -> dict[str, tuple[int, int, int]]:
    """The use counts the usage page shows for one grant: kind → (7 days, 30 days, total)."""
    start = page.index(f'data-grant="{number}"')
    end = page.find('class="grant-usage"', start)
    block = page[start : end if end > 0 else len(page)]
    return {k: (int(a), int(b), int(c)) for k, a, b, c in USE_COUNT.findall(block)}


def test_the_provider_sees_every_use_of_its_data_and_no_one_else_does(
    app: FastAPI, client: TestClient, db: Session, acc: Acceptance
) -> None:
    data = f"{API}/data/{acc.code}"
    citizen = next(r for r in acc.rows if r["region_code"] == REGION)
    assert client.get(f"{data}?limit=10", headers=acc.token).status_code == 200
    assert client.get(f"{data}?limit=10&行政区划代码=361102", headers=acc.token).status_code == 200
    assert client.get(f"{data}/{citizen['id_number']}", headers=acc.token).status_code == 200
    for fmt in ("csv", "xlsx", "jsonl"):
        assert client.get(f"{data}/download?format={fmt}", headers=acc.token).status_code == 200
    refused = client.get(f"{data}?手机号码=13800000000", headers=acc.token)
    assert refused.status_code == 403  # refused: logged, but no use of data
    county = len(expected(acc, key_of(app)))

    # The provider's page: per grant, counts by kind (the push ran in the fixture).
    as_user(client, app, db, acc.w.provider_officer)
    page = client.get("/sharing/usage")
    assert page.status_code == 200, page.text
    want = {
        "query": (2, 2, 2),
        "lookup": (1, 1, 1),
        "download_csv": (1, 1, 1),
        "download_xlsx": (1, 1, 1),
        "download_jsonl": (1, 1, 1),
        "push": (1, 1, 1),
    }
    assert counts_on(page.text, acc.grant.number) == want
    assert "最近 7 次使用" in page.text and "市民政局" in page.text

    # The same through the API, with the rows each use delivered, newest first.
    uses = client.get(f"/api/v1/sharing/grants/{acc.grant.id}/uses").json()
    assert {c["kind"]: (c["last_7_days"], c["total"]) for c in uses["counts"]} == {
        k: (v[0], v[2]) for k, v in want.items()
    }
    delivered = sorted((u["kind"], u["rows"]) for u in uses["latest"])
    assert delivered == sorted(
        [
            ("push", county),
            ("query", 10),
            ("query", 0),
            ("lookup", 1),
            ("download_csv", county),
            ("download_xlsx", county),
            ("download_jsonl", county),
        ]
    )
    listed = client.get("/api/v1/sharing/uses", params={"side": "provider"}).json()
    assert len(listed) == 7 and {u["consumer"] for u in listed} == {"市民政局"}

    # Exported as CSV, one line per use.
    exported = client.get("/sharing/usage/export.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["时间", "资源代码", "授权编号"]
    assert sorted(r[5] for r in table[1:]) == sorted(
        [
            "在线查询",
            "在线查询",
            "按主键查询",
            "下载 CSV",
            "下载 Excel",
            "下载 JSON Lines",
            "推送前置库",
        ]
    )
    assert {(r[1], r[2], r[4]) for r in table[1:]} == {(acc.code, acc.grant.number, "市民政局")}

    # The consumer sees its own uses on its grant page.
    as_user(client, app, db, acc.w.consumer_officer)
    grant_page = client.get(f"/sharing/grants/{acc.grant.id}")
    assert grant_page.status_code == 200
    assert 'id="use-counts"' in grant_page.text and "最近 7 次使用" in grant_page.text
    mine = client.get("/api/v1/sharing/uses", params={"side": "consumer"}).json()
    assert len(mine) == 7

    # Another department sees none of it, however it asks.
    other = organization(db, "市教育局")
    officer = actor_of(user(db, other, [Role.DATA_OFFICER]))
    db.commit()
    as_user(client, app, db, officer)
    page = client.get("/sharing/usage", params={"organization_id": acc.w.provider.id})
    assert page.status_code == 200 and acc.grant.number not in page.text
    assert client.get(f"/api/v1/sharing/grants/{acc.grant.id}/uses").status_code == 404
    peek = client.get("/api/v1/sharing/uses", params={"organization_id": acc.w.provider.id})
    assert peek.status_code == 403
    assert client.get("/api/v1/sharing/uses").json() == []
    exported = client.get(
        "/sharing/usage/export.csv", params={"organization_id": acc.w.provider.id}
    )
    assert len(list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))) == 1

    # The operator sees every department's (BZ§27).
    as_user(client, app, db, acc.w.op)
    page = client.get("/sharing/usage", params={"organization_id": "all"})
    assert counts_on(page.text, acc.grant.number) == want
    assert len(client.get("/api/v1/sharing/uses").json()) == 7
