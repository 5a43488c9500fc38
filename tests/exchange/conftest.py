"""Exchange fixtures: a data resource center on the backend under test (a SQLite file, or
a schema of its own in the PostgreSQL test database), and the app wired to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text

from govshare.core.db import make_engine
from govshare.exchange.center import Center


@pytest.fixture
def center(engine: Engine, tmp_path: Path) -> Iterator[Center]:
    if engine.dialect.name == "sqlite":
        center_engine = make_engine(f"sqlite:///{tmp_path / 'center.db'}")
        yield Center(center_engine, None)
        center_engine.dispose()
        return
    schema = f"center_{uuid.uuid4().hex[:8]}"
    center_engine = make_engine(engine.url.render_as_string(hide_password=False))
    with center_engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield Center(center_engine, schema)
    with center_engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    center_engine.dispose()


@pytest.fixture
def app(app: FastAPI, center: Center) -> FastAPI:
    """The root `app`, its runtime's center replaced by this test's."""
    app.state.runtime.__dict__["center"] = center
    return app
