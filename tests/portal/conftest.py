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


def fresh_portal(backend: str, name: str, directory: Path | None = None) -> PortalDatabase:
    """An empty portal database on `backend`: the database `name` on PostgreSQL (this
    worker's, dropped and created afresh), or a file in `directory` on SQLite."""
    if backend == "sqlite":
        assert directory is not None, "a SQLite portal needs a directory"
        return PortalDatabase(f"sqlite:///{directory / 'portal.db'}")
    url = PORTAL_POSTGRES_URL.replace("govshare_test_portal", name)
    _fresh_postgres(url)
    return PortalDatabase(url)


@pytest.fixture(scope="module", params=BACKENDS)
def sample_portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PortalDatabase]:
    """A portal database holding the sample datasets, on SQLite or PostgreSQL."""
    portal = fresh_portal(request.param, "govshare_test_portal", tmp_path_factory.mktemp("portal"))
    sample.fill(portal)
    yield portal
    portal.dispose()


@pytest.fixture
def portal_dir(tmp_path: Path) -> Path:
    return tmp_path
