"""cache_stamp: the one row whose value every change to a fact the hot paths keep in memory
(grants, API tokens, resources, bindings, objections) replaces, so each process knows when
to drop its caches (core.stamp).

Revision ID: 0028
Revises: 0024
Create Date: 2026-12-23 10:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "cache_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cache_stamp")),
    )
    op.bulk_insert(table, [{"id": 1, "version": secrets.randbits(63)}])


def downgrade() -> None:
    op.drop_table("cache_stamp")
