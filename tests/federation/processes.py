"""Platforms as separate processes on loopback: each a data directory of its own, set up
through the services as its operator would at the console, then `govshare serve` with its
federation port. The test talks to them only over HTTP and through `govshare` commands."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from govshare.core import migrate
from govshare.core.permissions import Actor
from govshare.core.runtime import Runtime, build_runtime
from govshare.core.settings import load_settings
from govshare.federation import service as federation
from govshare.federation.models import PlatformLevel
from govshare.pki import service as pki
from tests.builders import operator

START_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    """One platform: its environment, its runtime (for setup and for reading its logs)."""

    code: str
    name: str
    level: PlatformLevel
    data_dir: Path
    port: int
    federation_port: int
    runtime: Runtime
    operator: Actor  # the platform's operator, for what the test does as them

    @property
    def env(self) -> dict[str, str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GOVSHARE_") or k == "GOVSHARE_CLOCK_START"  # the suite's clock
        }
        return base | {
            "GOVSHARE_DATA_DIR": str(self.data_dir),
            "GOVSHARE_POLICY_PROFILE": "shangrao",
            "GOVSHARE_CITY_NAME": self.name.removesuffix("政务数据共享平台"),
            "GOVSHARE_FEDERATION_PORT": str(self.federation_port),
            "GOVSHARE_FEDERATION_HOST": "127.0.0.1",
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def federation_url(self) -> str:
        return f"https://127.0.0.1:{self.federation_port}"

    def anchor(self) -> str:
        with self.runtime.transaction() as db_session:
            pem = pki.ca_certificate(db_session)
        assert pem is not None
        return pem

    def govshare(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A `govshare` command run on this platform's console."""
        return subprocess.run(
            [sys.executable, "-m", "govshare", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def node(root: Path, code: str, name: str, level: PlatformLevel) -> Node:
    """A platform's data directory set up as its operator would: schema, the operator's
    account, the CA and the federation identity."""
    data_dir = root / code
    data_dir.mkdir(parents=True)
    port, federation_port = free_port(), free_port()
    settings = load_settings(environ={"GOVSHARE_DATA_DIR": str(data_dir)})
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.engine)
    with runtime.transaction() as db_session:
        actor, account = operator(db_session)
        pki.init_authority(db_session, actor=actor, settings=settings, name=f"{name} CA")
        federation.init_identity(
            db_session,
            actor=actor,
            settings=settings,
            validity_days=365,
            organization_id=account.organization_id or 0,
            code=code,
            name=name,
            level=level,
            url=f"https://127.0.0.1:{federation_port}",
        )
    return Node(code, name, level, data_dir, port, federation_port, runtime, actor)


def peer(upper: Node, lower: Node) -> None:
    """Both operators add each other from the other's CA certificate (`govshare federation
    peer-add`, which tests/federation/test_cli.py runs as a command)."""
    for here, there in ((upper, lower), (lower, upper)):
        with here.runtime.transaction() as db_session:
            federation.add_peer(
                db_session,
                actor=Actor.command_line("peer-add"),
                code=there.code,
                name=there.name,
                level=there.level,
                url=there.federation_url,
                anchor_pem=there.anchor(),
            )


@contextlib.contextmanager
def serving(nodes: list[Node]) -> Iterator[None]:
    """`govshare serve` for every node until the block ends; waits until each answers."""
    processes = []
    try:
        for n in nodes:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "govshare", "serve", "--port", str(n.port)],
                    env=n.env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                )
            )
        for n, process in zip(nodes, processes, strict=True):
            _wait_until_up(n, process)
        yield
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
        for process in processes:
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()


def _wait_until_up(n: Node, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"{n.name} stopped: {output}")
        try:
            if httpx.get(f"{n.url}/api/v1/health", timeout=2).status_code < 500:
                with socket.create_connection(("127.0.0.1", n.federation_port), timeout=2):
                    return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"{n.name} did not start within {START_SECONDS} s")
