"""The home page's overview in headless Chromium, on the demo city: every chart drawn by
ECharts beside the table of its numbers, the city's for the operator, a department's own for
its officer; on a phone's width, and the tables without scripts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import LiveServer, sign_in

pytestmark = pytest.mark.browser

# The charts of the overview; the city of the tests has its catalog and three months of
# sharing, no exchange: no uses, probes or notices, whose cards say there is nothing yet.
CITY_CHARTS = [
    "resources-by-department",
    "resources-by-domain",
    "grants-by-month",
    "uses-by-month",
    "deadlines",
    "availability",
    "notices",
]


def drawn(page: Page) -> list[str]:
    """The overview's charts that have figures, each checked to hold ECharts' drawing and a
    table of its numbers; the others say that there are none."""
    cards = page.locator("#overview .chart-card")
    expect(cards.first).to_be_visible()
    keys = []
    for i in range(cards.count()):
        card = cards.nth(i)
        key = card.get_attribute("id") or ""
        if card.locator(".chart-empty").count():
            expect(card.locator(".chart-empty")).not_to_be_empty()
            expect(card.locator(f"#dashboard-{key}")).to_have_count(0)
            continue
        expect(card.locator(f"#dashboard-{key} svg")).to_have_count(1)
        expect(card.locator(f"table#{key}-table tbody tr").first).to_be_attached()
        keys.append(key)
    return keys


def test_the_operator_sees_the_city_overview_with_its_charts(page: Page) -> None:
    sign_in(page, "operator")
    expect(page.locator("#overview-title")).to_have_text("全市概览")
    expect(page.locator(".tile", has_text="督办队列")).to_be_visible()  # the to-dos stay
    cards = page.locator("#overview .chart-card")
    assert [cards.nth(i).get_attribute("id") for i in range(cards.count())] == CITY_CHARTS
    assert {"resources-by-department", "resources-by-domain", "grants-by-month"} <= set(drawn(page))
    table = page.locator("#resources-by-department-table")
    page.locator("#resources-by-department summary").click()
    expect(table).to_be_visible()
    expect(table.locator("tbody tr", has_text="市公安局")).to_have_count(1)
    expect(table.locator("thead")).to_contain_text("有条件共享")


def test_a_department_officer_sees_its_own_overview(page: Page) -> None:
    sign_in(page, "gaj_officer")
    expect(page.locator("#overview-title")).to_have_text("市公安局概览")
    keys = drawn(page)
    assert "resources-by-department" not in keys
    assert {"resources-by-domain", "grants-by-month"} <= set(keys)
    # Its own grants, given and held, month by month.
    expect(page.locator("#grants-by-month-table thead")).to_contain_text("提供授权")
    expect(page.locator("#grants-by-month-table thead")).to_contain_text("获得授权")


def test_the_overview_fits_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "operator")
    drawn(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("#dashboard-resources-by-domain").bounding_box()
    assert box is not None and box["width"] <= 390


@pytest.fixture
def no_script_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", java_script_enabled=False
    )
    yield context.new_page()
    context.close()


def test_the_tables_read_without_scripts(no_script_page: Page) -> None:
    page = no_script_page
    sign_in(page, "operator")
    page.locator("#resources-by-domain summary").click()
    expect(page.locator("#resources-by-domain-table")).to_be_visible()
    expect(page.locator("#resources-by-domain-table")).to_contain_text("医疗卫生")
    expect(page.locator("#dashboard-resources-by-domain svg")).to_have_count(0)  # not drawn
