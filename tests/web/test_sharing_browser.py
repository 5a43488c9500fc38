"""The sharing pages in headless Chromium against the demo city (Shangrao profile): a county
department applies for a conditional resource through the form — data items, an added
row-filter row, the sealed letter, the use restrictions — the operator forwards it and the
provider approves it with one data item masked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.sharing.builders import PDF
from tests.web.conftest import sign_in

pytestmark = pytest.mark.browser

RESOURCE = "机动车驾驶人信息"  # conditional, provided by the city public-security bureau
# County departments' data officers, one per test: a department has one open application
# for a resource at a time, and the tests share the demo city.
CONSUMERS = ("qs_rsj_officer", "qs_mzj_officer")
PROVIDER = "gaj_officer"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _switch(page: Page, username: str) -> None:
    page.context.clear_cookies()
    sign_in(page, username)


def _apply(page: Page) -> str:
    """Fills and submits the application form; the application page's address."""
    page.goto(f"/catalog?q={RESOURCE}")
    page.get_by_role("link", name=RESOURCE, exact=True).first.click()
    expect(page.locator("h1")).to_contain_text(RESOURCE)
    page.locator("#sharing-panel").get_by_role("link", name="申请使用").click()
    expect(page.locator("h1")).to_contain_text(f"申请使用：{RESOURCE}")
    expect(page.locator("#deadlines")).to_contain_text("3")
    page.fill("#purpose", "核验民生补贴申请人名下的驾驶证状态，防止冒领补贴")
    page.select_option("#system_id", label="青山县民生补贴审核系统")
    for item in ("驾驶证号码", "姓名", "准驾车型", "驾驶证状态"):
        page.locator(f"#fields input[value={item}]").check()
    rows = page.locator("#row_filter tbody tr")
    expect(rows).to_have_count(1)
    rows.nth(0).locator("select[name=filter_field]").select_option("准驾车型")
    rows.nth(0).locator("select[name=filter_op]").select_option("in")
    rows.nth(0).locator("input[name=filter_values]").fill("A1，B1")
    page.click("text=添加条件")
    expect(rows).to_have_count(2)
    rows.nth(1).locator("select[name=filter_field]").select_option("驾驶证状态")
    rows.nth(1).locator("input[name=filter_values]").fill("A")
    page.set_input_files(
        "#attachment_sealed_letter",
        files=[{"name": "申请函.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    page.check("#accept_restrictions")
    page.click("button:has-text('提交申请')")
    expect(page.locator(".flash")).to_contain_text("申请已提交")
    return page.url


def test_department_applies_and_sees_both_deadlines(page: Page) -> None:
    sign_in(page, CONSUMERS[0])
    _apply(page)
    expect(page.locator("#state")).to_have_text("待平台预审")
    expect(page.locator("tr[data-kind=pre_review] td.due")).to_contain_text(DATE)
    expect(page.locator("tr[data-kind=decision] td.due")).to_contain_text(DATE)
    expect(page.locator("tr[data-kind=decision] td.due")).to_contain_text("预计")
    expect(page.locator(".condition")).to_have_text(
        ["准驾车型 属于其一 A1、B1", "驾驶证状态 等于 A"]
    )
    expect(page.get_by_role("link", name=re.compile("申请函.pdf"))).to_be_visible()


def test_provider_approves_with_one_item_masked_and_the_grant_shows_it(page: Page) -> None:
    sign_in(page, CONSUMERS[1])
    url = _apply(page)

    _switch(page, "operator")
    page.goto(url)
    page.get_by_label("预审通过，转提供部门").check()
    page.click("button:has-text('提交预审意见')")
    expect(page.locator(".flash")).to_contain_text("已转提供部门答复")

    _switch(page, PROVIDER)
    page.goto("/sharing/decide")
    path = re.sub(r"^https?://[^/]+", "", url)
    page.locator(f'#waiting a[href="{path}"]').click()
    page.get_by_label("同意", exact=True).check()
    expect(page.locator("#fields input[value=姓名]")).to_be_checked()
    page.locator("#decide select[aria-label=姓名的脱敏规则]").select_option("name")
    page.click("button:has-text('提交答复')")
    expect(page.locator(".flash")).to_contain_text("已同意")
    expect(page.locator("#state")).to_have_text("已同意")
    page.locator("#decision").get_by_role("link", name="查看授权").click()
    expect(page.locator("h1")).to_contain_text("授权")
    expect(page.locator("#scope .mask")).to_have_text(["姓名：姓名脱敏"])
    expect(page.locator("#scope")).to_contain_text("驾驶证号码、姓名、准驾车型、驾驶证状态")
    expect(page.locator("#scope .condition")).to_have_count(2)
