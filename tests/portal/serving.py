"""The portal on a live server (for clients that speak HTTP: ckanapi, rdflib, Chromium), and
ckanapi's command line."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI

# The console script ckanapi installs beside the interpreter running the tests.
CKANAPI = Path(sys.executable).with_name("ckanapi")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on a free loopback port; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30  # a guard against a hang, not a speed check
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the portal test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def ckanapi_cli(portal_url: str, *args: str) -> object:
    """`ckanapi action …` against the portal, its JSON output parsed."""
    done = subprocess.run(
        [str(CKANAPI), "action", *args, "-r", portal_url],
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a hang
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
