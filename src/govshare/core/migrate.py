"""Schema migrations (Alembic), run by `govshare db upgrade` and by the demo and tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # alembic is imported when a migration runs, not by every command
    from alembic.config import Config
    from sqlalchemy import Engine

JOB_TABLE_PREFIX = "job_"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Brings the database to `revision` inside one transaction."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str | None:
    """The newest revision the code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def is_current(engine: Engine) -> bool:
    """Whether the database's schema is the code's newest."""
    return current(engine) == head()


def modelled(obj: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any) -> bool:
    """Alembic `include_object`: leave out of schema comparison the job library's tables,
    which the models deliberately do not describe."""
    table = getattr(getattr(obj, "table", None), "name", None)
    owner = name if type_ == "table" else table
    return not (reflected and (owner or "").startswith(JOB_TABLE_PREFIX))
