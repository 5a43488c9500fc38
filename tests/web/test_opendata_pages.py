"""The open-data pages (资源开放) over HTTP, as the provider's data officer and the platform
operator use them: the open-view form (a personal item left unmasked is refused by name and
nothing typed is lost), the secrecy review, submission, the operator's return or confirmation
(after which the portal's database holds the dataset), withdrawal, another department kept
out, and the list by state."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from govshare.core import migrate
from govshare.core.runtime import build_runtime
from govshare.core.settings import load_settings
from govshare.exchange.center import Center
from govshare.identity.models import User
from govshare.opendata import service
from govshare.opendata.models import OpenRelease, ReleaseState
from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalDataset
from govshare.portal.settings import PortalSettings
from govshare.web.app import create_app
from tests.browser import BROWSER_TIMEOUT_MS
from tests.builders import PASSWORD
from tests.http import post_page_form, sign_in_as
from tests.opendata.builders import REVIEW, Open, open_world, opened, view
from tests.opendata.conftest import app as app  # the app with this test's center and portal
from tests.opendata.conftest import center as center
from tests.opendata.conftest import portal as portal
from tests.web.conftest import _free_port, sign_in

RESOURCE = "户籍人口统计样本"  # tests/opendata/builders.open_world's resource

# The open view of tests/opendata/builders, as the form posts it.
VIEW: dict[str, Any] = {
    "fields": ["公民身份号码", "性别", "出生日期", "行政区划代码", "户籍地址"],
    "mask_field": ["公民身份号码", "户籍地址"],
    "mask_rule": ["hash", "keep_first"],
    "mask_n": ["", "6"],
    "filter_field": ["行政区划代码"],
    "filter_op": ["in"],
    "filter_values": ["361102"],
    "tags": "人口，统计",
}
REVIEW_FORM = {
    "reviewer": REVIEW.reviewer,
    "reviewed_on": REVIEW.reviewed_on.isoformat(),
    "basis": REVIEW.basis,
    "outcome": "passed",
}


def _form_page(o: Open) -> str:
    return f"/opendata/resources/{o.resource.code}/open-view"


def _release_page(release_id: int) -> str:
    return f"/opendata/releases/{release_id}"


def _item_row(html: str, name: str) -> str:
    start = html.index(f'data-item="{name}"')
    return html[start : html.index("</tr>", start)]


def _section(html: str, id_: str) -> str:
    start = html.index(f'id="{id_}"')
    return html[start : html.index("</section>", start)]


def _define(client: TestClient, o: Open, **changes: Any) -> Any:
    return post_page_form(client, _form_page(o), _form_page(o), VIEW | changes)


def _submitted(client: TestClient, db: Session, o: Open) -> int:
    """The provider's officer defines, reviews and submits through the pages; the release id."""
    sign_in_as(client, db, o.w.provider_officer)
    defined = _define(client, o)
    assert defined.status_code == 303, defined.text
    page = defined.headers["location"]
    reviewed = post_page_form(client, page, f"{page}/secrecy-review", REVIEW_FORM)
    assert reviewed.status_code == 303, reviewed.text
    submitted = post_page_form(client, page, f"{page}/submit", {})
    assert submitted.status_code == 303, submitted.text
    return int(page.rsplit("/", 1)[1])


def test_an_unmasked_personal_item_is_refused_by_name_and_the_form_keeps_its_values(
    client: TestClient, db: Session, center: Center
) -> None:
    o = open_world(db, center)
    db.commit()
    sign_in_as(client, db, o.w.provider_officer)
    listed = client.get("/opendata")
    assert listed.status_code == 200
    assert f'href="{_form_page(o)}"' in _section_of_table(listed.text, "openable")
    form = client.get(_form_page(o))
    assert form.status_code == 200
    assert "个人信息" in _item_row(form.text, "公民身份号码")
    assert "个人信息" not in _item_row(form.text, "性别")

    # 公民身份号码 is opened without a rule; 户籍地址 keeps its rule.
    refused = _define(client, o, mask_rule=["", "keep_first"])
    assert refused.status_code == 422, refused.text
    assert "开放范围未保存：信息项“公民身份号码”属于个人信息" in refused.text
    assert "须选择脱敏规则" in _item_row(refused.text, "公民身份号码")  # beside its rule
    assert "field-error" not in _item_row(refused.text, "户籍地址")
    # Nothing typed is lost: the checked items, the kept rule and its n, the condition, tags.
    for name in VIEW["fields"]:
        assert f'value="{name}" checked' in _item_row(refused.text, name), name
    kept = _item_row(refused.text, "户籍地址")
    assert '<option value="keep_first" selected>' in kept and 'value="6"' in kept
    filters = _section_of_fieldset(refused.text, "row_filter")
    assert '<option value="行政区划代码" selected>' in filters
    assert '<option value="in" selected>' in filters and 'value="361102"' in filters
    assert 'value="人口，统计"' in refused.text
    assert db.scalar(sa.select(sa.func.count()).select_from(OpenRelease)) == 0

    # A bad condition is shown beside its own row, the rest still kept.
    bad_row = _define(client, o, filter_values=[""])
    assert bad_row.status_code == 422
    assert "请填写“行政区划代码”的取值" in _section_of_fieldset(bad_row.text, "row_filter")


def _section_of_fieldset(html: str, id_: str) -> str:
    start = html.index(f'<fieldset id="{id_}"')
    return html[start : html.index("</fieldset>", start)]


def test_the_provider_opens_a_resource_and_the_operator_confirms_it_to_the_portal(
    client: TestClient, db: Session, center: Center, portal: PortalDatabase
) -> None:
    o = open_world(db, center)
    db.commit()
    sign_in_as(client, db, o.w.provider_officer)
    defined = _define(client, o)
    assert defined.status_code == 303, defined.text
    page = defined.headers["location"]
    shown = client.get(page).text
    assert "开放范围已保存" in shown and "草稿" in shown
    assert "公民身份号码" in _section(shown, "opened") and "密钥散列" in shown
    assert "行政区划代码 属于其一 361102" in shown
    assert f'action="{page}/submit"' not in shown  # no submit before a passed review

    # The review without an outcome is refused beside it; what was typed stays.
    missing = post_page_form(client, page, f"{page}/secrecy-review", REVIEW_FORM | {"outcome": ""})
    assert missing.status_code == 422
    review_form = _section(missing.text, "review-form")
    assert "请选择审查结论" in review_form and REVIEW.reviewer in review_form
    reviewed = post_page_form(client, page, f"{page}/secrecy-review", REVIEW_FORM)
    assert reviewed.status_code == 303
    shown = client.get(page).text
    assert "保密审查已登记：通过" in shown and "通过，可以开放" in shown
    submitted = post_page_form(client, page, f"{page}/submit", {})
    assert submitted.status_code == 303
    shown = client.get(page).text
    assert '<span class="tag amber" id="state">待平台确认</span>' in shown
    assert f'action="{page}/secrecy-review"' not in shown  # nothing to change while submitted

    sign_in_as(client, db, o.w.op)
    listed = client.get("/opendata").text
    assert "1</strong> 项开放发布待您确认" in listed
    confirmed = post_page_form(client, page, f"{page}/decision", {"decision": "approve"})
    assert confirmed.status_code == 303, confirmed.text
    shown = client.get(page).text
    with portal.session() as ps:
        dataset = ps.scalars(sa.select(PortalDataset)).one()
        assert dataset.code == o.resource.code and dataset.row_count
        assert f"已确认开放，已发布到开放门户：{dataset.row_count} 行数据" in shown
    assert '<span class="tag green" id="state">已开放</span>' in shown
    assert f"{dataset.row_count} 行" in _section(shown, "portal")
    assert 'id="dataset-link"' not in shown  # no portal mounted here: no link to guess
    assert f'action="{page}/decision"' not in shown


def test_the_operator_returns_with_a_reason_the_provider_reads(
    client: TestClient, db: Session, center: Center
) -> None:
    o = open_world(db, center)
    db.commit()
    release_id = _submitted(client, db, o)
    page = _release_page(release_id)
    sign_in_as(client, db, o.w.op)
    no_reason = post_page_form(client, page, f"{page}/decision", {"decision": "return"})
    assert no_reason.status_code == 422
    assert "退回须写明理由" in _section(no_reason.text, "decision-form")
    returned = post_page_form(
        client, page, f"{page}/decision", {"decision": "return", "comment": "户籍地址须全部脱敏"}
    )
    assert returned.status_code == 303
    sign_in_as(client, db, o.w.provider_officer)
    shown = client.get(page).text
    assert "已退回" in shown and "户籍地址须全部脱敏" in _section_of_div(shown, "returned")
    # The provider changes the view from the release page; the form starts from the view.
    assert f'href="{_form_page(o)}"' in shown
    form = client.get(_form_page(o)).text
    assert '<option value="keep_first" selected>' in _item_row(form, "户籍地址")
    changed = _define(client, o, mask_rule=["hash", "address"], mask_n=["", ""])
    assert changed.headers["location"] == page  # the same release, to be reviewed again
    assert "尚未登记保密审查" in client.get(page).text


def _section_of_div(html: str, id_: str) -> str:
    start = html.index(f'id="{id_}"')
    return html[start : html.index("</div></div>", start)]


def test_another_department_neither_sees_nor_opens_the_resource(
    client: TestClient, db: Session, center: Center
) -> None:
    o = open_world(db, center)
    release = service.define_view(
        db, actor=o.w.provider_officer, resource_code=o.resource.code, data=view()
    )
    db.commit()
    sign_in_as(client, db, o.w.consumer_officer)
    assert client.get(_release_page(release.id)).status_code == 404
    assert client.get(_form_page(o)).status_code == 403
    listed = client.get("/opendata")
    assert listed.status_code == 200
    assert o.resource.code not in listed.text  # neither as a release nor as openable
    # A post with its own session's CSRF token is refused by the service.
    token = re.search(r'name="csrf_token" value="([^"]+)"', listed.text)
    assert token is not None
    posted = client.post(
        _form_page(o), data=VIEW | {"csrf_token": token.group(1)}, follow_redirects=False
    )
    assert posted.status_code == 403
    review = client.post(
        f"{_release_page(release.id)}/secrecy-review",
        data=REVIEW_FORM | {"csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert review.status_code == 404
    db.expire_all()
    assert db.get(OpenRelease, release.id).secrecy_outcome is None  # type: ignore[union-attr]


def test_the_list_shows_each_release_by_state_and_filters_by_it(
    client: TestClient, db: Session, center: Center
) -> None:
    o = open_world(db, center)
    opened(db, o)
    db.commit()
    sign_in_as(client, db, o.w.provider_officer)
    listed = client.get("/opendata").text
    assert 'data-state="open"' in listed and "已开放" in listed
    assert o.resource.code not in _section_of_table(listed, "openable")  # open already
    assert "已开放（1）" in listed
    assert 'data-state="open"' in client.get("/opendata?state=open").text
    drafts = client.get("/opendata?state=draft").text
    assert 'data-state="open"' not in drafts and "没有“草稿”的开放发布" in drafts
    bad = client.get("/opendata?state=nonsense")
    assert bad.status_code == 422 and "请从列表中选择状态" in bad.text


def _section_of_table(html: str, id_: str) -> str:
    start = html.index(f'<table id="{id_}"')
    return html[start : html.index("</table>", start)]


def test_withdrawing_an_open_release_takes_it_off_the_portal(
    client: TestClient, db: Session, center: Center, portal: PortalDatabase
) -> None:
    o = open_world(db, center)
    db.commit()
    release_id = _submitted(client, db, o)
    page = _release_page(release_id)
    sign_in_as(client, db, o.w.op)
    assert post_page_form(client, page, f"{page}/decision", {"decision": "approve"}).status_code
    with portal.session() as ps:
        assert ps.scalar(sa.select(sa.func.count()).select_from(PortalDataset)) == 1
    sign_in_as(client, db, o.w.provider_officer)
    shown = client.get(page).text
    assert "撤回后，数据集将立即从开放门户撤下" in shown  # the form asks first
    no_reason = post_page_form(client, page, f"{page}/withdrawal", {"reason": ""})
    assert no_reason.status_code == 422
    assert "必填" in _section(no_reason.text, "withdraw-form")
    gone = post_page_form(client, page, f"{page}/withdrawal", {"reason": "数据口径调整"})
    assert gone.status_code == 303
    shown = client.get(page).text
    assert "已撤回，数据集已从开放门户撤下" in shown and "数据口径调整" in shown
    with portal.session() as ps:
        assert ps.scalar(sa.select(sa.func.count()).select_from(PortalDataset)) == 0
    db.expire_all()
    assert db.get(OpenRelease, release_id).state is ReleaseState.WITHDRAWN  # type: ignore[union-attr]


def test_an_open_release_links_to_its_dataset_on_a_mounted_portal(
    app: FastAPI, client: TestClient, db: Session, center: Center, portal: PortalDatabase
) -> None:
    app.mount("/open", create_portal_app(PortalSettings(database_url=""), database=portal))
    o = open_world(db, center)
    db.commit()
    release_id = _submitted(client, db, o)
    page = _release_page(release_id)
    sign_in_as(client, db, o.w.op)
    post_page_form(client, page, f"{page}/decision", {"decision": "approve"})
    shown = client.get(page).text
    link = re.search(r'href="([^"]+)" id="dataset-link"', shown)
    assert link is not None and "公众访问的开放门户" in shown
    assert link.group(1) == f"/open/dataset/{o.resource.code.lower().replace('/', '-')}"
    dataset = client.get(link.group(1))
    assert dataset.status_code == 200 and RESOURCE in dataset.text


# --- in Chromium ------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenCity:
    """A live platform with one openable resource and the portal mounted at /open."""

    url: str
    officer: str  # the provider's data officer
    operator: str


@pytest.fixture
def open_city(tmp_path: Path) -> Iterator[OpenCity]:
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
        o = open_world(session, runtime.center)
        officer, operator = (
            session.get(User, a.user_id).username  # type: ignore[union-attr]
            for a in (o.w.provider_officer, o.w.op)
        )
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
    yield OpenCity(f"http://127.0.0.1:{port}", officer, operator)
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


def _signed_in(
    browser: Browser, city: OpenCity, width: str, username: str, refused: list[str]
) -> Page:
    """A page of that width, signed in; what its Content-Security-Policy refuses goes to
    `refused` (Chromium reports it on the console)."""
    context = browser.new_context(base_url=city.url, locale="zh-CN", viewport=VIEWPORTS[width])
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    sign_in(page, username, PASSWORD)
    return page


def _shot(page: Page, shots: Path, name: str) -> None:
    """Nothing is wider than the window (tables scroll inside their box); then the picture."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the window"
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_a_resource_is_opened_in_chromium_on_a_phone_and_a_desktop(
    browser: Browser, open_city: OpenCity, shots: Path
) -> None:
    # The provider's data officer, on a phone: the form refuses the unmasked ID number.
    refused: list[str] = []
    page = _signed_in(browser, open_city, "phone", open_city.officer, refused)
    page.goto("/opendata")
    expect(page.locator("#openable")).to_contain_text(RESOURCE)
    _shot(page, shots, "phone-list")
    page.locator("#openable").get_by_role("link", name="定义开放范围").click()
    expect(page.locator("h1")).to_contain_text(f"定义开放范围：{RESOURCE}")
    for item in VIEW["fields"]:
        page.locator(f'tr[data-item="{item}"] input[name=fields]').check()
    page.locator('tr[data-item="户籍地址"] select[name=mask_rule]').select_option("keep_first")
    page.locator('tr[data-item="户籍地址"] input[name=mask_n]').fill("6")
    condition = page.locator("#row_filter tbody tr").first
    condition.locator("select[name=filter_field]").select_option("行政区划代码")
    condition.locator("select[name=filter_op]").select_option("in")
    condition.locator("input[name=filter_values]").fill("361102")
    page.fill("#tags", "人口，统计")
    page.click("button:has-text('保存开放范围')")
    expect(page.locator('tr[data-item="公民身份号码"] .field-error')).to_contain_text("脱敏规则")
    expect(page.locator("#form-error")).to_contain_text("公民身份号码")
    expect(page.locator('tr[data-item="公民身份号码"] input[name=fields]')).to_be_checked()
    expect(page.locator('tr[data-item="户籍地址"] input[name=mask_n]')).to_have_value("6")
    _shot(page, shots, "phone-form-refused")
    page.locator('tr[data-item="公民身份号码"] select[name=mask_rule]').select_option("hash")
    page.click("button:has-text('保存开放范围')")
    expect(page.locator(".flash")).to_contain_text("开放范围已保存")

    # The secrecy review, then submission.
    page.fill("#reviewer", REVIEW.reviewer)
    page.fill("#basis", REVIEW.basis)
    page.check("#outcome input[value=passed]")
    page.click("button:has-text('登记保密审查')")
    expect(page.locator(".flash")).to_contain_text("保密审查已登记：通过")
    page.click("#submit-form button")
    expect(page.locator("#state")).to_have_text("待平台确认")
    _shot(page, shots, "phone-detail-submitted")
    release = page.url

    # The operator, on a desktop, finds it first in the list and confirms it.
    desk = _signed_in(browser, open_city, "desktop", open_city.operator, refused)
    desk.goto("/opendata")
    expect(desk.locator("#waiting")).to_contain_text("1")
    expect(desk.locator("#releases tbody tr").first).to_have_attribute("data-state", "submitted")
    _shot(desk, shots, "desktop-list")
    desk.locator("#releases").get_by_role("link", name=RESOURCE).click()
    _shot(desk, shots, "desktop-detail-submitted")
    desk.click("button:has-text('确认开放')")
    expect(desk.locator(".flash")).to_contain_text("已发布到开放门户")
    expect(desk.locator("#state")).to_have_text("已开放")
    _shot(desk, shots, "desktop-detail-open")
    href = desk.locator("#dataset-link").get_attribute("href")
    assert href is not None and href.startswith("/open/dataset/")
    desk.goto(href)
    expect(desk.locator("h1")).to_contain_text(RESOURCE)

    # Back to the provider: open on the phone; the form, now on a desktop, starts from it.
    page.goto(release)
    expect(page.locator("#state")).to_have_text("已开放")
    expect(page.locator("#dataset-link")).to_be_visible()
    _shot(page, shots, "phone-detail-open")
    wide = _signed_in(browser, open_city, "desktop", open_city.officer, refused)
    wide.goto(release)
    wide.click("#change-view")
    expect(wide.locator("#open-now")).to_be_visible()
    expect(wide.locator('tr[data-item="公民身份号码"] select[name=mask_rule]')).to_have_value(
        "hash"
    )
    _shot(wide, shots, "desktop-form")
    assert refused == [], f"the pages' own content broke their policy: {refused}"
