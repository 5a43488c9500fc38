"""The catalog pages in headless Chromium against the demo city: the compile form's item
rows and duplicate warning (CAT-7), and the diff between two published versions."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import sign_in

pytestmark = pytest.mark.browser


def test_compile_form_warns_of_items_another_department_provides(page: Page) -> None:
    sign_in(page, "scjg_officer")
    page.goto("/catalog/new")
    page.fill("#name", "个体工商户经营者信息")
    page.fill("#summary", "个体工商户经营者的身份和联系信息")
    page.select_option("#domain", "enterprise_registration")
    page.locator("input.item-name").first.fill("经营者姓名")
    page.click("text=添加信息项")
    expect(page.locator("input.item-name")).to_have_count(2)
    second = page.locator("input.item-name").nth(1)
    second.fill("身份证号")
    page.locator("input[name=item_length]").nth(1).fill("18")
    second.dispatch_event("change")
    warning = page.locator("#duplicate-warning")
    expect(warning).to_contain_text("身份证号")
    expect(warning).to_contain_text("公民身份号码")
    expect(warning.locator("a", has_text="常住人口基本信息")).to_be_visible()
    page.locator("input[name=item_length]").first.fill("50")
    page.click("text=保存草稿")
    expect(page.locator(".flash")).to_contain_text("已保存草稿")
    expect(page.locator("table").first).to_contain_text("身份证号")


def test_diff_page_shows_the_changed_fields_of_two_published_versions(page: Page) -> None:
    sign_in(page, "gaj_officer")
    page.goto("/catalog/mine")
    page.click("text=常住人口基本信息")
    expect(page.locator("h1")).to_contain_text("常住人口基本信息")
    page.select_option("select[name=a]", "1")
    page.select_option("select[name=b]", "3")
    page.click("button:has-text('比较')")
    expect(page).to_have_url(re.compile(r"/diff\?a=1&b=3"))
    expect(page.locator("h1")).to_have_text("第 1 版 → 第 3 版")
    # v2 added two items; v3 opened a service interface and made updates real-time.
    fields = page.locator("#field-changes tbody tr")
    expect(fields).to_have_count(3)
    expect(page.locator("#field-changes [data-field=update_frequency]")).to_contain_text("实时")
    expect(page.locator("#field-changes [data-field=share_methods]")).to_contain_text("服务接口")
    expect(page.locator("#field-changes [data-field=timeliness]")).to_be_visible()
    items = page.locator("#item-changes tbody tr")
    expect(items).to_have_count(2)
    expect(items.filter(has_text="曾用名")).to_contain_text("新增")
    expect(items.filter(has_text="服务处所")).to_contain_text("新增")
