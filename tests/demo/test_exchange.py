"""The demo city's exchange: business databases bound and synchronised into the data resource
center through the run service, delivered under the demo story's grants (whole, or narrowed
and masked), a file version, and the demo company service answering through the gateway.

The city is the package's (`tests/demo/conftest.py`): built once per backend."""

from __future__ import annotations

import contextlib
import csv
import io
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from govshare import demo
from govshare.core import migrate
from govshare.core.audit.models import AuditEntry
from govshare.core.db import make_engine
from govshare.core.errors import ConfigError, Conflict
from govshare.core.permissions import Actor
from govshare.core.runtime import build_runtime
from govshare.core.settings import load_settings
from govshare.demo import comparison as comparison_demo
from govshare.demo import exchange as exchange_demo
from govshare.demo import opendata as opendata_demo
from govshare.exchange import demo_data, filestore
from govshare.exchange.center import Center, open_center
from govshare.exchange.demo_service import running_demo_service
from govshare.exchange.masking import Mask, mask_value
from govshare.exchange.models import (
    Connection,
    FileVersion,
    GatewayCall,
    RunKind,
    RunState,
    ServiceInterface,
    SyncRun,
    TableBinding,
)
from govshare.exchange.service import delivery, files
from govshare.identity import service as identity_service
from govshare.identity.models import User
from govshare.identity.schemas import ApiTokenIn
from govshare.sharing.models import Grant, GrantState
from govshare.web.app import create_app
from govshare.web.cli import _start_demo_service
from tests.builders import system_of
from tests.demo.conftest import City

API = "/api/v1/exchange/data/"


def _user(db: Session, username: str) -> User:
    return db.execute(select(User).where(User.username == username)).scalar_one()


def _actor(db: Session, username: str) -> Actor:
    return identity_service.actor_for_user(_user(db, username))


def _provider_rows(city: City, path: str, query: str) -> list[tuple]:
    conn = sqlite3.connect(city.data_dir / path)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def _client(city: City) -> TestClient:
    return TestClient(create_app(city.runtime), base_url="http://testserver")


def _sign_in(client: TestClient, username: str) -> None:
    client.cookies.clear()
    response = client.post(
        "/api/v1/session", json={"username": username, "password": demo.DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text


# --- the databases, bindings and first syncs ------------------------------------------------


def test_the_center_holds_the_population_register_after_the_build(city: City) -> None:
    with city.session() as db:
        binding = db.execute(
            select(TableBinding).where(
                TableBinding.resource_id == exchange_demo.demo_resource(db, "gaj_population").id
            )
        ).scalar_one()
        assert binding.connection.organization.short_name == "市公安局"
        assert binding.source_table == "population" and binding.key_columns == ["id_number"]
        assert binding.change_column == "updated_at"
        [run] = db.execute(select(SyncRun).where(SyncRun.binding_id == binding.id)).scalars()
        assert (run.kind, run.state, run.queued_by) == (
            RunKind.FULL,
            RunState.SUCCEEDED,
            "gaj_officer",
        )
        assert run.rows_written == exchange_demo.POPULATION_ROWS
    center = city.runtime.center
    table = center.table(binding.center_table, binding.columns, binding.key_columns)
    with center.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(table)).scalar_one()
        first = next(demo_data.population_rows(1))
        stored = conn.execute(
            select(table.c.name, table.c.birth_place).where(table.c.id_number == first[0])
        ).one()
    assert count == exchange_demo.POPULATION_ROWS
    county = demo_data.COUNTY_NAMES[first[0][:6]]
    assert tuple(stored) == (first[1], f"江西省上饶市{county}")
    # the source file is in the data directory, as the connection rules demand
    assert (city.data_dir / "provider" / "gaj" / "gaj.db").is_file()


def test_the_build_reports_its_steps(city: City) -> None:
    assert list(city.progress[: len(demo.STEPS)]) == [label for label, _ in demo.STEPS]
    assert city.progress[len(demo.STEPS)] == "证书管理"  # the CA, right after that transaction
    synced = city.progress.index("数据交换：首次同步到数据资源中心")
    assert city.progress.index("数据使用") > synced  # the consumers read what was synced
    # Last, in this order: supervision finds what the other steps left, a security check's
    # finding comes after it, and the evaluation scores all of it.
    assert city.progress[-4].startswith("开放数据")
    assert list(city.progress[-3:]) == ["监督考核", "安全管理", "考核评价"]


def test_every_bound_resource_was_synchronised(city: City) -> None:
    """Once, in full; the growing open series once more, incrementally."""
    with city.session() as db:
        bound = {b.resource.code: b for b in db.execute(select(TableBinding)).scalars()}
        expected = {
            exchange_demo.demo_resource(db, t.resource).code: (t.name, 1)
            for d in exchange_demo.DATABASES
            for t in d.tables
        }
        opened = opendata_demo.resources(db)
        expected |= {
            opened[d.key].code: (d.source[0], 2 if d.updates else 1) for d in opendata_demo.DATASETS
        }
        # 市卫健委's copy of the register: its corrections arrived in four incremental runs
        copy = exchange_demo.demo_resource(db, comparison_demo.COPY.resource).code
        expected[copy] = (comparison_demo.COPY.name, 5)
        assert set(bound) == set(expected)
        for code, binding in bound.items():
            table, count = expected[code]
            runs = list(
                db.execute(
                    select(SyncRun).where(SyncRun.binding_id == binding.id).order_by(SyncRun.id)
                ).scalars()
            )
            assert [(r.kind, r.state) for r in runs] == [
                (RunKind.FULL, RunState.SUCCEEDED),
                *[(RunKind.INCREMENTAL, RunState.SUCCEEDED)] * (count - 1),
            ], code
            source = _provider_rows(
                city, binding.connection.database, f'SELECT count(*) FROM "{table}"'
            )
            if code == copy:
                assert [r.rows_written for r in runs] == [20_000 - 50 + 30, 50, 25, 25, 10]
                assert source[0][0] == 20_000 - 50 + 30 + 25
                continue
            assert sum(r.rows_written for r in runs) == source[0][0] > 0, code
        names = sorted(c.name for c in db.execute(select(Connection)).scalars())
        assert names == sorted(
            [d.connection for d in exchange_demo.DATABASES]
            + [comparison_demo.DATABASE.connection]
            + [d["connection"] for d in opendata_demo.DEPARTMENTS.values()]
        )


def test_building_again_adds_nothing(city: City) -> None:
    def counts(db: Session) -> tuple[int, ...]:
        return tuple(
            db.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (AuditEntry, Connection, TableBinding, SyncRun, FileVersion)
        )

    with city.session() as db:
        before = counts(db)
    assert not demo.build_city(city.runtime)
    assert not exchange_demo.build(city.runtime)
    with city.session() as db:
        assert counts(db) == before


# --- delivery under the demo grants ----------------------------------------------------------


def test_a_whole_resource_grant_gets_every_column_unmasked(city: City) -> None:
    with city.session() as db:
        code = exchange_demo.demo_resource(db, "gaj_population").code
        first = next(demo_data.population_rows(1))
        page = delivery.query(
            db,
            actor=_actor(db, "mzj_officer"),
            settings=city.runtime.settings,
            center=city.runtime.center,
            resource_code=code,
            request=delivery.DataRequest(filters=[("公民身份号码", first[0])]),
            total=True,
        )
        db.commit()
    assert isinstance(page, delivery.DataPage), page
    assert page.grant.whole_resource and page.total == 1
    [row] = page.rows
    assert row["id_number"] == first[0] and row["name"] == first[1]
    assert "phone" not in row  # the register's phone numbers are no catalog item
    assert set(exchange_demo.POPULATION.items.values()) <= set(row)


def test_a_narrowed_grant_gets_its_rows_and_fields_with_the_id_masked(city: City) -> None:
    """市教育局's grant on residence registrations: six fields, residents who work or trade,
    the ID number masked."""
    with city.session() as db:
        code = exchange_demo.demo_resource(db, "gaj_residence_permit").code
        grant = db.execute(
            select(Grant).where(
                Grant.resource_id == exchange_demo.demo_resource(db, "gaj_residence_permit").id,
                Grant.consumer_id == _user(db, "jyj_officer").organization_id,
            )
        ).scalar_one()
        assert grant.state is GrantState.ACTIVE and not grant.whole_resource
    expected = {
        id_number: (name, reason)
        for id_number, name, reason in _provider_rows(
            city,
            "provider/gaj/gaj.db",
            "SELECT id_number, name, reason FROM residence_permit WHERE reason IN ('务工', '经商')",
        )
    }
    assert 0 < len(expected) < exchange_demo.RESIDENCE_ROWS  # the filter leaves some out
    key = delivery.masking_key(city.runtime.settings)
    with _client(city) as client:
        _sign_in(client, "jyj_officer")
        rows, url = [], f"{API}{code}?limit=1000&total=true"
        while url:
            response = client.get(url)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["total"] == (len(expected) if not rows else None)
            rows += body["rows"]
            url = (
                f"{API}{code}?limit=1000&cursor={body['next_cursor']}"
                if body["next_cursor"]
                else ""
            )
        assert [(f["item"], f["masking"]) for f in body["fields"]] == [
            ("姓名", None),
            ("公民身份号码", "id_number"),
            ("现住址", None),
            ("居住事由", None),
            ("居住证号码", None),
            ("有效期至", None),
        ]
        # a lookup by the raw ID finds the person, and shows the ID masked
        some_id = next(iter(expected))
        found = client.get(f"{API}{code}?公民身份号码={some_id}").json()["rows"]
        # the phone number is outside the grant
        refused = client.get(f"{API}{code}?fields=联系电话")
        assert refused.status_code == 403
    masked = sorted(  # masked IDs may coincide: compared as lists
        (mask_value(i, Mask("id_number"), key=key), *v) for i, v in expected.items()
    )
    assert sorted((r["id_number"], r["name"], r["reason"]) for r in rows) == masked
    assert all("*" in r["id_number"] for r in rows)
    assert [r["id_number"] for r in found] == [mask_value(some_id, Mask("id_number"), key=key)]


def test_the_data_page_shows_the_consumer_its_rows(city: City) -> None:
    with city.session() as db:
        code = exchange_demo.demo_resource(db, "scjg_enterprise").code
    first = next(demo_data.company_rows(1))
    with _client(city) as client:
        _sign_in(client, "swj_officer")
        page = client.get(f"/exchange/data/{code}", params={"统一社会信用代码": first[0]})
        assert page.status_code == 200
        assert first[1] in page.text  # the company's name
        _sign_in(client, "jtj_officer")  # no grant: the reason, and no data
        refused = client.get(f"/exchange/data/{code}", params={"统一社会信用代码": first[0]})
        assert refused.status_code == 403 and first[1] not in refused.text


# --- the file resource -----------------------------------------------------------------------


def test_the_bus_lines_file_has_a_first_version(city: City) -> None:
    with city.session() as db:
        resource = exchange_demo.demo_resource(db, exchange_demo.FILE_RESOURCE)
        [version] = db.execute(
            select(FileVersion).where(FileVersion.resource_id == resource.id)
        ).scalars()
        assert version.number == 1 and version.uploaded_by == "jtj_officer"
        assert version.filename.endswith(".csv") and version.content_type.startswith("text/csv")
        opened = files.open_version(
            db,
            actor=_actor(db, "jtj_officer"),
            store=filestore.store_for(city.runtime.settings),
            resource_code=resource.code,
        )
        content = b"".join(opened.chunks())
        items = [i.name for i in resource.current_version.items]
        db.commit()
    assert content == exchange_demo.bus_lines_csv()
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert list(rows[0]) == items
    assert len({r["线路编号"] for r in rows}) == len(exchange_demo._BUS_LINES)


# --- the service interface and the gateway ---------------------------------------------------


def test_the_demo_service_answers_a_token_call_through_the_gateway(city: City) -> None:
    with city.session() as db:
        resource = exchange_demo.demo_resource(db, exchange_demo.SERVICE_RESOURCE)
        interface = db.execute(
            select(ServiceInterface).where(ServiceInterface.resource_id == resource.id)
        ).scalar_one()
        assert interface.base_url == exchange_demo.service_url()
        assert sorted(e.signature for e in interface.endpoints) == [
            "GET /enterprises",
            "GET /enterprises/{uscc}",
            "POST /licences/verify",
        ]
        path = exchange_demo.gateway_path(db)
        tokens: dict[str, str] = {}
        for username in ("swj_officer", "jtj_officer"):  # 市税务局 holds a grant, 市交通运输局 not
            officer = _actor(db, username)
            _, tokens[username] = identity_service.issue_api_token(
                db,
                actor=officer,
                data=ApiTokenIn(name="业务系统", system_id=system_of(db, officer.organization_id)),
            )
        db.commit()
    uscc = exchange_demo.example_company()
    expected = next(r for r in demo_data.company_rows(10) if r[0] == uscc)
    with running_demo_service() as url:
        assert exchange_demo.use_service(city.runtime, url)
        assert not exchange_demo.use_service(city.runtime, url)
        with _client(city) as client:
            answer = client.get(path, headers={"Authorization": f"Bearer {tokens['swj_officer']}"})
            refused = client.get(path, headers={"Authorization": f"Bearer {tokens['jtj_officer']}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["uscc"] == uscc and answer.json()["name"] == expected[1]
    assert refused.status_code == 403
    with city.session() as db:
        calls = list(db.execute(select(GatewayCall).order_by(GatewayCall.id)).scalars())
        assert [c.status for c in calls[-2:]] == [200, 403]
        assert calls[-2].endpoint == "GET /enterprises/{uscc}"
        assert db.get(ServiceInterface, interface.id).base_url == url


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_service_port_in_use_is_a_clear_error() -> None:
    """(uvicorn's thread ends with SystemExit on the taken port: that is the failure.)"""
    with running_demo_service() as url, contextlib.ExitStack() as stack:
        port = int(url.rsplit(":", 1)[1])
        with pytest.raises(ConfigError, match="--service-port"):
            _start_demo_service(stack, port)


# --- a build that stopped half-way ------------------------------------------------------------


def test_a_first_sync_that_failed_is_run_again_by_the_next_build(
    engine: Engine, tmp_path: Path
) -> None:
    """The center unreachable on the first build: the city and its bindings stay, the error
    says which run failed, and the next build runs the syncs still missing."""
    if engine.dialect.name != "sqlite":
        pytest.skip("a city of its own, in a SQLite file: once is enough")
    settings = load_settings(
        environ={"GOVSHARE_DATA_DIR": str(tmp_path), "GOVSHARE_POLICY_PROFILE": "shangrao"}
    )
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.engine)
    unreachable = make_engine(f"sqlite:///{tmp_path / 'no-such-directory' / 'center.db'}")
    runtime.__dict__["center"] = Center(unreachable, None)
    try:
        with pytest.raises(Conflict, match="示范数据首次同步失败"):
            demo.build_city(runtime)
        with runtime.transaction() as db:
            assert [r.state for r in db.execute(select(SyncRun)).scalars()] == [RunState.FAILED]
        runtime.__dict__["center"] = open_center(settings.center_database_url, "")
        assert not demo.build_city(runtime)  # the city was there already
        with runtime.transaction() as db:
            states: dict[str, list[RunState]] = {}
            for run in db.execute(select(SyncRun).order_by(SyncRun.id)).scalars():
                states.setdefault(run.binding.resource.code, []).append(run.state)
            population = exchange_demo.demo_resource(db, "gaj_population").code
        assert states.pop(population) == [RunState.FAILED, RunState.SUCCEEDED]
        assert {state for runs in states.values() for state in runs} == {RunState.SUCCEEDED}
    finally:
        unreachable.dispose()
        runtime.center.engine.dispose()
        runtime.engine.dispose()
