"""Process wiring: settings → engine → session factory, shared by the app, the CLI and jobs."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from govshare.core import clock, embedded, policy
from govshare.core.audit import service as audit_service
from govshare.core.audit import verify as audit_verify
from govshare.core.db import make_engine, make_sessionmaker, unit_of_work
from govshare.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from govshare.exchange.center import Center
    from govshare.portal.db import PortalDatabase


@dataclass(frozen=True)
class Runtime:
    """What a govshare process holds: its settings, database engine and active profile."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def profile(self) -> policy.Profile:
        return policy.load_profile(self.settings.policy_profile, self.settings.policy_file)

    @property
    def city_name(self) -> str:
        return self.settings.city_name or self.profile.city

    @functools.cached_property
    def center(self) -> Center:
        """The data resource center (数据资源中心): its database, opened on first use."""
        from govshare.exchange.center import open_center

        return open_center(self.settings.center_database_url, self.settings.center_schema)

    @functools.cached_property
    def portal(self) -> PortalDatabase:
        """The open portal's database (开放门户数据库) the platform publishes into."""
        from govshare.portal.db import PortalDatabase

        return PortalDatabase(self.settings.portal_database_url)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        with unit_of_work(self.sessions) as session:
            yield session


def build_runtime(settings: Settings) -> Runtime:
    """Applies the process-wide settings (time zone, audit hash) and opens the database."""
    clock.set_city_zone(settings.zone)
    audit_service.default_algorithm = settings.audit_hash
    audit_service.sequencing = settings.audit_sequencing
    audit_verify.stale_after = timedelta(seconds=settings.audit_unsequenced_seconds)
    engine = make_engine(settings.database_url)
    return Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine))


def migrate_on_first_use(runtime: Runtime) -> bool:
    """Creates the embedded database's tables the first time a command needs them, so a
    newcomer's first command just works; True if it did. A database the operator configured
    (PostgreSQL) is only ever migrated by `govshare db upgrade`, never implicitly."""
    path = embedded.database_file(runtime.settings)
    if path is None or embedded.has_schema(path):
        return False
    from govshare.core import migrate

    migrate.upgrade(runtime.engine)  # under SQLite's write lock: a racing process waits
    return True


@functools.cache
def get_runtime() -> Runtime:
    """The process's runtime, built once from the environment."""
    return build_runtime(get_settings())
