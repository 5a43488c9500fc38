"""Sessions in a real Chromium: forged sign-ins and framing are refused, and a session
cookie works whatever the browser's date is."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from govshare import demo
from govshare.core import clock
from govshare.web.deps import SESSION_COOKIE
from tests.browser import BROWSER_TIMEOUT_MS
from tests.web.conftest import LiveServer, sign_in

pytestmark = pytest.mark.browser


@dataclass
class OtherSite:
    """A site elsewhere, on the loopback too (Chromium keeps public sites from framing or
    posting to loopback addresses, which would hide what the platform's own checks do):
    "localhost" and "127.0.0.1" are different sites."""

    url: str
    pages: dict[str, str]


@pytest.fixture
def other_site() -> Iterator[OtherSite]:
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield OtherSite(f"http://localhost:{server.server_address[1]}", pages)
    server.shutdown()
    server.server_close()


@pytest.fixture
def visitor(browser: Browser) -> Iterator[BrowserContext]:
    """A visitor's browser (not the `page` fixture: a refused frame is logged as a policy
    violation there, which is what this file wants to see happen)."""
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    yield context
    context.close()


def test_a_page_elsewhere_cannot_sign_the_visitor_in(
    visitor: BrowserContext, other_site: OtherSite, live_server: LiveServer
) -> None:
    """Login CSRF: the other site posts its own account's credentials to our sign-in, so that
    what the visitor then enters on the platform lands in the other site's account."""
    other_site.pages["/prize"] = f"""<!doctype html><meta charset="utf-8">
        <form method="post" action="{live_server.url}/login">
          <input type="hidden" name="username" value="gaj_staff">
          <input type="hidden" name="password" value="{demo.DEMO_PASSWORD}">
          <input type="hidden" name="csrf_token" value="{"0" * 64}">
          <button type="submit">领取奖品</button>
        </form>"""
    page = visitor.new_page()
    page.goto(f"{other_site.url}/prize")
    with page.expect_navigation():
        page.click("text=领取奖品")
    expect(page.locator("#login-error")).to_contain_text("登录请求来源不明")
    assert not any(c["name"] == SESSION_COOKIE for c in visitor.cookies())
    # the refusal is a working sign-in form of the platform's own
    page.fill("#username", "gaj_staff")
    page.fill("#password", demo.DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    expect(page.locator("h1")).to_contain_text("您好")


def test_no_page_can_be_framed_by_another_site(
    visitor: BrowserContext, other_site: OtherSite, live_server: LiveServer
) -> None:
    other_site.pages["/frame"] = f'<!doctype html><iframe src="{live_server.url}/login"></iframe>'
    page = visitor.new_page()
    page.goto(f"{other_site.url}/frame")  # waits for the frame's load too
    [framed] = [f for f in page.frames if f != page.main_frame]
    assert framed.locator("#username").count() == 0


def test_a_cookie_set_while_the_platform_clock_stands_in_the_past_still_works(
    page: Page,
) -> None:
    """The server's clock (frozen in the past, as in tests and demos) and the browser's
    (today's) disagree: a cookie with an absolute Expires from the server's clock would be
    dropped at once; Max-Age counts from when the browser receives it."""
    with clock.frozen("2025-03-14 10:00"):
        sign_in(page, "auditor")
        expect(page.locator("h1")).to_contain_text("您好")
        [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
        assert cookie["expires"] > 0  # persistent, for the session's hours, from the browser's now
        page.goto("/audit")
        expect(page).to_have_url(re.compile(r"/audit"))
        expect(page.locator("nav.mainnav")).to_be_visible()


def test_the_pages_behaviours_work_from_the_platforms_own_script(page: Page) -> None:
    """What inline scripts did before the policy: list filters, added and removed rows."""
    sign_in(page, "operator")
    page.goto("/admin/users")
    with page.expect_navigation():
        page.locator("select[name=organization_id]").select_option(index=1)
    expect(page).to_have_url(re.compile(r"organization_id=\d+"))

    with page.expect_navigation():
        page.click("header button:has-text('退出')")
    sign_in(page, "scjg_officer")
    page.goto("/catalog/new")
    page.click("text=添加信息项")
    page.click("text=添加信息项")
    expect(page.locator("input.item-name")).to_have_count(3)
    expect(page.locator("#items td.n").nth(2)).to_have_text("3")
    expect(page.locator("input.item-name").nth(2)).to_be_focused()
    page.locator("#items button[data-remove-row]").first.click()
    expect(page.locator("input.item-name")).to_have_count(2)
    expect(page.locator("#items td.n").nth(1)).to_have_text("2")
