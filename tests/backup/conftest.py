"""A small deployment to back up, on SQLite (every database a file in the data directory) or
on PostgreSQL (the platform with the center in its schema `center`, the portal in a database of
its own), and empty targets to restore into. The databases are this test's own and committed
to: a backup reads them from connections of its own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from govshare.backup.restore import Target
from govshare.core import migrate
from govshare.core.runtime import Runtime, build_runtime
from govshare.core.settings import load_settings
from govshare.exchange.filestore import LocalStore
from tests.catalog.builders import published
from tests.conftest import BACKENDS, POSTGRES_URL, _fresh_postgres
from tests.exchange.builders import delivery_world
from tests.exchange.file_scenarios import REPORT, FileWorld, upload
from tests.portal import sample

SECOND_FILE = b"%PDF-1.4\n" + "2026年第四季度常住人口统计\n".encode() * 500 + b"%%EOF\n"


def postgres_database(suffix: str) -> str:
    """A database of this test process's own on the PostgreSQL test server, created empty."""
    base = make_url(POSTGRES_URL)
    url = base.set(database=f"{base.database}_{suffix}").render_as_string(hide_password=False)
    _fresh_postgres(url)
    return url


def drop_postgres_database(url: str) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class Deployment:
    """A platform with a few of everything: the sharing cast, a population resource bound and
    loaded into the center (30 rows) under a grant, a file resource with two stored versions,
    and the portal's sample datasets."""

    backend: str
    environ: dict[str, str]
    runtime: Runtime
    databases: list[str] = field(default_factory=list)  # PostgreSQL databases to drop

    @property
    def data_dir(self) -> Path:
        return self.runtime.settings.data_dir


def build(backend: str, data_dir: Path, **environ: str) -> Deployment:
    environ = {"GOVSHARE_DATA_DIR": str(data_dir), **environ}
    databases = []
    if backend == "postgresql":
        platform, portal = postgres_database("bk"), postgres_database("bk_portal")
        databases += [platform, portal]
        environ |= {
            "GOVSHARE_DATABASE_URL": platform,
            "GOVSHARE_CENTER_DATABASE_URL": platform,
            "GOVSHARE_PORTAL_DATABASE_URL": portal,
        }
    runtime = build_runtime(load_settings(environ=environ))
    migrate.upgrade(runtime.engine)
    center = runtime.center
    if center.schema:
        with center.engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{center.schema}"'))
    with runtime.transaction() as db:
        w = delivery_world(db, center, rows=30).w
        report = published(
            db,
            w.provider_officer,
            w.op,
            name="常住人口统计季报",
            format="electronic_file",
            format_detail="PDF",
            share_methods=["file"],
            items=[],
        )
        files = FileWorld(
            db,
            w.op,
            w.provider,
            w.provider_officer,
            w.provider_staff,
            w.consumer,
            w.consumer_officer,
            report,
            w.unconditional,
        )
        store = LocalStore(data_dir / "files")
        upload(files, store, REPORT)
        upload(files, store, SECOND_FILE, filename="2026年第四季度人口统计报表.pdf")
    sample.fill(runtime.portal)
    return Deployment(backend, environ, runtime, databases)


def dispose(deployment: Deployment) -> None:
    runtime = deployment.runtime
    runtime.engine.dispose()
    runtime.center.engine.dispose()
    runtime.portal.dispose()
    for url in deployment.databases:
        drop_postgres_database(url)


@pytest.fixture(params=BACKENDS)
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    built = build(request.param, tmp_path / "data")
    yield built
    dispose(built)


@pytest.fixture
def sqlite_deployment(tmp_path: Path) -> Iterator[Deployment]:
    """For what does not depend on the database: the archive, the schedule."""
    built = build("sqlite", tmp_path / "data")
    yield built
    dispose(built)


@pytest.fixture
def postgres_deployment(tmp_path: Path) -> Iterator[Deployment]:
    """For what only PostgreSQL has: pg_dump and pg_restore, schemas."""
    if "postgresql" not in BACKENDS:
        pytest.skip("PostgreSQL is not among GOVSHARE_TEST_BACKENDS")
    built = build("postgresql", tmp_path / "data")
    yield built
    dispose(built)


@pytest.fixture
def target(deployment: Deployment, tmp_path: Path) -> Iterator[Target]:
    """Empty targets of the deployment's kind: a data directory not yet made, and on
    PostgreSQL two empty databases (the platform with its center, and the portal)."""
    if deployment.backend == "sqlite":
        yield Target.of(tmp_path / "restored")
        return
    platform, portal = postgres_database("bk_to"), postgres_database("bk_to_portal")
    yield Target.of(
        tmp_path / "restored",
        database_url=platform,
        center_database_url=platform,
        portal_database_url=portal,
    )
    for url in (platform, portal):
        drop_postgres_database(url)
