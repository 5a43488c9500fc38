"""A live demo city served on loopback, and a headless Chromium (Debian's) to drive it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from govshare import demo
from govshare.core import migrate
from govshare.core.runtime import build_runtime
from govshare.core.settings import load_settings
from govshare.web.app import create_app
from tests.browser import BROWSER_TIMEOUT_MS


@dataclass(frozen=True)
class LiveServer:
    url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("demo-city")
    settings = load_settings(
        environ={
            "GOVSHARE_DATA_DIR": str(data_dir),
            "GOVSHARE_POLICY_PROFILE": "shangrao",
            "GOVSHARE_CITY_NAME": "江州市",
        }
    )
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.engine)
    with runtime.transaction() as session:
        demo.build(session)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=10)
    runtime.engine.dispose()


@pytest.fixture
def page(browser: object, live_server: LiveServer) -> Iterator[object]:
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    # The pages' Content-Security-Policy must not block anything they use: Chromium reports
    # each refused script, style or frame on the console.
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


def sign_in(page: object, username: str, password: str = demo.DEMO_PASSWORD) -> None:
    page.goto("/login")  # type: ignore[attr-defined]
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", password)  # type: ignore[attr-defined]
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.click("main button[type=submit]")  # type: ignore[attr-defined]
