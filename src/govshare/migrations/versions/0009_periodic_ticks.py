"""periodic_tick: one row per (periodic task, tick), so that with several job workers each
tick of each periodic task runs once

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-07 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "periodic_tick",
        sa.Column("task", sa.String(60), nullable=False),
        sa.Column("tick_at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("task", "tick_at", name=op.f("pk_periodic_tick")),
    )


def downgrade() -> None:
    op.drop_table("periodic_tick")
