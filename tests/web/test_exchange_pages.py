"""The exchange pages over HTTP, as a provider's data officer and a consumer use them:
registering the department's databases (the password never shown again), binding a table
resource to its source table, running a sync and watching it progress, the overview, and the
resource page's "如何获取数据" panel (BZ§14).

The provider's business database is a real SQLite file inside the app's data directory; a
connection with a password goes to the local PostgreSQL server (a database of this file's
own), which trusts loopback and so accepts any password."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from huey import MemoryHuey
from sqlalchemy import create_engine, make_url, select, text, update
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.runtime import Runtime
from govshare.core.settings import Settings
from govshare.exchange.filestore import LocalStore
from govshare.exchange.jobs import JobQueue
from govshare.exchange.models import (
    BindingState,
    Connection,
    RunKind,
    RunState,
    SyncRun,
    TableBinding,
)
from govshare.exchange.pages.connections import type_label, watermark
from govshare.exchange.schemas import BindingIn, ConnectionIn
from govshare.exchange.service import bindings, connections, files, interfaces, run_execution, runs
from govshare.sharing.models import Grant
from tests.builders import count
from tests.catalog.builders import published
from tests.conftest import POSTGRES_URL
from tests.exchange.builders import source_directory
from tests.http import form_token, post_page_form, sign_in_as
from tests.sharing.builders import PDF, PEOPLE_ITEMS, Sharing, approved, sharing_world

NOW = "2026-09-25T10:00:00+08:00"
GRANT_IN_FORCE = "2026-10-12T10:00:00+08:00"  # the builders' grants run from 2026-10-01
MAPPING = {
    "姓名": "xm",
    "公民身份号码": "sfzh",
    "性别": "xb",
    "出生日期": "csrq",
    "户籍地址": "hjdz",
    "行政区划代码": "xzqh",
    "手机号码": "sjhm",
}
PEOPLE = [
    (1, "张三", "361102199001011234", "男", "1990-01-01", "信州区", "361102", "13800000001"),
    (2, "李四", "361103198505052345", "女", "1985-05-05", "广丰区", "361103", "13800000002"),
    (3, "王五", "361121197707073456", "男", "1977-07-07", "上饶县", "361121", "13800000003"),
]
PG_PASSWORD = "Pg-never-shown-7Q2x"


# --- fixtures and builders --------------------------------------------------------------------


@pytest.fixture
def world(db: Session) -> Iterator[Sharing]:
    """The sharing cast at a fixed moment: the provider 市公安局 with three published
    database resources, the consumer 市民政局, the operator."""
    with clock.frozen(NOW):
        w = sharing_world(db)
        db.commit()
        yield w


@pytest.fixture
def source(app: FastAPI, db: Session, world: Sharing, tmp_path: Path) -> Path:
    """The provider's business database: a SQLite file in the source directory the operator
    assigned to the provider inside the app's data directory."""
    source_directory(db, _settings(app), world.provider.id, "source")
    db.commit()
    path = tmp_path / "source" / "people.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE person (id INTEGER PRIMARY KEY, xm TEXT, sfzh TEXT, xb TEXT, csrq TEXT,"
        " hjdz TEXT, xzqh TEXT, sjhm TEXT, gxsj TIMESTAMP)"
    )
    conn.executemany(
        "INSERT INTO person VALUES (?, ?, ?, ?, ?, ?, ?, ?, '2026-09-20 08:00:00')", PEOPLE
    )
    conn.commit()
    conn.close()
    return path


@pytest.fixture(scope="module")
def pg_source() -> str:
    """A PostgreSQL database of this test file's own, for a connection with a password."""
    url = make_url(POSTGRES_URL)
    name = f"{url.database}_src"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name


@pytest.fixture
def jobs(app: FastAPI) -> MemoryHuey:
    """The app's job queue: Huey, keeping its jobs in memory instead of the database."""
    huey = MemoryHuey("test-exchange-pages", utc=True)

    @huey.task(name="exchange.run")
    def run_task(run_id: int) -> None:
        return None

    app.state.exchange_jobs = JobQueue(huey, run_task)
    return huey


def _runtime(app: FastAPI) -> Runtime:
    return app.state.runtime


def _settings(app: FastAPI) -> Settings:
    return _runtime(app).settings


def _connection(db: Session, w: Sharing, settings: Settings) -> Connection:
    source_directory(db, settings, w.provider.id, "source")
    return connections.register_connection(
        db,
        actor=w.provider_officer,
        settings=settings,
        data=ConnectionIn(
            name="人口库只读副本", role="source", kind="sqlite", database="source/people.db"
        ),
    )


def _binding(db: Session, w: Sharing, settings: Settings, **kw: Any) -> TableBinding:
    """The provider's conditional resource bound to the source table `person`."""
    conn = _connection(db, w, settings)
    fields: dict[str, Any] = {
        "resource_id": w.conditional.id,
        "connection_id": conn.id,
        "source_table": "person",
        "columns": [{"item": i, "column": c} for i, c in MAPPING.items()] + [],
        "key_columns": ["sfzh"],
        "change_column": None,
    }
    fields |= kw
    return bindings.save_binding(
        db, actor=w.provider_officer, settings=settings, data=BindingIn.model_validate(fields)
    )


def _execute(app: FastAPI, run_id: int) -> SyncRun:
    """What the worker does with the queued run: the real sync, into the app's center."""
    runtime = _runtime(app)
    run = run_execution.execute_run(
        runtime.sessions, settings=runtime.settings, center=runtime.center, run_id=run_id
    )
    assert run is not None
    return run


def _register(client: TestClient, data: dict[str, Any]) -> Any:
    """The list page's registration form, posted."""
    return post_page_form(client, "/exchange/connections", "/exchange/connections", data)


def _beside(html: str, input_id: str, message: str) -> bool:
    """Whether `message` is the error shown right after the input (or select) `input_id`."""
    pattern = (
        rf'id="{input_id}"[^>]*>(?:(?!id=").)*?'
        rf'<div class="field-error" role="alert">{re.escape(message)}'
    )
    return re.search(pattern, html, re.S) is not None


def _panel(html: str) -> str:
    found = re.search(r'<section class="card" id="access-panel">(.*?)</section>', html, re.S)
    assert found is not None, "no 如何获取数据 panel on the page"
    return found.group(1)


# --- connections ----------------------------------------------------------------------------


def test_sqlite_connection_is_tested_saved_and_listed(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, source: Path
) -> None:
    sign_in_as(client, db, world.provider_officer)
    saved = post_page_form(
        client,
        "/exchange/connections",
        "/exchange/connections",
        {
            "name": "人口库只读副本",
            "role": "source",
            "kind": "sqlite",
            "database": "source/people.db",
        },
    )
    assert saved.status_code == 303, saved.text
    detail = client.get(saved.headers["location"]).text
    assert "已登记" in detail and 'id="test-result"><span class="tag green">通过' in detail
    assert "无需密码" in detail
    listed = client.get("/exchange/connections").text
    row = re.search(r'<tr class="connection-row">(.*?)</tr>', listed, re.S)
    assert row is not None
    assert "人口库只读副本" in row.group(1) and "业务库只读副本" in row.group(1)
    assert "SQLite" in row.group(1) and str(source.resolve()) in row.group(1)
    conn = db.execute(select(Connection)).scalar_one()
    assert conn.database == str(source.resolve()) and conn.last_test_ok


def test_password_is_encrypted_and_never_shown_on_any_page(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, pg_source: str
) -> None:
    url = make_url(POSTGRES_URL)
    form = {
        "name": "前置交换库",
        "role": "frontend",
        "kind": "postgresql",
        "host": url.host or "127.0.0.1",
        "port": str(url.port or 5432),
        "database": pg_source,
        "username": "postgres",
        "password": PG_PASSWORD,
        "cipher": "sm4-gcm",
    }
    sign_in_as(client, db, world.provider_officer)
    saved = _register(client, form)
    assert saved.status_code == 303, saved.text
    page = saved.headers["location"]
    conn = db.execute(select(Connection)).scalar_one()
    assert conn.secret is not None and PG_PASSWORD.encode() not in conn.secret
    shown = [client.get(p).text for p in (page, "/exchange/connections", "/exchange")]
    assert "已加密保存（SM4-GCM（国密））" in shown[1]
    assert all(PG_PASSWORD not in html for html in shown)
    assert 'id="password" name="password" value=""' in shown[0]

    kept = post_page_form(client, page, page, {**form, "name": "前置交换库（新）", "password": ""})
    assert kept.status_code == 303, kept.text
    db.expire_all()
    conn = db.execute(select(Connection)).scalar_one()
    assert conn.name == "前置交换库（新）"
    assert connections.password_of(conn, _settings(app)) == PG_PASSWORD  # the old one kept

    typed = "Typed-but-refused-99"
    refused = post_page_form(client, page, page, {**form, "port": "99999", "password": typed})
    assert refused.status_code == 422
    assert _beside(refused.text, "port", "不能大于 65535")
    assert typed not in refused.text and PG_PASSWORD not in refused.text
    assert 'value="前置交换库"' in refused.text  # the typed name is kept


def test_invalid_connection_form_shows_the_rule_beside_the_field(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, tmp_path: Path
) -> None:
    sign_in_as(client, db, world.provider_officer)
    typed = {"name": "户籍业务库", "role": "source", "kind": "postgresql", "database": "hj"}
    no_host = _register(client, typed | {"password": "Typed-secret-1"})
    assert no_host.status_code == 422
    assert _beside(no_host.text, "host", "PostgreSQL 和 MySQL 连接必须填写主机地址")
    assert 'value="户籍业务库"' in no_host.text and 'value="hj"' in no_host.text
    assert "Typed-secret-1" not in no_host.text

    outside = tmp_path.parent / "outside.db"
    sqlite3.connect(outside).close()
    elsewhere = _register(client, typed | {"kind": "sqlite", "database": str(outside)})
    assert elsewhere.status_code == 403
    assert _beside(elsewhere.text, "database", "本单位尚未分配源库目录")
    source_directory(db, _settings(app), world.provider.id, "source")
    db.commit()
    elsewhere = _register(client, typed | {"kind": "sqlite", "database": str(outside)})
    assert elsewhere.status_code == 403
    assert _beside(elsewhere.text, "database", "SQLite 数据库文件必须位于本单位的源库目录")

    unnamed = _register(client, typed | {"name": "", "kind": "sqlite", "database": "x.db"})
    assert unnamed.status_code == 422 and _beside(unnamed.text, "name", "必填")
    assert count(db, Connection) == 0


def test_database_that_does_not_answer_is_not_saved_and_the_reason_is_shown(
    app: FastAPI, client: TestClient, db: Session, world: Sharing
) -> None:
    sign_in_as(client, db, world.provider_officer)
    closed = {"host": "127.0.0.1", "port": "1", "username": "reader", "password": "x"}
    refused = _register(
        client,
        {"name": "户籍业务库", "role": "source", "kind": "postgresql", "database": "hj"} | closed,
    )
    assert refused.status_code == 422
    assert _beside(refused.text, "host", "连接测试未通过，未保存")
    assert count(db, Connection) == 0


def test_test_button_reports_a_database_that_went_away(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, source: Path
) -> None:
    conn = _connection(db, world, _settings(app))
    db.commit()
    source.unlink()
    sign_in_as(client, db, world.provider_officer)
    page = f"/exchange/connections/{conn.id}"
    tested = post_page_form(client, page, f"{page}/test", {})
    assert tested.status_code == 303
    shown = client.get(page).text
    assert "测试未通过：" in shown and "不存在" in shown  # the flash, with the reason
    assert 'id="test-result"><span class="tag red">未通过' in shown
    db.expire_all()
    assert db.get(Connection, conn.id).last_test_ok is False  # type: ignore[union-attr]


# --- bindings -----------------------------------------------------------------------------


def _binding_form(conn_id: int, w: Sharing, **kw: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "resource_id": str(w.conditional.id),
        "connection_id": str(conn_id),
        "source_table": "person",
        "item": list(MAPPING),
        "column": list(MAPPING.values()),
        "key_columns": "sfzh",
        "change_column": "",
        "change_kind": "timestamp",
    }
    return form | kw


def test_binding_form_shows_each_error_beside_its_field(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, source: Path
) -> None:
    conn = _connection(db, world, _settings(app))
    db.commit()
    sign_in_as(client, db, world.provider_officer)
    page = f"/exchange/bindings/new?resource_id={world.conditional.id}"
    form = client.get(page).text
    assert form.count('name="item"') == len(PEOPLE_ITEMS)
    assert 'id="column_2"' in form and "公民身份号码" in form

    columns = list(MAPPING.values())
    columns[2] = ""
    typed = _binding_form(conn.id, world, source_table="person; drop", column=columns)
    bad = post_page_form(client, page, "/exchange/bindings", typed | {"key_columns": ""})
    assert bad.status_code == 422
    assert _beside(bad.text, "source_table", "表名格式为 表名 或 模式名.表名")
    assert _beside(bad.text, "column_3", "必填")
    assert _beside(bad.text, "key_columns", "请填写主键字段")
    assert 'id="column_1" name="column" value="xm"' in bad.text  # typed values kept

    missing = post_page_form(
        client, page, "/exchange/bindings", _binding_form(conn.id, world, source_table="persons")
    )
    assert missing.status_code == 422
    assert _beside(missing.text, "source_table", "无法读取源表 persons：表或视图不存在")

    columns = list(MAPPING.values())
    columns[0] = "xm_typo"
    typo = post_page_form(
        client, page, "/exchange/bindings", _binding_form(conn.id, world, column=columns)
    )
    assert typo.status_code == 422
    assert re.search(r'role="alert">源表 person 中没有字段 xm_typo</div>\s*</fieldset>', typo.text)

    unmapped = post_page_form(
        client, page, "/exchange/bindings", _binding_form(conn.id, world, key_columns="id")
    )
    assert unmapped.status_code == 422
    assert _beside(unmapped.text, "key_columns", "主键字段 id 必须是已对应的字段")
    assert count(db, TableBinding) == 0

    saved = post_page_form(client, page, "/exchange/bindings", _binding_form(conn.id, world))
    assert saved.status_code == 303, saved.text
    detail = client.get(saved.headers["location"]).text
    assert "库表绑定已保存" in detail and 'id="binding-state">自动同步' in detail
    assert "sfzh" in detail and "r_" in detail


def test_pausing_stops_the_schedule_and_resuming_runs_at_once(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, source: Path
) -> None:
    binding = _binding(db, world, _settings(app))
    db.commit()
    sign_in_as(client, db, world.provider_officer)
    page = f"/exchange/bindings/{binding.id}"
    assert post_page_form(client, page, f"{page}/pause", {}).status_code == 303
    shown = client.get(page).text
    assert "已暂停自动同步" in shown and 'id="binding-state">已暂停' in shown
    db.expire_all()
    paused = db.get(TableBinding, binding.id)
    assert paused is not None and paused.state is BindingState.PAUSED
    assert paused.next_run_at is None

    assert post_page_form(client, page, f"{page}/resume", {}).status_code == 303
    db.expire_all()
    resumed = db.get(TableBinding, binding.id)
    assert resumed is not None and resumed.state is BindingState.ACTIVE
    assert resumed.next_run_at is not None

    sign_in_as(client, db, world.consumer_officer)
    assert client.get(page).status_code == 403  # another department's binding


# --- runs -----------------------------------------------------------------------------------


def test_run_now_queues_a_job_and_the_run_page_follows_it_to_the_end(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, source: Path, jobs: MemoryHuey
) -> None:
    binding = _binding(db, world, _settings(app))
    db.commit()
    sign_in_as(client, db, world.provider_officer)
    page = f"/exchange/bindings/{binding.id}"
    queued = post_page_form(client, page, f"{page}/runs", {"kind": "full"})
    assert queued.status_code == 303, queued.text
    run = db.execute(select(SyncRun)).scalar_one()
    assert queued.headers["location"] == f"/exchange/runs/{run.id}"
    assert [task.args for task in jobs.pending()] == [(run.id,)]  # handed over after commit
    waiting = client.get(queued.headers["location"]).text
    assert "已发起全量同步" in waiting and 'data-state="queued"' in waiting
    assert f'hx-get="/exchange/runs/{run.id}/progress" hx-trigger="every 2s"' in waiting

    busy = client.get(page).text
    assert "结束后才能再发起" in busy
    token = form_token(busy, f"{page}/pause")
    again = client.post(f"{page}/runs", data={"kind": "incremental", "csrf_token": token})
    assert "未能发起同步：该同步任务正在排队或运行中" in again.text
    assert count(db, SyncRun) == 1

    done = _execute(app, run.id)
    assert done.state is RunState.SUCCEEDED, done.error
    fragment = client.get(f"/exchange/runs/{run.id}/progress", headers={"HX-Request": "true"})
    assert fragment.headers.get("HX-Refresh") == "true"  # the page reloads once, finished
    assert "hx-trigger" not in fragment.text and "<html" not in fragment.text
    shown = client.get(f"/exchange/runs/{run.id}").text
    assert 'data-state="succeeded"' in shown and "hx-trigger" not in shown
    assert "<dt>读取行数</dt><dd>3</dd>" in shown and "<dt>写入行数</dt><dd>3</dd>" in shown
    assert done.checksum and done.checksum in shown
    assert "没有未写入的行" in shown
    assert '<a href="/exchange/bindings" class="active"' in shown  # the run's tab, not 概览
    assert f'href="/exchange/bindings/{binding.id}"' in shown  # back to what it synced
    assert f'href="/exchange/runs/{run.id}"' in client.get(page).text  # the history


def test_running_run_shows_its_progress_and_keeps_polling(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, source: Path
) -> None:
    binding = _binding(db, world, _settings(app))
    run = runs.request_run(
        db, actor=world.provider_officer, binding_id=binding.id, kind=RunKind.FULL
    )
    db.commit()
    progress = update(SyncRun).where(SyncRun.id == run.id)
    db.execute(  # what a worker writes while it reads (run_execution._Progress)
        progress.values(
            state=RunState.RUNNING,
            started_at=clock.now(),
            heartbeat_at=clock.now(),
            rows_read=1200,
            expected_rows=5000,
        )
    )
    db.commit()
    sign_in_as(client, db, world.provider_officer)
    url = f"/exchange/runs/{run.id}/progress"
    known = client.get(url, headers={"HX-Request": "true"})
    assert "HX-Refresh" not in known.headers
    assert 'hx-trigger="every 2s"' in known.text and 'data-state="running"' in known.text
    assert '<progress id="run-bar" max="5000" value="1200"' in known.text
    assert "（24%）" in known.text

    db.execute(progress.values(rows_read=2600, expected_rows=None))
    db.commit()
    moving = client.get(url, headers={"HX-Request": "true"}).text
    assert '<progress id="run-bar" style="width:100%">' in moving  # no end known: indeterminate
    assert 'id="rows-read">2,600</strong> 行' in moving and 'hx-trigger="every 2s"' in moving


def test_overview_counts_todays_runs_of_the_department(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, source: Path
) -> None:
    binding = _binding(db, world, _settings(app))
    first = runs.request_run(
        db, actor=world.provider_officer, binding_id=binding.id, kind=RunKind.FULL
    )
    db.commit()
    assert _execute(app, first.id).state is RunState.SUCCEEDED
    source.write_bytes(b"this is no longer a database file " * 64)  # the source breaks
    second = runs.request_run(
        db, actor=world.provider_officer, binding_id=binding.id, kind=RunKind.FULL
    )
    db.commit()
    assert _execute(app, second.id).state is RunState.FAILED

    sign_in_as(client, db, world.provider_officer)
    overview = client.get("/exchange").text
    assert 'id="today-succeeded">1</span>' in overview
    assert 'id="today-failed">1</span>' in overview
    assert "自动同步 1 个，已暂停 0 个" in overview
    for run in (first, second):
        assert f'href="/exchange/runs/{run.id}"' in overview
    failed = client.get(f"/exchange/runs/{second.id}").text
    assert 'id="run-error">失败原因：' in failed

    sign_in_as(client, db, world.consumer_officer)
    theirs = client.get("/exchange").text
    assert 'id="today-succeeded">0</span>' in theirs
    assert f'href="/exchange/runs/{first.id}"' not in theirs


def test_overview_shows_a_consumer_the_data_it_may_use_and_a_provider_what_to_bind(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, source: Path
) -> None:
    _binding(db, world, _settings(app))
    application = approved(world, fields=["姓名", "公民身份号码"])
    db.commit()
    code = world.conditional.code
    with clock.frozen(GRANT_IN_FORCE):
        sign_in_as(client, db, world.consumer_officer)
        theirs = client.get("/exchange").text
    usable = re.search(r'<section class="card" id="usable-data">(.*?)</section>', theirs, re.S)
    assert usable is not None, "no 本单位可使用的数据 on the consumer's overview"
    grant = db.get(Grant, application.grant_id)
    assert grant is not None and grant.number in usable.group(1)
    assert f'href="/exchange/data/{code}">在线查询、下载</a>' in usable.group(1)

    sign_in_as(client, db, world.provider_officer)
    own = client.get("/exchange").text
    assert 'id="usable-data"' in own and "没有有效的共享授权" in own  # it holds no grant
    others = (world.unconditional, world.not_shared)  # published; only conditional is bound
    unbound = [r for r in others if bindings.is_table_version(r.current_version)]
    assert unbound, "the world has no second table resource to leave unbound"
    assert f'id="unbound-count">{len(unbound)} 个资源待绑定源表' in own


def test_page_formats_read_as_a_clerk_reads_them() -> None:
    assert type_label("bigint") == "整数" and type_label("TIMESTAMP WITH TIME ZONE") == "日期时间"
    assert type_label("varchar(20)") == "文本" and type_label("interval") == "时间间隔"
    assert watermark("2026-11-20 22:48:55.000000") == "2026-11-20 22:48:55"
    assert watermark("2026-11-20 22:48:55.250000") == "2026-11-20 22:48:55.250000"
    assert watermark("1024") == "1024" and watermark(None) == ""


# --- the resource page's panel (BZ§14) ------------------------------------------------------


def test_resource_panel_shows_the_data_addresses_and_the_grant_scope(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, source: Path
) -> None:
    _binding(db, world, _settings(app))
    application = approved(
        world,
        fields=["姓名", "公民身份号码", "行政区划代码"],
        row_filter=[{"field": "行政区划代码", "op": "in", "values": ["361102"]}],
        masking=[{"field": "公民身份号码", "rule": "id_number"}],
    )
    db.commit()
    grant = db.get(Grant, application.grant_id)
    assert grant is not None
    code = world.conditional.code
    with clock.frozen(GRANT_IN_FORCE):
        sign_in_as(client, db, world.consumer_officer)
        panel = _panel(client.get(f"/catalog/resources/{world.conditional.id}").text)
    assert f"GET http://testserver/api/v1/exchange/data/{code}?姓名=…" in panel
    assert f"GET http://testserver/api/v1/exchange/data/{code}/{{主键值}}" in panel
    for fmt in ("csv", "xlsx", "jsonl"):
        assert f'href="/api/v1/exchange/data/{code}/download?format={fmt}"' in panel
    assert f'href="/exchange/data/{code}"' in panel
    assert f'href="/sharing/grants/{grant.id}">{grant.number}</a>' in panel
    assert "3 项：姓名、公民身份号码、行政区划代码" in panel
    assert "行政区划代码 属于其一 361102" in panel and "公民身份号码：身份证号脱敏" in panel
    assert "申请使用" not in panel


def test_resource_panel_without_a_grant_points_to_the_application(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, source: Path
) -> None:
    _binding(db, world, _settings(app))
    db.commit()
    sign_in_as(client, db, world.consumer_officer)
    panel = _panel(client.get(f"/catalog/resources/{world.conditional.id}").text)
    assert "本单位还没有该资源的共享授权" in panel
    assert f'href="/sharing/applications/new?resource={world.conditional.id}">申请使用' in panel
    assert f"/api/v1/exchange/data/{world.conditional.code}?" in panel  # how, once granted


def test_resource_panel_of_an_unbound_table_says_it_is_not_online_yet(
    app: FastAPI, client: TestClient, db: Session, world: Sharing
) -> None:
    sign_in_as(client, db, world.consumer_officer)
    panel = _panel(client.get(f"/catalog/resources/{world.unconditional.id}").text)
    assert "尚未把该资源接入交换系统" in panel
    assert "/api/v1/exchange/data/" not in panel
    assert 'href="#sharing-panel">获取授权（无需审核）' in panel


def test_resource_panel_of_a_service_interface_shows_the_gateway_call(
    app: FastAPI, client: TestClient, db: Session, world: Sharing
) -> None:
    api = published(
        db,
        world.provider_officer,
        world.op,
        name="人口信息核验接口",
        format="service_interface",
        share_methods=["service"],
        items=PEOPLE_ITEMS[:2],
    )
    interfaces.register_interface(
        db,
        actor=world.provider_officer,
        resource_id=api.id,
        data=interfaces.InterfaceIn(
            base_url="http://10.1.2.3:8080/api",
            endpoints=[
                {"method": "GET", "path": "/people/{id}", "summary": "按身份证号核验"},
                {"method": "POST", "path": "/people/batch", "summary": "批量核验"},
            ],
        ),
        default_timeout=10.0,
    )
    db.commit()
    sign_in_as(client, db, world.consumer_officer)
    panel = _panel(client.get(f"/catalog/resources/{api.id}").text)
    assert f"http://testserver/gateway/{api.code}/…" in panel
    assert (
        'curl -H "Authorization: Bearer &lt;接口令牌&gt;" '
        f"http://testserver/gateway/{api.code}/people/{{id}}"
    ) in panel
    assert "POST /people/batch" in panel and "10.1.2.3" not in panel  # never the upstream


def test_resource_panel_of_a_file_resource_links_its_latest_file(
    app: FastAPI, client: TestClient, db: Session, world: Sharing, tmp_path: Path
) -> None:
    report = published(
        db,
        world.provider_officer,
        world.op,
        name="户籍业务统计年报",
        format="electronic_file",
        share_methods=["file"],
    )
    files.upload_version(
        db,
        actor=world.provider_officer,
        store=LocalStore(tmp_path / "files"),
        resource_code=report.code,
        filename="年报.pdf",
        content_type="application/pdf",
        chunks=[PDF],
    )
    db.commit()
    sign_in_as(client, db, world.consumer_officer)
    panel = _panel(client.get(f"/catalog/resources/{report.id}").text)
    assert f"GET http://testserver/api/v1/exchange/files/{report.code}/content" in panel
    assert f'href="/exchange/files/{report.code}"' in panel
    assert "第 1 版 · 年报.pdf" in panel
