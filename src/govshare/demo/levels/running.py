"""Running the province and the county beside the demo city: each as `govshare serve` in a
process group of its own, the city's federation listener in the demo's process, a hello
across each peering once all are up, then `traffic.after_start`."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

import httpx

from govshare.core.errors import ConfigError
from govshare.core.runtime import Runtime
from govshare.demo.levels.building import CONSOLE
from govshare.demo.levels.places import HOST, STATE_FILE, Node, Plan, port_free
from govshare.demo.levels.traffic import after_start
from govshare.federation import listener, transport
from govshare.federation import service as federation

START_SECONDS = 120.0
STOP_SECONDS = 30.0


def sign_ins(node: Node) -> list[tuple[str, str]]:
    """The accounts the startup text names for the platform (password DEMO_PASSWORD)."""
    return [(username, label) for username, label in node.spec["sign_ins"]]


@dataclass(frozen=True)
class _Child:
    node: Node
    process: subprocess.Popen[bytes]
    log: IO[bytes]


def _process_environ(node: Node) -> dict[str, str]:
    """The demo's environment without the city's settings, with the platform's."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOVSHARE_")}
    return base | node.environ()


def _start(node: Node) -> _Child:
    """`govshare serve` for the platform in a process group of its own (so the demo stops
    it, not the terminal's Ctrl+C), its output appended to serve.log in its data directory."""
    log = node.log_file.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "govshare", "serve", "--host", HOST, "--port", str(node.port)],
        env=_process_environ(node),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return _Child(node, process, log)


def _stop(children: list[_Child]) -> None:
    """Ctrl+C to each platform's process group, as at its console, all at once (each takes
    a few seconds to shut down); one that hangs is killed."""
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGINT)
    for child in children:
        try:
            child.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()
        child.log.close()


def _wait_until_up(child: _Child, stop: threading.Event) -> bool:
    """Whether the platform answers on its web port and accepts connections on its
    federation port before `stop`; raises ConfigError when it stopped or never came up."""
    node = child.node
    deadline = time.monotonic() + START_SECONDS
    while not stop.is_set():
        if (code := child.process.poll()) is not None:
            raise ConfigError(f"{node.name}未能启动（退出码 {code}），详见 {node.log_file}")
        try:
            if httpx.get(f"{node.url}/api/v1/health", timeout=2).status_code < 500:
                with socket.create_connection((HOST, node.federation_port), timeout=2):
                    return True
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() > deadline:
            raise ConfigError(f"{node.name}在 {START_SECONDS:.0f} 秒内未启动，详见 {node.log_file}")
        stop.wait(0.3)
    return False


def greet(city: Runtime) -> list[str]:
    """A hello from the city across each active peering (identities and CRLs exchanged,
    logged on both sides under one message id); a line on each outcome."""
    with city.transaction() as db_session:
        peers = [(p.id, p.name) for p in federation.active_peers(db_session)]
    lines = []
    for peer_id, name in peers:
        try:
            reply = transport.greet(city, peer_id=peer_id, actor=CONSOLE)
        except transport.PeerUnavailable as exc:
            lines.append(f"与{name}握手未成功：{exc.message}")
        else:
            lines.append(f"与{name}握手成功，消息编号 {reply.message_id}")
    return lines


def _when_up(
    city: Runtime,
    levels: Plan,
    children: list[_Child],
    stop: threading.Event,
    report: Callable[[str], None],
) -> None:
    try:
        for child in children:
            if not _wait_until_up(child, stop):
                return
        report("省级和县级平台均已启动：" + "、".join(c.node.name for c in children))
        for line in greet(city):
            report(line)
        if not stop.is_set():
            after_start(city, levels.nodes)
    except ConfigError as exc:
        report(exc.message)


@contextlib.contextmanager
def serving(
    city: Runtime, levels: Plan, *, report: Callable[[str], None] = lambda _: None
) -> Iterator[threading.Thread]:
    """While the block runs: the city's federation listener in this process, the province
    and the county as `govshare serve` processes, and — in the background thread it
    yields, once all are up — a hello across each peering, then `after_start`. Everything
    stops when the block ends: the thread, then the platforms' processes, then the
    listener."""
    busy = [
        (node.name, port)
        for node in levels.nodes.values()
        for port in (node.port, node.federation_port)
        if not port_free(port)
    ]
    if busy:
        where = "、".join(f"{name}端口 {port}" for name, port in busy)
        raise ConfigError(
            f"{where}已被占用（端口在首次创建时选定，记录在 "
            f"{levels.nodes['province'].data_dir.parent / STATE_FILE}）；"
            "请先释放，或用 --no-levels 只启动市级平台"
        )
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(listener.listening(city, HOST, levels.city_federation_port))
        except OSError as exc:
            raise ConfigError(
                f"市级平台级联端口 {levels.city_federation_port} 无法监听（{exc.strerror}），"
                "可用 --no-levels 只启动市级平台"
            ) from None
        children: list[_Child] = []
        stack.callback(_stop, children)
        for node in levels.nodes.values():
            children.append(_start(node))
        stop = threading.Event()
        thread = threading.Thread(
            target=_when_up,
            args=(city, levels, children, stop, report),
            name="levels",
            daemon=True,
        )
        thread.start()
        stack.callback(thread.join, STOP_SECONDS)
        stack.callback(stop.set)
        yield thread
