"""Fixtures of the portal's own tests: a portal database on each backend, filled by
`tests/portal/sample.py` (no platform involved)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from govshare.portal.db import PortalDatabase
from tests.conftest import BACKENDS, _fresh_postgres
from tests.portal import sample
from tests.worker_db import own

PORTAL_POSTGRES_URL = own(
    os.environ.get(
        "GOVSHARE_TEST_PORTAL_POSTGRES_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/govshare_test_portal",
    )
)


@pytest.fixture(scope="module", params=BACKENDS)
def sample_portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PortalDatabase]:
    """A portal database holding the sample datasets, on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('portal') / 'portal.db'}"
    else:
        url = PORTAL_POSTGRES_URL
        _fresh_postgres(url)
    portal = PortalDatabase(url)
    sample.fill(portal)
    yield portal
    portal.dispose()


@pytest.fixture
def portal_dir(tmp_path: Path) -> Path:
    return tmp_path
