"""The demo city, built once per backend for the whole package through `build_city` (the
exchange and the open-data portal take a while): its transactions are savepoints on one
connection rolled back afterwards; the center is a SQLite file or a PostgreSQL schema, the
portal database a SQLite file in the city's data directory."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from govshare import demo
from govshare.core.db import make_engine
from govshare.core.runtime import Runtime
from govshare.core.settings import load_settings
from govshare.exchange.center import Center


@dataclass(frozen=True)
class City:
    runtime: Runtime
    data_dir: Path
    progress: tuple[str, ...]  # what the build reported

    def session(self) -> Session:
        return self.runtime.sessions()


@contextlib.contextmanager
def _center(engine: Engine, data_dir: Path) -> Iterator[Center]:
    if engine.dialect.name == "sqlite":
        center_engine = make_engine(f"sqlite:///{data_dir / 'center.db'}")
        yield Center(center_engine, None)
        center_engine.dispose()
        return
    schema = f"center_{uuid.uuid4().hex[:8]}"
    center_engine = make_engine(engine.url.render_as_string(hide_password=False))
    with center_engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Center(center_engine, schema)
    finally:
        with center_engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        center_engine.dispose()


@pytest.fixture(scope="package")
def city(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    """The demo city with its exchange and open-data portal, built once."""
    data_dir = tmp_path_factory.mktemp("demo-city")
    settings = load_settings(
        environ={
            "GOVSHARE_DATA_DIR": str(data_dir),
            "GOVSHARE_POLICY_PROFILE": "shangrao",
            "GOVSHARE_CITY_NAME": "江州市",
        }
    )
    connection = engine.connect()
    outer = connection.begin()
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    runtime = Runtime(settings=settings, engine=engine, sessions=sessions)
    try:
        with _center(engine, data_dir) as center:
            runtime.__dict__["center"] = center
            labels: list[str] = []
            assert demo.build_city(runtime, progress=labels.append)
            yield City(runtime, settings.data_dir, tuple(labels))
    finally:
        if "portal" in runtime.__dict__:
            runtime.portal.dispose()
        outer.rollback()
        connection.close()
