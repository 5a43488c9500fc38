"""Availability probes: registered interfaces and databases are reached on a schedule, their
availability kept per day and month, and one failing every probe is an unreachable finding.
The interfaces are real local HTTP servers (one answering, one a closed port)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.policy import Violation
from govshare.exchange.service import interfaces
from govshare.supervision import detectors
from govshare.supervision.models import ProbeTarget
from govshare.supervision.service import probes
from tests.exchange.builders import exchange_world, settings_for
from tests.exchange.gateway_scenarios import interface_in, service_resource, service_world
from tests.supervision.builders import JOB, detect

HOURS = ("2026-11-20T08:00:00+08:00", "2026-11-20T09:00:00+08:00", "2026-11-20T10:00:00+08:00")


class _Answering(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)  # the base URL is no endpoint: any answer will do
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _answering() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answering)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


@pytest.fixture
def answering() -> Iterator[str]:
    with _answering() as url:
        yield url


def _round(db: Session, settings: object, at: str) -> list[probes.Outcome]:
    with clock.frozen(at):
        found = probes.targets(db, actor=JOB, settings=settings)  # type: ignore[arg-type]
        outcomes = [probes.probe(t) for t in found]
        probes.record_probes(db, actor=JOB, outcomes=outcomes)
    return outcomes


def test_an_interface_that_answers_is_available_and_a_closed_one_is_not(
    db: Session, data_dir: Path, answering: str
) -> None:
    sw = service_world(db, _closed_port())
    with clock.frozen("2026-09-01T09:00:00+08:00"):
        live = interfaces.register_interface(
            db,
            actor=sw.provider_officer,
            resource_id=service_resource(db, sw.provider_officer, sw.op, name="企业年报查询").id,
            data=interface_in(answering),
            default_timeout=10.0,
        )
    outcomes = {o.target.target_id: o for o in _round(db, settings_for(data_dir), HOURS[0])}
    assert outcomes[live.id].ok and outcomes[live.id].message == "HTTP 404"
    dead = outcomes[sw.interface.id]
    assert not dead.ok and dead.millis is None and "无法连接" in dead.message
    with clock.frozen(HOURS[0]):
        shown = {a.target_id: a for a in probes.availability(db, actor=sw.op)}
        assert shown[live.id].month == 1.0 and shown[live.id].last_ok
        assert shown[sw.interface.id].month == 0.0
        assert shown[sw.interface.id].on(date(2026, 11, 20)).probes == 1  # type: ignore[union-attr]
        assert shown[sw.interface.id].label == "企业登记信息查询服务"
        # a department sees its own only
        assert probes.availability(db, actor=sw.consumer_officer) == []


def test_an_interface_failing_every_probe_is_found_unreachable_until_it_answers(
    db: Session, data_dir: Path, answering: str
) -> None:
    sw = service_world(db, _closed_port())
    settings = settings_for(data_dir)
    for at in HOURS[:2]:
        _round(db, settings, at)
    only = (detectors.interface_unreachable,)
    assert detect(db, at=HOURS[1], only=only).found == []  # two failures: not yet
    _round(db, settings, HOURS[2])
    (finding,) = detect(db, at=HOURS[2], only=only).found
    assert finding.kind is Violation.INTERFACE_UNREACHABLE
    assert finding.department_id == sw.provider.id
    assert finding.subject_id == sw.interface.id
    assert finding.article == "第三十条第（二）项"
    assert "2026-11-20 08:00" in finding.facts["summary"]
    with clock.frozen(HOURS[2]):
        interfaces.update_interface(
            db,
            actor=sw.provider_officer,
            interface_id=sw.interface.id,
            data=interface_in(answering),
            default_timeout=10.0,
        )
    _round(db, settings, "2026-11-20T11:00:00+08:00")
    assert detect(db, at="2026-11-20T11:00:00+08:00", only=only).resolved == [finding]


def test_a_database_is_probed_by_the_connection_test(db: Session, data_dir: Path) -> None:
    with clock.frozen("2026-11-03T10:00:00+08:00"):
        x = exchange_world(db, data_dir)
    (outcome,) = [
        o for o in _round(db, x.settings, HOURS[0]) if o.target.target is ProbeTarget.CONNECTION
    ]
    assert outcome.ok and outcome.target.department_id == x.s.provider.id
    (data_dir / "sources" / "gaj.db").unlink()
    for at in HOURS[1:]:
        _round(db, x.settings, at)
    _round(db, x.settings, "2026-11-20T11:00:00+08:00")
    (finding,) = detect(
        db, at="2026-11-20T11:00:00+08:00", only=(detectors.connection_unreachable,)
    ).found
    assert finding.subject_id == x.source.id
    assert "公安人口库只读副本" in finding.subject_label
