"""The demo city, built once per backend for the whole package through `build_city` (the
exchange and the open-data portal take a while), in databases of its own and committed, as
`govshare demo` leaves it, so that `govshare backup` can read it from connections of its own:
on SQLite every database a file in the city's data directory; on PostgreSQL the platform with
the center in its schema `center`, and the portal in a database of its own. The databases are
dropped afterwards; what a test commits stays for the tests after it, as it would in the city."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from govshare import demo
from govshare.core import migrate
from govshare.core.runtime import Runtime, build_runtime
from govshare.core.settings import load_settings
from tests.backup.conftest import drop_postgres_database, postgres_database


@dataclass(frozen=True)
class City:
    runtime: Runtime
    data_dir: Path
    progress: tuple[str, ...]  # what the build reported
    environ: dict[str, str]  # the settings that open this city (`govshare …` in its place)

    def session(self) -> Session:
        return self.runtime.sessions()


@pytest.fixture(scope="package")
def city(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    """The demo city with its exchange and open-data portal, built once."""
    data_dir = tmp_path_factory.mktemp("demo-city")
    environ = {
        "GOVSHARE_DATA_DIR": str(data_dir),
        "GOVSHARE_POLICY_PROFILE": "shangrao",
        "GOVSHARE_CITY_NAME": "江州市",
    }
    databases: list[str] = []
    if engine.dialect.name == "postgresql":
        platform, portal = postgres_database("city"), postgres_database("city_portal")
        databases += [platform, portal]
        environ |= {
            "GOVSHARE_DATABASE_URL": platform,
            "GOVSHARE_CENTER_DATABASE_URL": platform,
            "GOVSHARE_PORTAL_DATABASE_URL": portal,
        }
    runtime = build_runtime(load_settings(environ=environ))
    try:
        migrate.upgrade(runtime.engine)
        if runtime.center.schema:
            with runtime.center.engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{runtime.center.schema}"'))
        labels: list[str] = []
        assert demo.build_city(runtime, progress=labels.append)
        yield City(runtime, runtime.settings.data_dir, tuple(labels), environ)
    finally:
        if "portal" in runtime.__dict__:
            runtime.portal.dispose()
        if "center" in runtime.__dict__:
            runtime.center.engine.dispose()
        runtime.engine.dispose()
        for url in databases:
            drop_postgres_database(url)
