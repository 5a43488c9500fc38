"""A connection reaches only what its department owns: an embedded SQLite file only from the
source directory the operator assigned to the department, never a file the platform keeps for
itself or another department's, and never the platform's own database on a server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from huey import MemoryHuey
from sqlalchemy import make_url
from sqlalchemy.orm import Session

from govshare.core.audit.models import AuditEntry
from govshare.core.errors import Forbidden, Invalid
from govshare.core.settings import Settings
from govshare.exchange import jobs, reach
from govshare.exchange.demo_data import POPULATION_COLUMNS, load_table, population_rows
from govshare.exchange.models import ConnectionRole, DatabaseKind
from govshare.exchange.schemas import ConnectionIn
from govshare.exchange.service import connections, source_directories
from govshare.identity.models import User
from tests.builders import organization
from tests.conftest import POSTGRES_URL, Cli
from tests.exchange.builders import (
    exchange_world,
    people_sqlite,
    population_binding_in,
    population_resource,
    settings_for,
    source_directory,
)
from tests.http import csrf_for, sign_in
from tests.sharing.builders import sharing_world

API = "/api/v1/exchange"
PROBLEM = "application/problem+json"


def _sqlite_in(database: str, name: str = "源库") -> ConnectionIn:
    return ConnectionIn(
        name=name, role=ConnectionRole.SOURCE, kind=DatabaseKind.SQLITE, database=database
    )


def _platform(data_dir: Path) -> Settings:
    """Settings whose platform database, center and portal database are real SQLite files in the data
    directory, as in a city's default deployment, and a file in the file store."""
    settings = settings_for(data_dir)
    for name in ("govshare.db", "center.db", "portal.db"):
        people_sqlite(data_dir / name, 3)
    people_sqlite(data_dir / "files" / "ab" / "stored.db", 3)
    assert (data_dir / "secret_key").is_file()
    return settings


def test_no_platform_file_nor_another_departments_can_be_a_source(
    db: Session, data_dir: Path
) -> None:
    w = sharing_world(db)
    settings = _platform(data_dir)
    source_directory(db, settings, w.provider.id, "sources")
    source_directory(db, settings, w.consumer.id, "depts/mzj")
    people_sqlite(data_dir / "sources" / "own.db", 3)
    people_sqlite(data_dir / "depts" / "mzj" / "mzj.db", 3)
    links = data_dir / "sources"
    (links / "center-link.db").symlink_to(data_dir / "center.db")
    (links / "mzj-link.db").symlink_to(data_dir / "depts" / "mzj" / "mzj.db")
    (links / "up").symlink_to(data_dir)
    os.link(data_dir / "center.db", links / "hard.db")
    attempts = {
        "platform database": str(data_dir / "govshare.db"),
        "platform database, relative": "govshare.db",
        "center": str(data_dir / "center.db"),
        "center, relative": "center.db",
        "portal database": str(data_dir / "portal.db"),
        "portal database, relative": "portal.db",
        "secret key": str(data_dir / "secret_key"),
        "secret key, relative": "secret_key",
        "stored file": "files/ab/stored.db",
        "another department's source": "depts/mzj/mzj.db",
        "another department's source, absolute": str(data_dir / "depts/mzj/mzj.db"),
        ".. out of the directory": "sources/../center.db",
        ".. into another department's": "sources/../depts/mzj/mzj.db",
        "symlink to the center": "sources/center-link.db",
        "symlink to another department's": "sources/mzj-link.db",
        "directory symlink out": "sources/up/center.db",
        "hard link to the center": "sources/hard.db",
        "SQLite URI": f"file:{data_dir / 'center.db'}",
        "SQLite URI of an own file": "file:sources/own.db?mode=rw",
        "URI parameters": "sources/own.db?vfs=unix-none",
        "URI parameter to another file": "sources/own.db?immutable=1&mode=ro",
        "percent escape": "sources/%2e%2e/center.db",
        "SQLAlchemy URL": f"sqlite:///{data_dir / 'center.db'}",
        "in memory": ":memory:",
        "right-to-left override": "sources/\u202ebd.nwo.db",
        "the directory itself": "sources",
        "the data directory": str(data_dir),
    }
    accepted = {}
    for what, path in attempts.items():
        try:
            connections.register_connection(
                db, actor=w.provider_officer, settings=settings, data=_sqlite_in(path, what)
            )
        except (Forbidden, Invalid) as exc:
            assert exc.field == "database", (what, exc)
        else:
            accepted[what] = path
    assert accepted == {}
    assert connections.list_connections(db, actor=w.provider_officer) == []


def test_a_file_in_the_departments_own_directory_works(db: Session, data_dir: Path) -> None:
    w = sharing_world(db)
    settings = _platform(data_dir)
    source_directory(db, settings, w.provider.id, "sources/gaj")
    people_sqlite(data_dir / "sources" / "gaj" / "nested" / "people.db", 3)
    (data_dir / "sources" / "gaj" / "current.db").symlink_to("nested/people.db")
    for name, path in {
        "relative": "sources/gaj/nested/people.db",
        "absolute": str(data_dir / "sources/gaj/nested/people.db"),
        "a link inside the directory": "sources/gaj/current.db",
    }.items():
        conn = connections.register_connection(
            db, actor=w.provider_officer, settings=settings, data=_sqlite_in(path, name)
        )
        assert conn.last_test_ok, conn.last_test_message
        assert conn.database == str((data_dir / "sources/gaj/nested/people.db").resolve())


def test_an_update_cannot_point_a_connection_elsewhere(db: Session, data_dir: Path) -> None:
    x = exchange_world(db, data_dir)
    people_sqlite(data_dir / "center.db", 3)
    with pytest.raises(Forbidden) as refused:
        connections.update_connection(
            db,
            actor=x.s.provider_officer,
            settings=x.settings,
            connection_id=x.source.id,
            data=_sqlite_in("center.db", x.source.name),
        )
    assert refused.value.field == "database"
    assert db.get(type(x.source), x.source.id).database.endswith("sources/gaj.db")


def test_a_file_swapped_for_a_link_is_refused_when_opened(db: Session, data_dir: Path) -> None:
    x = exchange_world(db, data_dir)
    people_sqlite(data_dir / "center.db", 3)
    source = data_dir / "sources" / "gaj.db"
    source.unlink()
    source.symlink_to(data_dir / "center.db")
    with pytest.raises(Forbidden) as refused:
        connections.url_of(x.source, x.settings)
    assert "之外" in refused.value.message and refused.value.field == "database"
    tested = connections.test_connection(
        db, actor=x.s.provider_officer, settings=x.settings, connection_id=x.source.id
    )
    assert not tested.last_test_ok and "之外" in tested.last_test_message


def test_source_directories_are_the_operators_to_assign(db: Session, data_dir: Path) -> None:
    w = sharing_world(db)
    settings = _platform(data_dir)
    with pytest.raises(Forbidden):
        source_directories.assign_source_directory(
            db,
            actor=w.provider_officer,
            settings=settings,
            organization_id=w.provider.id,
            path="sources/gaj",
        )
    assigned = source_directories.assign_source_directory(
        db, actor=w.op, settings=settings, organization_id=w.provider.id, path="./sources//gaj/"
    )
    assert assigned.path == "sources/gaj" and (data_dir / "sources" / "gaj").is_dir()
    entry = db.query(AuditEntry).filter_by(action="exchange.source_directory.assign").one()
    assert json.loads(entry.details) == {
        "organization": w.provider.name,
        "path": "sources/gaj",
        "previous": None,
    }
    (data_dir / "up").symlink_to(data_dir)
    refused = {}
    for path in (
        ".",
        "..",
        "/tmp",
        "files",
        "files/gaj",
        "center.db",
        "secret_key",
        "sources",  # holds 公安局's directory
        "sources/gaj/mzj",  # inside it
        "up",  # a link to the data directory
        "sources/../..",
        "file:sources/mzj",
        "sources/mzj?mode=rw",
    ):
        with pytest.raises((Forbidden, Invalid)) as caught:
            source_directories.assign_source_directory(
                db, actor=w.op, settings=settings, organization_id=w.consumer.id, path=path
            )
        refused[path] = caught.value.field
    assert set(refused.values()) == {"path"}
    mzj = source_directories.assign_source_directory(
        db, actor=w.op, settings=settings, organization_id=w.consumer.id, path="sources/mzj"
    )
    assert mzj.path == "sources/mzj"
    listed = source_directories.list_source_directories(db, actor=w.provider_officer)
    assert [d.path for d in listed] == ["sources/gaj"]


def test_the_platform_database_and_center_are_refused_on_a_server(
    db: Session, data_dir: Path
) -> None:
    w = sharing_world(db)
    platform = make_url(POSTGRES_URL)
    settings = settings_for(
        data_dir,
        database_url=POSTGRES_URL,
        center_database_url=str(platform.set(database="gs_center_elsewhere")),
    )
    for host in (platform.host, "localhost", "127.0.0.1", "LOCALHOST"):
        for database in (platform.database, "gs_center_elsewhere"):
            with pytest.raises(Forbidden) as refused:
                connections.register_connection(
                    db,
                    actor=w.provider_officer,
                    settings=settings,
                    data=ConnectionIn(
                        name="平台库",
                        role=ConnectionRole.SOURCE,
                        kind=DatabaseKind.POSTGRESQL,
                        host=host,
                        port=platform.port or 5432,
                        database=database,
                        username=platform.username or "",
                        db_schema="public",
                    ),
                )
            assert refused.value.field == "database" and "平台自身的数据库" in refused.value.message
    # Another database on the same server is the department's business, not the platform's.
    reach.refuse_platform_server(
        settings, kind="postgresql", host="127.0.0.1", port=5432, database="gaj_business"
    )
    reach.refuse_platform_server(
        settings, kind="postgresql", host="127.0.0.1", port=6543, database=platform.database
    )


# --- over HTTP: the probe that found it --------------------------------------------------------


def _as(client: TestClient, app: FastAPI, db: Session, user_id: int | None) -> dict[str, str]:
    client.cookies.clear()
    account = db.get(User, user_id)
    assert account is not None
    assert sign_in(client, account.username).status_code == 200
    return csrf_for(app, client)


def test_a_department_cannot_read_another_departments_database_over_http(
    app: FastAPI, client: TestClient, db: Session, tmp_path: Path
) -> None:
    """公安局's officer tries to register 卫健委's database file, the center and the platform's
    database as its own source; then registers a file of its own, binds its resource, swaps the
    file for a link to 卫健委's, and syncs. Nothing of 卫健委's reaches the center."""
    sent: list[int] = []
    app.state.exchange_jobs = jobs.JobQueue(MemoryHuey("reach"), sent.append)
    data_dir = app.state.runtime.settings.data_dir
    w = sharing_world(db)
    victim = organization(db, "市卫生健康委员会")
    resource = population_resource(w)
    secret_rows = data_dir / "depts" / "wjw" / "patients.db"
    _population_file(secret_rows, "患者甲")
    people_sqlite(data_dir / "center.db", 3)
    db.commit()

    headers = _as(client, app, db, w.op.user_id)
    for org_id, path in ((victim.id, "depts/wjw"), (w.provider.id, "depts/gaj")):
        assigned = client.put(
            f"{API}/source-directories/{org_id}", json={"path": path}, headers=headers
        )
        assert assigned.status_code == 200, assigned.text
    escape = client.put(
        f"{API}/source-directories/{w.provider.id}", json={"path": "depts"}, headers=headers
    )
    assert escape.status_code == 403 and escape.headers["content-type"] == PROBLEM
    assert escape.json()["field"] == "path"

    headers = _as(client, app, db, w.provider_officer.user_id)
    refused = client.put(
        f"{API}/source-directories/{w.provider.id}", json={"path": "depts/gaj2"}, headers=headers
    )
    assert refused.status_code == 403
    for path in (
        "depts/wjw/patients.db",
        str(secret_rows),
        "depts/gaj/../wjw/patients.db",
        "center.db",
        "govshare.db",
        "secret_key",
        f"file:{secret_rows}",
        "depts/gaj/x.db?vfs=unix-none",
    ):
        answer = client.post(
            f"{API}/connections",
            json={"name": "人口库", "role": "source", "kind": "sqlite", "database": path},
            headers=headers,
        )
        assert answer.status_code in (403, 422), (path, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["field"] == "database", answer.json()

    own = data_dir / "depts" / "gaj" / "people.db"
    _population_file(own, "居民乙")
    registered = client.post(
        f"{API}/connections",
        json={
            "name": "人口库",
            "role": "source",
            "kind": "sqlite",
            "database": "depts/gaj/people.db",
        },
        headers=headers,
    )
    assert registered.status_code == 201, registered.text
    binding_in = population_binding_in(resource.id, registered.json()["id"], "population")
    bound = client.post(f"{API}/bindings", json=binding_in.model_dump(mode="json"), headers=headers)
    assert bound.status_code == 201, bound.text
    own.unlink()
    own.symlink_to(secret_rows)  # swapped after every check at registration
    queued = client.post(
        f"{API}/bindings/{bound.json()['id']}/runs", json={"kind": "full"}, headers=headers
    )
    assert queued.status_code == 202, queued.text
    (done,) = [jobs.execute(app.state.runtime, run_id) for run_id in sent]
    assert done.startswith(f"run {queued.json()['id']}: failed"), done
    run = client.get(f"{API}/runs/{queued.json()['id']}").json()
    assert run["rows_read"] == 0 and "源库目录" in run["error"], run
    center = app.state.runtime.center
    table = bound.json()["center_table"]
    if sa.inspect(center.engine).has_table(table, schema=center.schema):
        with center.engine.connect() as conn:
            assert (
                conn.execute(
                    sa.select(sa.func.count()).select_from(sa.table(table, schema=center.schema))
                ).scalar_one()
                == 0
            )


def _population_file(path: Path, name: str) -> None:
    """A population table whose every row carries `name`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    at = [c for c, _ in POPULATION_COLUMNS].index("name")
    rows = [(*r[:at], name, *r[at + 1 :]) for r in population_rows(5)]
    load_table(f"sqlite:///{path}", "population", POPULATION_COLUMNS, rows, key="id_number")


def test_the_operator_assigns_a_directory_from_the_console(govshare_cli: Cli) -> None:
    from govshare.core.uscc import check_character

    first17 = "11369000MB0000001"
    added = govshare_cli("org", "add", "江州市公安局", first17 + check_character(first17))
    assert added.exit_code == 0, added.output
    assigned = govshare_cli("exchange", "source-dir", "1", "sources/gaj")
    assert assigned.exit_code == 0, assigned.output
    assert "已为 江州市公安局 分配源库目录" in assigned.output
    assert (govshare_cli.data_dir / "sources" / "gaj").is_dir()
    refused = govshare_cli("exchange", "source-dir", "1", "../elsewhere")
    assert refused.exit_code == 2 and "平台数据目录之下的子目录" in refused.output
    platform = govshare_cli("exchange", "source-dir", "1", ".")
    assert platform.exit_code == 2 and "path" in platform.output


def test_overlong_hosts_and_paths_are_refused_not_server_errors(
    app: FastAPI, client: TestClient, db: Session
) -> None:
    """A host name label past 63 characters, or a path past the file system's limit, is bad
    input: 422 or 403 naming the field, never a 500."""
    w = sharing_world(db)
    db.commit()
    headers = _as(client, app, db, w.op.user_id)
    client.put(
        f"{API}/source-directories/{w.provider.id}", json={"path": "depts/gaj"}, headers=headers
    )
    headers = _as(client, app, db, w.provider_officer.user_id)
    attempts = [
        {
            "name": "长主机名",
            "role": "source",
            "kind": "postgresql",
            "host": "a" * 70 + ".example",
            "port": 5432,
            "database": "db",
            "username": "u",
            "password": "p",
        },
        {
            "name": "长路径",
            "role": "source",
            "kind": "sqlite",
            "database": "depts/gaj/" + "x" * 300 + ".db",
        },
        {
            "name": "长路径",
            "role": "source",
            "kind": "sqlite",
            "database": "depts/gaj/" + "y/" * 150 + "z.db",
        },
    ]
    for body in attempts:
        answer = client.post(f"{API}/connections", json=body, headers=headers)
        assert answer.status_code in (403, 422), (body["name"], answer.status_code, answer.text)
        assert answer.headers["content-type"] == PROBLEM
