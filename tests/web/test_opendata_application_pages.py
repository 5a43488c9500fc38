"""The pages of the public's applications (开放申请) and data requests (数据开放需求) over HTTP:
the provider answers an application through its form — a refusal without its legal basis is
refused beside that field, what was typed kept; an approval reaches the portal as the
applicant's entitlement; another department gets a 404. The operator assigns a data request,
the department finds it on its responsibility list and answers it, and the portal shows the
answer. In Chromium, the new pages at a phone's and a desktop's width."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from govshare.core import calendar as working_days
from govshare.core import clock, migrate
from govshare.core.policy import load_profile
from govshare.core.runtime import build_runtime
from govshare.core.settings import load_settings
from govshare.exchange.center import Center
from govshare.identity.models import User
from govshare.opendata import publishing
from govshare.opendata.models import PublicApplication, PublicApplicationState, PublicDataRequest
from govshare.opendata.service import public, requests
from govshare.portal.accounts import SESSION_COOKIE
from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.models import (
    PortalApplication,
    PortalDataRequest,
    PortalEntitlement,
)
from govshare.portal.settings import PortalSettings
from govshare.web.app import create_app
from tests.builders import PASSWORD
from tests.exchange.builders import settings_of
from tests.http import post_page_form, sign_in_as
from tests.opendata.builders import Open, conditional_world
from tests.opendata.conftest import app as app  # the app with this test's center and portal
from tests.opendata.conftest import center as center
from tests.opendata.conftest import portal as portal
from tests.portal import signing
from tests.web.conftest import BROWSER_TIMEOUT_MS, _free_port, sign_in

SHANGRAO = load_profile("shangrao").rules
APPLIED = ["性别", "出生日期", "行政区划代码"]
REFUSAL = {
    "decision": "refuse",
    "answer": "所申请数据涉及企业商业秘密",
    "legal_basis": "",
    "valid_until": "",
}


def _apply(
    portal: PortalDatabase, o: Open, name: str = "李明", days_ago: int = 0, **account: Any
) -> None:
    """A citizen's application on the portal, as the portal stores it."""
    account_id = signing.account(portal, name, **account)
    with portal.session() as ps:
        ps.add(
            PortalApplication(
                account_id=account_id,
                dataset_id=o.resource.id,
                purpose="研究本市产业结构与能耗的关系",
                usage="仅在校内研究使用",
                fields=APPLIED,
                submitted_at=clock.now() - timedelta(days=days_ago),
                state="submitted",
            )
        )


def applied(db: Session, center: Center, portal: PortalDatabase, tmp_path: Path) -> Open:
    """A conditional dataset on the portal and one received application on it."""
    o = conditional_world(db, center)
    publishing.publish(
        db,
        actor=o.w.op,
        settings=settings_of(tmp_path),
        center=center,
        portal=portal,
        city_name="江州市",
    )
    _apply(portal, o)
    public.receive(db, actor=o.w.op, portal=portal, rules=SHANGRAO)
    db.commit()
    return o


def _only(db: Session) -> PublicApplication:
    return db.scalars(sa.select(PublicApplication)).one()


def _page(application: PublicApplication) -> str:
    return f"/opendata/applications/{application.id}"


def _section(html: str, id_: str) -> str:
    start = html.index(f'id="{id_}"')
    return html[start : html.index("</section>", start)]


def _error_after(html: str, name: str) -> str:
    """The field error right after the input or group named `name` in the answer form."""
    form = _section(html, "answer-form")
    found = re.search(
        rf'id="{name}".*?(?=<label for=|<label>|<fieldset|<div class="actions")', form, re.S
    )
    assert found is not None, f"no input {name}"
    error = re.search(r'class="field-error"[^>]*>([^<]+)<', found.group(0))
    return error.group(1) if error else ""


def test_a_refusal_without_its_legal_basis_is_refused_beside_that_field(
    client: TestClient, db: Session, center: Center, portal: PortalDatabase, tmp_path: Path
) -> None:
    o = applied(db, center, portal, tmp_path)
    application = _only(db)
    page = _page(application)
    sign_in_as(client, db, o.w.provider_officer)
    shown = client.get(page)
    assert shown.status_code == 200
    assert "110105********002X" in _section(shown.text, "applicant")
    assert "11010519491231002X" not in shown.text
    for name in APPLIED:  # every applied item offered, checked
        assert f'name="fields" value="{name}" checked' in shown.text

    refused = post_page_form(client, page, f"{page}/answer", REFUSAL)
    assert refused.status_code == 422, refused.text
    assert _error_after(refused.text, "legal_basis").startswith("不同意开放须写明法律政策依据")
    assert _error_after(refused.text, "answer_text") == ""
    assert _error_after(refused.text, "valid_until") == ""
    # What was typed is kept.
    assert 'name="decision" value="refuse" checked' in refused.text
    assert ">所申请数据涉及企业商业秘密</textarea>" in refused.text
    db.expire_all()
    assert _only(db).state is PublicApplicationState.PENDING

    # No decision at all: said beside the choice.
    undecided = post_page_form(client, page, f"{page}/answer", REFUSAL | {"decision": ""})
    assert undecided.status_code == 422
    assert _error_after(undecided.text, "decision") == "请选择“同意开放”或“不同意开放”"

    done = post_page_form(
        client,
        page,
        f"{page}/answer",
        REFUSAL | {"legal_basis": "《江州市公共数据开放管理办法》第二十二条"},
    )
    assert done.status_code == 303
    shown = client.get(page).text
    assert "已答复：不同意开放。已送达开放门户" in shown
    assert "第二十二条" in _section(shown, "answer") and 'id="answer-form"' not in shown
    with portal.session() as ps:
        on_portal = ps.scalars(sa.select(PortalApplication)).one()
        assert on_portal.state == "refused" and "第二十二条" in on_portal.legal_basis


def test_an_approval_delivers_the_applicants_entitlement_to_the_portal(
    client: TestClient, db: Session, center: Center, portal: PortalDatabase, tmp_path: Path
) -> None:
    o = applied(db, center, portal, tmp_path)
    application = _only(db)
    page = _page(application)
    sign_in_as(client, db, o.w.provider_officer)
    until = (clock.today() + timedelta(days=180)).isoformat()
    approval = {"decision": "approve", "valid_until": until, "answer": "限学术研究使用"}

    nothing = post_page_form(client, page, f"{page}/answer", approval)  # no item ticked
    assert nothing.status_code == 422
    assert _error_after(nothing.text, "fields") == "请至少勾选一个同意开放的信息项"
    assert f'value="{until}"' in nothing.text
    no_date = post_page_form(
        client, page, f"{page}/answer", approval | {"fields": APPLIED[:2], "valid_until": ""}
    )
    assert _error_after(no_date.text, "valid_until") == "同意开放须填写使用期限"
    assert 'value="性别" checked' in no_date.text and 'value="行政区划代码" >' in no_date.text

    done = post_page_form(client, page, f"{page}/answer", approval | {"fields": APPLIED[:2]})
    assert done.status_code == 303, done.text
    assert "已答复：同意开放。已送达开放门户" in client.get(page).text
    with portal.session() as ps:
        (entitlement,) = ps.scalars(sa.select(PortalEntitlement)).all()
        assert entitlement.fields == APPLIED[:2]
        assert entitlement.valid_until == date.fromisoformat(until)
        assert entitlement.dataset_id == o.resource.id
        assert ps.scalars(sa.select(PortalApplication)).one().state == "approved"


def test_another_department_gets_a_404(
    client: TestClient, db: Session, center: Center, portal: PortalDatabase, tmp_path: Path
) -> None:
    o = applied(db, center, portal, tmp_path)
    application = _only(db)
    page = _page(application)
    sign_in_as(client, db, o.w.consumer_officer)
    assert client.get(page).status_code == 404
    listed = client.get("/opendata/applications")
    assert listed.status_code == 200 and application.number not in listed.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert token is not None
    posted = client.post(
        f"{page}/answer",
        data=REFUSAL | {"legal_basis": "某办法第一条", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert posted.status_code == 404
    db.expire_all()
    assert _only(db).state is PublicApplicationState.PENDING
    # The provider's staff read it, without the form.
    sign_in_as(client, db, o.w.provider_staff)
    shown = client.get(page)
    assert shown.status_code == 200 and 'id="answer-form"' not in shown.text


def test_the_list_shows_deadlines_with_working_days_left_and_filters(
    client: TestClient, db: Session, center: Center, portal: PortalDatabase, tmp_path: Path
) -> None:
    o = applied(db, center, portal, tmp_path)
    application = _only(db)
    sign_in_as(client, db, o.w.provider_officer)
    listed = client.get("/opendata/applications").text
    left = working_days.load(db).working_days_between(clock.today(), application.due_on)
    assert left == 20
    row = listed[listed.index(f'href="{_page(application)}"') :]
    row = row[: row.index("</tr>")]
    assert application.due_on.isoformat() in row and f"剩余 {left} 个工作日" in row
    assert "李明" in row and "110105********002X" in row
    assert "全部（1）" in listed and "待答复（1）" in listed and "已超期（0）" in listed
    assert "没有超过答复期限的申请" in client.get("/opendata/applications?show=overdue").text

    # An application submitted six weeks ago, unanswered, is past its deadline: in red.
    _apply(
        portal,
        o,
        "江州大学",
        days_ago=42,
        kind="organization",
        id_number=None,
        credit_code="12360000491000000X",
        mobile="13900139000",
    )
    public.receive(db, actor=o.w.op, portal=portal, rules=SHANGRAO)
    db.commit()
    late = client.get("/opendata/applications?show=overdue").text
    assert "全部（2）" in late and "已超期（1）" in late
    assert late.count('class="od-overdue"') == 1 and "已超期</span> 超过" in late
    assert _page(application) not in late and "12360000491000000X" in late  # public code
    assert client.get("/opendata/applications?show=nonsense").status_code == 422
    # The operator sees every department's, with the tab in the section.
    sign_in_as(client, db, o.w.op)
    overseen = client.get("/opendata/applications").text
    assert _page(application) in overseen and 'href="/opendata/applications"' in overseen


# --- data requests ------------------------------------------------------------------------


def _request_on_portal(portal: PortalDatabase) -> int:
    """A citizen's data request on the portal, as the portal stores it; the account's id."""
    account_id = signing.account(
        portal, "王芳", id_number="440524199001010027", mobile="13900139000"
    )
    with portal.session() as ps:
        ps.add(
            PortalDataRequest(
                account_id=account_id,
                title="公交车辆实时位置",
                description="用于开发公交到站提醒应用，需要各线路车辆的实时经纬度",
                domain="transport",
                department="市公安局",
                submitted_at=clock.now(),
                state="submitted",
            )
        )
    return account_id


def test_a_data_request_is_assigned_answered_and_shown_on_the_portal(
    client: TestClient, db: Session, center: Center, portal: PortalDatabase, tmp_path: Path
) -> None:
    o = applied(db, center, portal, tmp_path)
    _request_on_portal(portal)
    (found,) = requests.receive_requests(db, actor=o.w.op, portal=portal)
    db.commit()
    page = f"/opendata/requests/{found.id}"

    sign_in_as(client, db, o.w.op)
    listed = client.get("/opendata/requests").text
    assert "1</strong> 条需求待分派" in listed and found.number in listed
    shown = client.get(page).text
    assert "王芳" in shown  # the operator sees who asked
    # The requester named 市公安局: it is chosen already.
    assert f'<option value="{o.w.provider.id}" selected>' in _section(shown, "assign-form")
    unchosen = post_page_form(client, page, f"{page}/assignment", {"organization_id": ""})
    assert unchosen.status_code == 422
    assert "请选择承办部门" in _section(unchosen.text, "assign-form")
    assigned = post_page_form(
        client, page, f"{page}/assignment", {"organization_id": str(o.w.provider.id)}
    )
    assert assigned.status_code == 303, assigned.text
    assert f"已分派给{o.w.provider.name}" in client.get(page).text
    with portal.session() as ps:
        assert ps.scalars(sa.select(PortalDataRequest)).one().assigned_department == (
            o.w.provider.name
        )

    # The department: on its responsibility list, then the answer form.
    sign_in_as(client, db, o.w.provider_officer)
    owed = client.get("/catalog/responsibilities").text
    assert '<span class="tag">公众数据开放需求</span>' in owed and f'href="{page}"' in owed
    shown = client.get(page).text
    assert "王*" in shown and "王芳" not in shown
    no_reason = post_page_form(client, page, f"{page}/answer", {"will_open": "no"})
    assert no_reason.status_code == 422
    form = _section(no_reason.text, "answer-form")
    assert "无法开放的，须说明理由" in form and 'value="no" checked' in form
    no_date = post_page_form(
        client, page, f"{page}/answer", {"will_open": "yes", "answer": "拟开放"}
    )
    assert "计划开放的，须填写计划开放日期" in _section(no_date.text, "answer-form")
    assert ">拟开放</textarea>" in no_date.text
    answered = post_page_form(
        client,
        page,
        f"{page}/answer",
        {"will_open": "yes", "planned_on": "2027-03-31", "answer": "将随交通数据一并开放"},
    )
    assert answered.status_code == 303, answered.text
    assert "已答复。已送达开放门户" in client.get(page).text
    assert f'href="{page}"' not in client.get("/catalog/responsibilities").text
    db.expire_all()
    assert db.get(PublicDataRequest, found.id).delivered_state == "answered"  # type: ignore[union-attr]

    public_portal = TestClient(
        create_portal_app(PortalSettings(database_url=portal.url), database=portal)
    )
    listed_publicly = public_portal.get("/requests").text
    assert "计划于 <strong>2027-03-31</strong> 前开放" in listed_publicly
    assert "提出人：王*" in listed_publicly and "王芳" not in listed_publicly

    # Another department neither sees it nor answers it.
    sign_in_as(client, db, o.w.consumer_officer)
    assert client.get(page).status_code == 404


# --- in Chromium ------------------------------------------------------------------------


@dataclass(frozen=True)
class AskingCity:
    url: str
    officer: str
    operator: str
    application: int
    request: int
    portal_token: str  # the requester's portal session


@pytest.fixture
def asking_city(tmp_path: Path) -> Iterator[AskingCity]:
    """A live platform with one received application and one received data request."""
    settings = load_settings(
        environ={
            "GOVSHARE_DATA_DIR": str(tmp_path / "data"),
            "GOVSHARE_POLICY_PROFILE": "shangrao",
            "GOVSHARE_CITY_NAME": "江州市",
        }
    )
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.engine)
    with runtime.transaction() as session:
        o = conditional_world(session, runtime.center)
        publishing.publish(
            session,
            actor=o.w.op,
            settings=settings,
            center=runtime.center,
            portal=runtime.portal,
            city_name="江州市",
        )
        _apply(runtime.portal, o)
        requester = _request_on_portal(runtime.portal)
        token, _ = signing.session(runtime.portal, requester)
        (application,) = public.receive(
            session, actor=o.w.op, portal=runtime.portal, rules=runtime.profile.rules
        )
        (asked,) = requests.receive_requests(session, actor=o.w.op, portal=runtime.portal)
        officer, operator = (
            session.get(User, a.user_id).username  # type: ignore[union-attr]
            for a in (o.w.provider_officer, o.w.op)
        )
        ids = application.id, asked.id
    app = create_app(runtime)
    portal_settings = PortalSettings(database_url=settings.portal_database_url)
    app.mount("/open", create_portal_app(portal_settings, database=runtime.portal))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20  # a guard against a hang, not a speed check
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield AskingCity(f"http://127.0.0.1:{port}", officer, operator, *ids, token)
    server.should_exit = True
    thread.join(timeout=10)
    runtime.engine.dispose()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: GOVSHARE_OPENDATA_SCREENSHOTS when set, else the test's directory."""
    directory = Path(os.environ.get("GOVSHARE_OPENDATA_SCREENSHOTS") or tmp_path / "shots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


def _signed_in(browser: Browser, city: AskingCity, width: str, username: str) -> Page:
    context = browser.new_context(base_url=city.url, locale="zh-CN", viewport=VIEWPORTS[width])
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    sign_in(page, username, PASSWORD)
    return page


def _shot(page: Page, shots: Path, name: str) -> None:
    """Nothing is wider than the window; then the picture."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the window"
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_the_application_and_request_pages_in_chromium(
    browser: Browser, asking_city: AskingCity, shots: Path
) -> None:
    city = asking_city
    for width in VIEWPORTS:
        op = _signed_in(browser, city, width, city.operator)
        op.goto("/opendata/requests")
        expect(op.locator("#waiting")).to_be_visible()
        _shot(op, shots, f"{width}-requests")
        op.goto(f"/opendata/requests/{city.request}")
        expect(op.locator("#assign-form")).to_be_visible()
        _shot(op, shots, f"{width}-request-assign")
        op.goto("/opendata/applications")
        expect(op.locator("#applications")).to_contain_text("110105********002X")
        _shot(op, shots, f"{width}-applications")
        op.context.close()

    # The provider refuses without a legal basis on a phone: the error stands beside it.
    phone = _signed_in(browser, city, "phone", city.officer)
    phone.goto(f"/opendata/applications/{city.application}")
    _shot(phone, shots, "phone-application")
    phone.check("#decision input[value=refuse]")
    phone.fill("#answer_text", "所申请数据涉及企业商业秘密")
    phone.click("#answer-form button[type=submit]")
    expect(phone.locator("#refuse-part .field-error")).to_contain_text("法律政策依据")
    expect(phone.locator("#answer_text")).to_have_value("所申请数据涉及企业商业秘密")
    _shot(phone, shots, "phone-application-refused")

    # On a desktop, the provider approves; the operator assigns the request, the provider
    # answers it.
    desk = _signed_in(browser, city, "desktop", city.officer)
    desk.goto(f"/opendata/applications/{city.application}")
    _shot(desk, shots, "desktop-application")
    desk.check("#decision input[value=approve]")
    desk.click("#answer-form button[type=submit]")
    expect(desk.locator(".flash")).to_contain_text("已答复：同意开放")
    expect(desk.locator("#state")).to_have_text("同意开放")
    _shot(desk, shots, "desktop-application-approved")

    op = _signed_in(browser, city, "desktop", city.operator)
    op.goto(f"/opendata/requests/{city.request}")
    op.click("#assign-form button[type=submit]")
    expect(op.locator(".flash")).to_contain_text("已分派给")
    op.context.close()

    desk.goto("/catalog/responsibilities")
    desk.get_by_role("row", name=re.compile("公众数据开放需求")).get_by_role("link").click()
    expect(desk.locator("#answer-form")).to_be_visible()
    _shot(desk, shots, "desktop-request-answer")
    phone.goto(f"/opendata/requests/{city.request}")
    _shot(phone, shots, "phone-request-answer")
    desk.check("#will_open input[value=no]")
    desk.click("#answer-form button[type=submit]")
    expect(desk.locator("#answer-form .field-error")).to_contain_text("须说明理由")
    desk.fill("#answer_text", "涉及车辆运营企业的商业秘密，暂不开放")
    desk.click("#answer-form button[type=submit]")
    expect(desk.locator("#state")).to_have_text("已答复")
    _shot(desk, shots, "desktop-request-answered")

    # On the portal: the requester's form refuses a bare title beside it; the public list.
    for width in VIEWPORTS:
        context = browser.new_context(base_url=city.url, locale="zh-CN", viewport=VIEWPORTS[width])
        context.add_cookies([{"name": SESSION_COOKIE, "value": city.portal_token, "url": city.url}])
        visitor = context.new_page()
        visitor.set_default_timeout(BROWSER_TIMEOUT_MS)
        visitor.goto("/open/requests")
        expect(visitor.locator("#requests")).to_contain_text("暂不能开放")
        expect(visitor.locator("#requests")).to_contain_text("提出人：王*")
        _shot(visitor, shots, f"{width}-portal-requests")
        visitor.goto("/open/request")
        visitor.fill("#description", "需要各线路车辆的实时经纬度，用于到站提醒")
        visitor.click("#request-form button[type=submit]")
        expect(visitor.locator("#title-error")).to_have_text("请填写需求名称")
        expect(visitor.locator("#description")).to_have_value(
            "需要各线路车辆的实时经纬度，用于到站提醒"
        )
        _shot(visitor, shots, f"{width}-portal-request-refused")
        context.close()
