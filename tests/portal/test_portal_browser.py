"""The portal's public pages in headless Chromium, on a phone and on a desktop: search 公交,
open the dataset, read its preview, download its CSV. The portal runs in a live server of its
own over the sample data on SQLite.

Screenshots of the home, search and dataset pages at both widths go to
GOVSHARE_PORTAL_SCREENSHOTS (a directory) when it is set, else to the test's temporary
directory."""

from __future__ import annotations

import csv
import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from govshare.portal.app import create_portal_app
from govshare.portal.db import PortalDatabase
from govshare.portal.settings import PortalSettings
from tests.browser import BROWSER_TIMEOUT_MS
from tests.portal import sample
from tests.web.conftest import LiveServer, _free_port

pytestmark = pytest.mark.browser

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.fixture(scope="module")
def portal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The portal app with the sample data on SQLite, served on loopback."""
    url = f"sqlite:///{tmp_path_factory.mktemp('portal-live') / 'portal.db'}"
    portal = PortalDatabase(url)
    sample.fill(portal)
    port = _free_port()
    app = create_portal_app(PortalSettings(database_url=url), database=portal)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the portal test server did not start")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=10)
    portal.dispose()


@pytest.fixture(params=list(VIEWPORTS))
def portal_page(
    request: pytest.FixtureRequest,
    browser: Browser,
    portal_server: LiveServer,
) -> Iterator[Page]:
    """A page of the given width; it fails if the pages' own content breaks their CSP."""
    context = browser.new_context(
        base_url=portal_server.url,
        locale="zh-CN",
        viewport=VIEWPORTS[request.param],
        accept_downloads=True,
    )
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert refused == [], f"the page's own content broke its policy: {refused}"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("GOVSHARE_PORTAL_SCREENSHOTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _fits_the_width(page: Page) -> None:
    """Nothing on the page is wider than the window (tables scroll inside their box)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"


def test_search_open_preview_and_download_the_bus_stops(portal_page: Page, shots: Path) -> None:
    page = portal_page
    width = "phone" if page.viewport_size["width"] < 700 else "desktop"  # type: ignore[index]

    page.goto("/")
    expect(page.locator("h1")).to_have_text("江州市公共数据开放门户")
    expect(page.locator(".domain-grid")).to_contain_text("交通出行")
    _fits_the_width(page)
    page.screenshot(path=str(shots / f"{width}-home.png"), full_page=True)

    page.fill("#q", "公交")
    with page.expect_navigation():
        page.press("#q", "Enter")
    expect(page.locator("#result-count")).to_contain_text("共 1 个数据集")
    result = page.locator(".result h3 a")
    expect(result).to_have_text("公交站点信息")
    results_box = page.locator(".results").bounding_box()
    filters_box = page.locator("#filters").bounding_box()
    assert results_box and filters_box
    if width == "phone":  # one column: the filters come after the results
        assert filters_box["y"] >= results_box["y"] + results_box["height"] - 1
        expect(page.locator(".to-filters")).to_be_visible()
    else:  # the filters stand beside the results
        assert filters_box["x"] >= results_box["x"] + results_box["width"]
        expect(page.locator(".to-filters")).to_be_hidden()
    _fits_the_width(page)
    page.screenshot(path=str(shots / f"{width}-search.png"), full_page=True)

    with page.expect_navigation():
        result.click()
    expect(page.locator("h1")).to_contain_text("公交站点信息")
    preview = page.locator("#preview")
    expect(preview.locator("tbody tr")).to_have_count(len(sample.BUS_STOPS))
    expect(preview.locator("tbody tr").first).to_contain_text("江州火车站")
    expect(page.locator("table.dictionary")).to_contain_text("站点名称")
    _fits_the_width(page)
    page.screenshot(path=str(shots / f"{width}-dataset.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click(".downloads a:has-text('CSV')")
    download = download_info.value
    assert download.suggested_filename == "公交站点信息.csv"
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert rows == [["站点名称", "途经线路", "经度", "纬度"], *map(list, sample.BUS_STOPS)]


def test_a_conditional_dataset_shows_how_to_apply_and_no_download(portal_page: Page) -> None:
    page = portal_page
    page.goto("/dataset?open_type=conditional")
    with page.expect_navigation():
        page.click(".result h3 a")
    expect(page.locator("#conditions")).to_contain_text("须向提供部门申请")
    expect(page.locator(".downloads")).to_have_count(0)
    expect(page.locator("#preview")).to_have_count(0)
    _fits_the_width(page)
