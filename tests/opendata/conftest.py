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
from tests.conftest import _fresh_postgres
from tests.exchange.conftest import center as center  # the fixture
from tests.portal.conftest import PORTAL_POSTGRES_URL


@pytest.fixture
def portal(engine: Engine, tmp_path: Path) -> Iterator[PortalDatabase]:
    if engine.dialect.name == "sqlite":
        url = f"sqlite:///{tmp_path / 'portal.db'}"
    else:
        url = PORTAL_POSTGRES_URL.replace("govshare_test_portal", "govshare_test_publish")
        _fresh_postgres(url)
    database = PortalDatabase(url)
    yield database
    database.dispose()


@pytest.fixture
def app(app: FastAPI, center: Center, portal: PortalDatabase) -> FastAPI:
    """The root `app`, its runtime's center and portal database replaced by this test's."""
    app.state.runtime.__dict__["center"] = center
    app.state.runtime.__dict__["portal"] = portal
    return app
