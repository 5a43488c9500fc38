"""The migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from govshare.core import migrate
from govshare.core.models import Base


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": migrate.modelled}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models differ from migrations (write a migration): {diff}"
