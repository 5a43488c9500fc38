"""The pages in a real headless Chromium, against a live demo city."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import govshare.core.calendar
from tests.web.conftest import sign_in

pytestmark = pytest.mark.browser


def test_operator_signs_in_and_sees_the_operator_home(page: Page) -> None:
    sign_in(page, "operator")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("h1")).to_contain_text("您好")
    expect(page.locator("nav.mainnav")).to_contain_text("用户管理")
    expect(page.locator(".tile", has_text="组织机构")).to_be_visible()


def test_wrong_password_shows_a_clear_message(page: Page) -> None:
    sign_in(page, "authority", "not-the-password1")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    expect(page).to_have_url(re.compile(r"/login"))


def test_locked_account_says_so_even_with_the_right_password(page: Page) -> None:
    for _ in range(5):
        sign_in(page, "mzj_head", "wrong-password9")
    expect(page.locator("#login-error")).to_contain_text("账户已锁定")
    sign_in(page, "mzj_head")
    expect(page.locator("#login-error")).to_contain_text("账户已锁定")


def test_operator_is_told_why_a_credit_code_is_refused(page: Page) -> None:
    sign_in(page, "operator")
    page.goto("/admin/organizations/new")
    page.fill("#name", "江州市档案馆")
    page.fill("#uscc", "11369000MB0000000X")
    page.click("main button[type=submit]")
    expect(page.locator(".field-error")).to_contain_text("校验码错误")
    expect(page.locator("#name")).to_have_value("江州市档案馆")


def test_calendar_page_computes_a_deadline_across_national_day(page: Page) -> None:
    sign_in(page, "gaj_officer")
    page.goto("/calendar?start=2026-09-30&n=1")
    expect(page.locator("#deadline-result")).to_contain_text("2026-10-08")


def test_auditor_filters_the_log_and_verifies_the_chain(page: Page) -> None:
    sign_in(page, "auditor")
    page.goto("/audit?action=identity.sign_in")
    expect(page.locator("table tbody tr").first).to_contain_text("identity.sign_in")
    page.click("text=校验审计链")
    expect(page.locator("#verify-result")).to_contain_text("审计链完整")


def test_operator_imports_a_year_and_its_deadlines_stop_being_provisional(page: Page) -> None:
    sample = Path(govshare.core.calendar.__file__).parent / "samples" / "2027.yaml"
    sign_in(page, "operator")
    page.goto("/calendar?start=2027-09-30&n=1")
    expect(page.locator("#deadline-result")).to_contain_text("暂定")
    page.set_input_files("input[name=schedule]", str(sample))
    with page.expect_navigation():
        page.click("text=上传并录入")
    expect(page.locator(".flash")).to_contain_text("已录入 2027 年")
    page.goto("/calendar?start=2027-09-30&n=1")
    expect(page.locator("#deadline-result")).to_contain_text("2027-10-08")
    expect(page.locator("#deadline-result")).not_to_contain_text("暂定")
