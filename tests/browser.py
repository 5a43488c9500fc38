"""One headless Chromium (Debian's) for the whole test process, shared by the platform's
and the portal's browser tests: Playwright's sync API allows one per thread, so the fixture
lives in the root conftest, never once per directory."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM = os.environ.get("GOVSHARE_CHROMIUM", "/usr/bin/chromium")
# How long Chromium may wait for a page or element: a guard against a hang, generous enough
# for a busy two-core machine under libfaketime (scripts/test-dates), never a speed check.
BROWSER_TIMEOUT_MS = 30_000
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium (scripts/test does)"
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=BROWSER_TIMEOUT_MS)  # assertions wait as long as actions

    # Under scripts/test-dates the Python processes keep the real monotonic clock (see
    # scripts/faketime/sitecustomize.py); Chromium gets libfaketime's default, both clocks
    # shifted, with which it starts and keeps time.
    env = {k: v for k, v in os.environ.items() if k != "FAKETIME_DONT_FAKE_MONOTONIC"}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        yield chromium
        chromium.close()
