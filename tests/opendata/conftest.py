"""Open-data fixtures: the center (as the exchange tests have it) and a portal database of
the backend under test, fresh for each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from govshare.exchange.center import Center
from govshare.portal.db import PortalDatabase
from tests.exchange.conftest import center as center  # the fixture
from tests.portal.conftest import fresh_portal


@pytest.fixture
def portal(engine: Engine, tmp_path: Path) -> Iterator[PortalDatabase]:
    database = fresh_portal(engine.dialect.name, "govshare_test_publish", tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def app(app: FastAPI, center: Center, portal: PortalDatabase) -> FastAPI:
    """The root `app`, its runtime's center and portal database replaced by this test's."""
    app.state.runtime.__dict__["center"] = center
    app.state.runtime.__dict__["portal"] = portal
    return app
