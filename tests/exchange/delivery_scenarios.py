"""Audit scenarios for the delivery services (see tests/test_audit_coverage.py), merged into
tests/exchange/audit_scenarios.py. The center is a SQLite file of its own on either backend:
the platform database is the one under test."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

from govshare.core import clock
from govshare.core.db import make_engine
from govshare.exchange.center import Center
from govshare.exchange.service import delivery
from govshare.exchange.service.delivery.query import keys_under_verification
from tests.exchange.builders import (
    USED_AT,
    Delivery,
    delivery_world,
    own_transaction,
    settings_of,
)
from tests.scenarios import READ_ONLY, Reads, World, Writes

DELIVERY = "govshare.exchange.service.delivery."


def _world(w: World) -> tuple[Delivery, Any]:
    folder = Path(tempfile.mkdtemp(prefix="govshare-delivery-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    center = Center(make_engine(f"sqlite:///{folder / 'center.db'}"), None)
    return delivery_world(w.db, center, rows=12, op=w.op), settings_of(folder)


def _query(w: World) -> Any:
    d, settings = _world(w)
    with clock.frozen(USED_AT):
        return delivery.query(
            w.db,
            actor=d.w.consumer_officer,
            settings=settings,
            center=d.center,
            resource_code=d.code,
            request=delivery.DataRequest(filters=[("行政区划代码", "361102")]),
        )


def _lookup(w: World) -> Any:
    d, settings = _world(w)
    with clock.frozen(USED_AT):
        return delivery.lookup(
            w.db,
            actor=d.w.consumer_officer,
            settings=settings,
            center=d.center,
            resource_code=d.code,
            key=d.rows[0]["id_number"],
        )


def _started(w: World) -> tuple[Delivery, delivery.Download]:
    d, settings = _world(w)
    with clock.frozen(USED_AT):
        started = delivery.start_download(
            w.db,
            actor=d.w.consumer_officer,
            settings=settings,
            center=d.center,
            resource_code=d.code,
            request=delivery.DataRequest(),
            fmt="csv",
        )
    assert isinstance(started, delivery.Download)
    return d, started


def _stream(w: World) -> bytes:
    d, started = _started(w)
    with clock.frozen(USED_AT):
        return b"".join(
            delivery.stream_download(started, center=d.center, transaction=own_transaction(w.db))
        )


DELIVERY_SCENARIOS: dict[str, Writes | Reads] = {
    DELIVERY + "query.query": Writes("exchange.data.query", _query),
    DELIVERY + "query.lookup": Writes("exchange.data.lookup", _lookup),
    # which records are under an objection, for the marks of query, lookup and download
    DELIVERY + "query.keys_under_verification": Reads(
        lambda w: keys_under_verification(w.db, w.prepared[0].binding),
        prepare=_world,
    ),
    DELIVERY + "download.start_download": Writes("exchange.data.download", _started),
    DELIVERY + "download.stream_download": Writes("exchange.data.download_done", _stream),
    DELIVERY + "statements.masking_key": READ_ONLY,
    DELIVERY + "statements.grant_scope": READ_ONLY,
    # builds a SELECT; the callers run and audit it
    DELIVERY + "statements.scoped_query": READ_ONLY,
}
