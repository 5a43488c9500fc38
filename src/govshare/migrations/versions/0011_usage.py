"""every use of shared data under a grant (exchange_data_use): queries, lookups, downloads,
file downloads and push runs, for the providers' and consumers' usage views (SR§25)

Revision ID: 0011
Revises: 0006
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_data_use",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("consumer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("caller", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["organization.id"],
            name=op.f("fk_exchange_data_use_consumer_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["sharing_grant.id"],
            name=op.f("fk_exchange_data_use_grant_id_sharing_grant"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["organization.id"],
            name=op.f("fk_exchange_data_use_provider_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resource.id"],
            name=op.f("fk_exchange_data_use_resource_id_catalog_resource"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_data_use")),
    )
    op.create_index("ix_exchange_data_use_grant_at", "exchange_data_use", ["grant_id", "at"])
    op.create_index("ix_exchange_data_use_provider_at", "exchange_data_use", ["provider_id", "at"])
    op.create_index("ix_exchange_data_use_consumer_at", "exchange_data_use", ["consumer_id", "at"])


def downgrade() -> None:
    op.drop_table("exchange_data_use")
