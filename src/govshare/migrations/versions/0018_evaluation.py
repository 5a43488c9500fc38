"""evaluation (evaluation_adjustment, evaluation_snapshot): the operator's adjustments to
evaluation scores with their reasons, and each published year's frozen evaluation (SUP-1)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-17 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = govshare.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "evaluation_adjustment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("made_at", stamp, nullable=False),
        sa.Column("made_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_evaluation_adjustment_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_adjustment")),
    )
    op.create_index(op.f("ix_evaluation_adjustment_period"), "evaluation_adjustment", ["period"])
    op.create_index(
        op.f("ix_evaluation_adjustment_organization_id"),
        "evaluation_adjustment",
        ["organization_id"],
    )
    op.create_table(
        "evaluation_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("published_at", stamp, nullable=False),
        sa.Column("published_by", sa.String(length=120), nullable=False),
        sa.Column("profile_code", sa.String(length=32), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("evaluator", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_snapshot")),
        sa.UniqueConstraint("year", name=op.f("uq_evaluation_snapshot_year")),
    )


def downgrade() -> None:
    op.drop_table("evaluation_snapshot")
    op.drop_index(
        op.f("ix_evaluation_adjustment_organization_id"), table_name="evaluation_adjustment"
    )
    op.drop_index(op.f("ix_evaluation_adjustment_period"), table_name="evaluation_adjustment")
    op.drop_table("evaluation_adjustment")
