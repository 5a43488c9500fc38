"""The push pages (前置库推送) over HTTP, as the consumer's data officer uses them: the list
with each push's last run, the new-push form (its grants with what they would push, its
front-end connections, errors beside the field in Chinese with the input kept), the push's
page with its runs, 立即推送, 暂停 and 恢复.

The provider's source and the consumer's front-end database are real SQLite files inside
the app's data directory; runs are executed as the worker does, into the app's center."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from huey import MemoryHuey
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock, migrate
from govshare.core.runtime import Runtime, build_runtime
from govshare.core.settings import load_settings
from govshare.exchange.jobs import JobQueue, execute
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
from govshare.exchange.schemas import ConnectionIn, PushIn
from govshare.exchange.service import connections, pushes, run_execution, runs
from govshare.identity.models import User
from govshare.sharing.models import Grant
from govshare.sharing.schemas import GrantActionIn
from govshare.sharing.service import grants
from govshare.web.app import create_app
from tests.browser import BROWSER_TIMEOUT_MS
from tests.builders import PASSWORD, count
from tests.exchange.builders import Exchange, exchange_world, source_directory
from tests.http import post_page_form, sign_in_as
from tests.sharing.builders import approved
from tests.web.conftest import _free_port
from tests.web.conftest import sign_in as browser_sign_in

USED_AT = "2026-10-12T10:00:00+08:00"  # the builders' grants run from 2026-10-01
NEW = "/exchange/pushes/new"


@dataclass
class World:
    x: Exchange
    runtime: Runtime
    grant: Grant
    front: Connection
    front_path: Path


def _execute(runtime: Runtime, run_id: int) -> SyncRun:
    run = run_execution.execute_run(
        runtime.sessions, settings=runtime.settings, center=runtime.center, run_id=run_id
    )
    assert run is not None
    return run


@pytest.fixture
def jobs(app: FastAPI) -> MemoryHuey:
    """The app's job queue: Huey, keeping its jobs in memory instead of the database."""
    huey = MemoryHuey("test-push-pages", utc=True)

    @huey.task(name="exchange.run")
    def run_task(run_id: int) -> None:
        return None

    app.state.exchange_jobs = JobQueue(huey, run_task)
    return huey


@pytest.fixture
def w(app: FastAPI, db: Session) -> Iterator[World]:
    """The provider's population table bound and synchronised into the app's center; the
    consumer 市民政局 holds a grant with its region filter and the ID number masked, and has
    a front-end database (a SQLite file with one table of its own, `dibao`)."""
    runtime: Runtime = app.state.runtime
    with clock.frozen(USED_AT):
        x = exchange_world(db, runtime.settings.data_dir, rows=40)
        application = approved(x.s, masking=[{"field": "公民身份号码", "rule": "id_number"}])
        grant = db.get(Grant, application.grant_id)
        assert grant is not None
        source_directory(db, x.settings, x.s.consumer.id, "front")
        path = runtime.settings.data_dir / "front" / "front.db"
        with sqlite3.connect(path) as front:
            front.execute("CREATE TABLE dibao (id TEXT PRIMARY KEY)")
        conn = connections.register_connection(
            db,
            actor=x.s.consumer_officer,
            settings=x.settings,
            data=ConnectionIn(
                name="民政前置库",
                role=ConnectionRole.FRONTEND,
                kind=DatabaseKind.SQLITE,
                database=str(path),
            ),
        )
        run = runs.request_run(
            db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
        )
        db.commit()
        assert _execute(runtime, run.id).state is RunState.SUCCEEDED
        yield World(x, runtime, grant, conn, path)


def _beside(html: str, input_id: str, message: str) -> bool:
    """Whether `message` is the error shown right after the input (or select) `input_id`."""
    pattern = (
        rf'id="{input_id}"[^>]*>(?:(?!id=").)*?'
        rf'<div class="field-error" role="alert">{re.escape(message)}'
    )
    return re.search(pattern, html, re.S) is not None


def _grant_error(html: str) -> str | None:
    """The error closing the grant fieldset, if any."""
    found = re.search(
        r'<div class="field-error" role="alert">([^<]*)</div>\s*</fieldset>', html, re.S
    )
    return found.group(1) if found else None


def _push(db: Session, w: World, table: str = "rk_share") -> Push:
    push = pushes.create_push(
        db,
        actor=w.x.s.consumer_officer,
        data=PushIn(grant_id=w.grant.id, connection_id=w.front.id, target_table=table),
    )
    db.commit()
    return push


# --- the list -------------------------------------------------------------------------------


def test_the_list_shows_each_push_with_its_last_run(
    client: TestClient, db: Session, w: World
) -> None:
    with clock.frozen(USED_AT):
        sign_in_as(client, db, w.x.s.consumer_officer)
        empty = client.get("/exchange/pushes").text
        assert "还没有前置库推送" in empty and 'href="/exchange/pushes/new"' in empty

        push = _push(db, w)
        run = runs.request_push_run(db, actor=w.x.s.consumer_officer, push_id=push.id)
        db.commit()
        assert _execute(w.runtime, run.id).state is RunState.SUCCEEDED
        html = client.get("/exchange/pushes").text
    row = re.search(r'<tr class="push-row">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = row.group(1)
    assert "常住人口基本信息" in cells and w.grant.number in cells
    assert "民政前置库" in cells and "rk_share" in cells and "同步中" in cells
    assert f'href="/exchange/runs/{run.id}"' in cells and 'data-state="succeeded"' in cells
    assert "写入 20 行" in cells  # two of the four regions, by the grant's row filter

    sign_in_as(client, db, w.x.s.provider_officer)  # the provider sees no push of the consumer's
    assert "还没有前置库推送" in client.get("/exchange/pushes").text


# --- the form -------------------------------------------------------------------------------


def test_the_form_explains_the_push_and_shows_what_each_grant_would_push(
    client: TestClient, db: Session, w: World
) -> None:
    with clock.frozen(USED_AT):
        sign_in_as(client, db, w.x.s.consumer_officer)
        html = client.get(NEW).text
    assert "推送会做什么" in html and "脱敏规则同样执行" in html and "对应建好" in html
    option = re.search(r'<tr class="grant-option">(.*?)</tr>', html, re.S)
    assert option is not None
    shown = option.group(1)
    assert f'id="grant_{w.grant.id}"' in shown and w.grant.number in shown
    assert "公民身份号码" in shown and "身份证号脱敏" in shown and "主键" in shown
    assert "户籍地址" in shown and "手机号码" not in shown  # granted items only
    assert "行政区划代码 属于其一 361102、361103" in shown
    assert f'<option value="{w.front.id}" selected>民政前置库（SQLite）</option>' in html
    assert "公安人口库只读副本" not in html  # the provider's source is not a front-end database


def test_form_errors_stand_beside_their_field_and_the_input_is_kept(
    client: TestClient, db: Session, w: World
) -> None:
    with clock.frozen(USED_AT):
        sign_in_as(client, db, w.x.s.consumer_officer)
        typed = {"grant_id": "", "connection_id": str(w.front.id), "target_table": "1rk"}
        bad = post_page_form(client, NEW, "/exchange/pushes", typed)
        assert bad.status_code == 422
        assert _grant_error(bad.text) == "请选择要推送的授权"
        assert _beside(bad.text, "target_table", "只能包含英文字母、数字和下划线，且不以数字开头")
        assert 'id="target_table" name="target_table" value="1rk"' in bad.text
        assert f'<option value="{w.front.id}" selected>' in bad.text

        chosen = {"grant_id": str(w.grant.id), "connection_id": "", "target_table": "dibao"}
        no_conn = post_page_form(client, NEW, "/exchange/pushes", chosen)
        assert no_conn.status_code == 422
        assert _beside(no_conn.text, "connection_id", "请选择本单位的前置交换库连接")
        assert f'id="grant_{w.grant.id}" checked>' in no_conn.text

        taken = post_page_form(
            client, NEW, "/exchange/pushes", chosen | {"connection_id": str(w.front.id)}
        )
        assert taken.status_code == 409
        assert _beside(taken.text, "target_table", "前置库中已有表 dibao。")
        assert 'value="dibao"' in taken.text

        source = chosen | {"connection_id": str(w.x.source.id), "target_table": "rk"}
        foreign = post_page_form(client, NEW, "/exchange/pushes", source)
        assert foreign.status_code == 403
        assert _beside(foreign.text, "connection_id", "只能推送到本单位登记的前置交换库连接")
    assert count(db, Push) == 0


# --- creating, running, pausing -------------------------------------------------------------


def test_a_created_push_runs_now_and_pauses_and_resumes_from_its_page(
    client: TestClient, db: Session, w: World, jobs: MemoryHuey
) -> None:
    with clock.frozen(USED_AT):
        sign_in_as(client, db, w.x.s.consumer_officer)
        form = {"grant_id": str(w.grant.id), "connection_id": str(w.front.id)}
        saved = post_page_form(client, NEW, "/exchange/pushes", form | {"target_table": "rk_share"})
        assert saved.status_code == 303, saved.text
        push = db.execute(select(Push)).scalar_one()
        page = f"/exchange/pushes/{push.id}"
        assert saved.headers["location"] == page
        detail = client.get(page).text
        assert "推送已创建" in detail and 'id="push-state">同步中' in detail
        columns = re.search(r'<table id="push-columns">(.*?)</table>', detail, re.S)
        assert columns is not None
        assert "id_number" in columns.group(1) and "身份证号脱敏" in columns.group(1)
        assert "TEXT" in columns.group(1) and "phone" not in columns.group(1)
        assert "还没有推送记录" in detail

        queued = post_page_form(client, page, f"{page}/runs", {"kind": ""})
        assert queued.status_code == 303, queued.text
        run = db.execute(select(SyncRun).where(SyncRun.push_id == push.id)).scalar_one()
        assert queued.headers["location"] == f"/exchange/runs/{run.id}"
        assert [task.args for task in jobs.pending()] == [(run.id,)]
        waiting = client.get(queued.headers["location"]).text
        assert "已发起推送（全量同步）" in waiting
        assert f'href="/exchange/pushes/{push.id}"' in waiting and "推送任务 #" in waiting
        assert f'href="/sharing/grants/{w.grant.id}"' in waiting  # the grant it pushes under
        assert '<a href="/exchange/pushes" class="active"' in waiting  # the pushes' tab
        assert f'hx-get="/exchange/runs/{run.id}/progress"' in waiting
        assert "结束后才能再发起" in client.get(page).text

        assert _execute(w.runtime, run.id).state is RunState.SUCCEEDED
        with sqlite3.connect(w.front_path) as front:
            assert front.execute("SELECT COUNT(*) FROM rk_share").fetchone() == (20,)
        history = client.get(page).text
        assert f'href="/exchange/runs/{run.id}"' in history and 'data-state="succeeded"' in history

        paused = post_page_form(client, page, f"{page}/pause", {"reason": "前置库迁移"})
        assert paused.status_code == 303
        shown = client.get(page).text
        assert "已暂停推送" in shown and 'id="push-state">已暂停' in shown
        assert "前置库迁移" in shown and f'action="{page}/runs"' not in shown
        db.expire_all()
        assert db.get(Push, push.id).state is PushState.PAUSED  # type: ignore[union-attr]

        assert post_page_form(client, page, f"{page}/resume", {}).status_code == 303
        assert 'id="push-state">同步中' in client.get(page).text
        db.expire_all()
        assert db.get(Push, push.id).state is PushState.ACTIVE  # type: ignore[union-attr]


def test_another_department_cannot_open_the_push(client: TestClient, db: Session, w: World) -> None:
    with clock.frozen(USED_AT):
        push = _push(db, w)
        sign_in_as(client, db, w.x.s.provider_officer)
        assert client.get(f"/exchange/pushes/{push.id}").status_code == 403
        own = client.get(NEW)  # the provider holds no grant itself
        assert own.status_code == 200 and "本单位目前没有可推送的授权" in own.text


# --- in Chromium ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PushCity:
    url: str
    jobs: MemoryHuey  # the app's job queue, worked by the test as `govshare worker` would
    officer: str  # the consumer's data officer's username
    front_path: Path


@pytest.fixture(scope="module")
def push_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushCity]:
    """A city of its own on loopback: the consumer of a synchronised population table, with a
    front-end database (a SQLite file in the data directory) and no push yet."""
    data_dir = tmp_path_factory.mktemp("push-city")
    settings = load_settings(
        environ={"GOVSHARE_DATA_DIR": str(data_dir), "GOVSHARE_POLICY_PROFILE": "shangrao"}
    )
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.engine)
    with clock.frozen(USED_AT), runtime.transaction() as db:
        x = exchange_world(db, data_dir, rows=40)
        approved(x.s, masking=[{"field": "公民身份号码", "rule": "id_number"}])
        source_directory(db, x.settings, x.s.consumer.id, "front")
        front_path = data_dir / "front" / "front.db"
        sqlite3.connect(front_path).close()
        connections.register_connection(
            db,
            actor=x.s.consumer_officer,
            settings=settings,
            data=ConnectionIn(
                name="民政前置库",
                role=ConnectionRole.FRONTEND,
                kind=DatabaseKind.SQLITE,
                database=str(front_path),
            ),
        )
        run = runs.request_run(
            db, actor=x.s.provider_officer, binding_id=x.binding.id, kind=RunKind.FULL
        )
        officer = db.get(User, x.s.consumer_officer.user_id).username  # type: ignore[union-attr]
    assert _execute(runtime, run.id).state is RunState.SUCCEEDED
    app = create_app(runtime)
    huey = MemoryHuey("test-push-city", utc=True)

    @huey.task(name="exchange.run")
    def run_task(run_id: int) -> str:
        return execute(runtime, run_id)  # the worker's own job

    app.state.exchange_jobs = JobQueue(huey, run_task)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    yield PushCity(f"http://127.0.0.1:{port}", huey, officer, front_path)
    server.should_exit = True
    thread.join(timeout=10)
    runtime.engine.dispose()


@pytest.mark.browser
def test_a_clerk_creates_a_push_through_the_form_and_watches_it_run(
    browser: Any, push_city: PushCity
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=push_city.url, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        browser_sign_in(page, push_city.officer, PASSWORD)
        page.goto("/exchange")
        page.locator(".subnav").get_by_role("link", name="前置库推送").click()
        expect(page.locator("h1")).to_have_text("前置库推送")
        page.get_by_role("link", name="新建推送").click()
        expect(page.locator("#how-it-works")).to_contain_text("脱敏规则同样执行")

        page.fill("#target_table", "rk_share")
        page.click("button:has-text('检查并创建推送')")
        expect(page.locator("#grant_id .field-error")).to_have_text("请选择要推送的授权")
        expect(page.locator("#target_table")).to_have_value("rk_share")  # kept

        page.get_by_label("常住人口基本信息").check()
        expect(page.locator("#connection_id")).to_have_value(re.compile(r"\d+"))
        page.click("button:has-text('检查并创建推送')")
        expect(page.locator(".flash")).to_contain_text("推送已创建")
        expect(page.locator("#push-state")).to_have_text("同步中")
        expect(page.locator("#push-columns")).to_contain_text("身份证号脱敏")
        push_page = page.url

        page.click("button:has-text('立即推送')")
        expect(page.locator(".flash")).to_contain_text("已发起推送")
        expect(page.locator("#run-progress [data-state]")).to_have_text("排队中")
        task = push_city.jobs.dequeue()  # the job the page handed over after its commit
        assert task is not None
        push_city.jobs.execute(task)
        # the run page polls its progress block and reloads itself once the run is done
        expect(page.locator("#run-progress [data-state]")).to_have_text(
            "成功", timeout=BROWSER_TIMEOUT_MS
        )
        expect(page.locator("#counters")).to_contain_text("20")

        page.goto(push_city.url + push_page.removeprefix(push_city.url))
        expect(page.locator(".runs .run-row")).to_have_count(1)
        page.locator("#manage input[name=reason]").fill("前置库停机维护")
        page.click("#manage button:has-text('暂停')")
        expect(page.locator("#push-state")).to_have_text("已暂停")
        expect(page.locator("#run-now")).to_contain_text("恢复后才能推送")
        page.click("#manage button:has-text('恢复')")
        expect(page.locator("#push-state")).to_have_text("同步中")
    finally:
        context.close()
    with sqlite3.connect(push_city.front_path) as front:
        assert front.execute("SELECT COUNT(*) FROM rk_share").fetchone() == (20,)


def test_the_push_page_says_when_the_grant_is_suspended(
    client: TestClient, db: Session, w: World
) -> None:
    with clock.frozen(USED_AT):
        push = _push(db, w)
        grants.suspend_grant(
            db,
            actor=w.x.s.provider_officer,
            grant_id=w.grant.id,
            data=GrantActionIn(reason="超范围使用"),
        )
        db.commit()
        sign_in_as(client, db, w.x.s.consumer_officer)
        html = client.get(f"/exchange/pushes/{push.id}").text
        problem = re.search(r'id="push-problem">([^<]*)</div>', html)
        assert problem is not None
        assert w.grant.number in problem.group(1) and "超范围使用" in problem.group(1)
        assert "推送随之停止" in problem.group(1)
        assert "没有可推送的授权" in client.get(NEW).text  # nor offered for a new push
