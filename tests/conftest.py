"""Test fixtures: every test that takes `db` runs on SQLite and on PostgreSQL, each in a
transaction rolled back afterwards. Backends: GOVSHARE_TEST_BACKENDS (default both);
PostgreSQL at GOVSHARE_TEST_POSTGRES_URL (a database of its own, recreated per run)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from govshare.core import migrate
from govshare.core.db import make_engine
from govshare.core.runtime import Runtime
from govshare.core.settings import load_settings
from govshare.web.app import create_app
from tests.browser import browser  # noqa: F401  (one Chromium for the whole process)
from tests.worker_db import own

BACKENDS = [
    b.strip() for b in os.environ.get("GOVSHARE_TEST_BACKENDS", "sqlite,postgresql").split(",")
]
POSTGRES_URL = own(
    os.environ.get(
        "GOVSHARE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/govshare_test"
    )
)


def _fresh_postgres(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        admin.connect().close()
    except OperationalError as exc:
        raise pytest.UsageError(
            f"PostgreSQL is not reachable at {target.render_as_string()}: {exc.orig}. "
            "Start it, point GOVSHARE_TEST_POSTGRES_URL at one, or run with GOVSHARE_TEST_BACKENDS=sqlite."
        ) from None
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


# Speed is measured by bench/, never asserted by a test: no example has a time limit, so a
# busy machine cannot fail a property test.
hypothesis_settings.register_profile(
    "govshare", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("govshare")

# The instant the suite's clock starts from: a working Tuesday in a year the calendar library
# knows. Every test runs on this clock (or one it freezes itself), never on the real date, so
# no test can depend on the day it runs: the real clock is not mixed into the platform's.
TEST_EPOCH = "2026-12-15T10:00:00+08:00"


@pytest.fixture(scope="session", autouse=True)
def platform_clock() -> Iterator[None]:
    """The platform's clock for the whole run, inherited by the processes tests start."""
    from govshare.core import clock

    with clock.running_from(TEST_EPOCH):
        yield


@pytest.fixture(scope="session", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database of the backend under test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'govshare.db'}"
    elif request.param == "postgresql":
        url = POSTGRES_URL
        _fresh_postgres(url)
    else:
        raise pytest.UsageError(f"unknown backend {request.param!r} in GOVSHARE_TEST_BACKENDS")
    eng = make_engine(url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose commits are savepoints inside a transaction that is rolled back."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 at its lowest cost: the same code paths, without 0.2 s per password."""
    from argon2 import PasswordHasher

    from govshare.identity.service import common as identity_common

    with pytest.MonkeyPatch.context() as patch:
        cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        patch.setattr(identity_common, "_hasher", cheap)
        yield


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


# --- a summary line per backend, so the run shows where it ran ---------------------------

_outcomes: Counter[tuple[str, str]] = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    where = "other"
    for backend in ("sqlite", "postgresql"):
        if (
            f"[{backend}" in report.nodeid
            or f"-{backend}]" in report.nodeid
            or f"-{backend}-" in report.nodeid
        ):
            where = backend
    if "browser" in report.keywords:
        where = "chromium"
    _outcomes[(where, report.outcome)] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.section("where the suite ran")
    for where in ("sqlite", "postgresql", "chromium", "other"):
        counts = {o: n for (w, o), n in _outcomes.items() if w == where}
        if counts:
            detail = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
            terminalreporter.write_line(f"{where:>10}: {detail}")


# --- the command line over a fresh data directory ---------------------------------------


@dataclass(frozen=True)
class Cli:
    """Runs `govshare …` in-process against one data directory."""

    runner: CliRunner
    data_dir: Path

    def __call__(self, *args: str) -> Result:
        import govshare.cli

        return self.runner.invoke(govshare.cli.app, list(args))


@pytest.fixture
def govshare_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """The real `govshare` command over a fresh SQLite data directory, migrated through it."""
    from govshare.core.runtime import get_runtime
    from govshare.core.settings import get_settings

    for name in (
        "GOVSHARE_CONFIG",
        "GOVSHARE_DATABASE_URL",
        "GOVSHARE_SECRET_KEY",
        "GOVSHARE_POLICY_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOVSHARE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GOVSHARE_POLICY_PROFILE", "shangrao")
    get_settings.cache_clear()
    get_runtime.cache_clear()
    cli = Cli(CliRunner(), tmp_path / "data")
    upgraded = cli("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    runtime = get_runtime()
    yield cli
    runtime.engine.dispose()
    get_settings.cache_clear()
    get_runtime.cache_clear()


# --- the application over the test's transaction ---------------------------------------
# The app's sessions are savepoints on the test's connection, so what a request commits is
# visible to the test and still rolled back with it.


@pytest.fixture
def app(db: Session, tmp_path: Path) -> FastAPI:
    environ = {"GOVSHARE_DATA_DIR": str(tmp_path), "GOVSHARE_LOGIN_MAX_FAILURES": "3"}
    runtime = Runtime(
        settings=load_settings(environ=environ),
        engine=db.get_bind().engine,
        sessions=sessionmaker(
            bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
    )
    return create_app(runtime)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client
