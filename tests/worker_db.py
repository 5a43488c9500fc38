"""Database names of this test process's own, so that pytest-xdist's workers (scripts/test runs
the suite on several) never share a database on the PostgreSQL or MariaDB server.

A worker's names end in its id (`govshare_test_gw0`); a run without workers keeps the plain
names. Processes the tests start inherit PYTEST_XDIST_WORKER, so they agree.
"""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def own(url: str) -> str:
    """The URL with this worker's database name."""
    if not WORKER:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{WORKER}").render_as_string(hide_password=False)
