"""catalogs along the levels (federation_remote_resource, federation_catalog_watermark,
federation_catalog_edition): resources mirrored from the platforms above and below, how far
each peer's catalog has been read, and the dated editions of this platform's catalog
(CAT-13, LVL-1, SR§7).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = govshare.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "federation_remote_resource",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("origin_code", sa.String(length=12), nullable=False),
        sa.Column("origin_name", sa.String(length=100), nullable=False),
        sa.Column("chain", sa.JSON(), nullable=False),
        sa.Column("resource_code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider_name", sa.String(length=100), nullable=False),
        sa.Column("provider_level", sa.String(length=16), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("entry", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("first_synced_at", stamp, nullable=False),
        sa.Column("synced_at", stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["federation_peer.id"],
            name=op.f("fk_federation_remote_resource_peer_id_federation_peer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_remote_resource")),
        sa.UniqueConstraint(
            "origin_code",
            "resource_code",
            name=op.f("uq_federation_remote_resource_origin_code_resource_code"),
        ),
    )
    for column in ("peer_id", "relation", "origin_code", "retired", "synced_at"):
        op.create_index(
            op.f(f"ix_federation_remote_resource_{column}"),
            "federation_remote_resource",
            [column],
        )
    op.create_table(
        "federation_catalog_watermark",
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.JSON(), nullable=True),
        sa.Column("attempted_at", stamp, nullable=True),
        sa.Column("synced_at", stamp, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["federation_peer.id"],
            name=op.f("fk_federation_catalog_watermark_peer_id_federation_peer"),
        ),
        sa.PrimaryKeyConstraint("peer_id", name=op.f("pk_federation_catalog_watermark")),
    )
    op.create_table(
        "federation_catalog_edition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("published_at", stamp, nullable=False),
        sa.Column("published_by", sa.String(length=120), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("platform_code", sa.String(length=12), nullable=False),
        sa.Column("platform_name", sa.String(length=100), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_catalog_edition")),
        sa.UniqueConstraint(
            "year", "number", name=op.f("uq_federation_catalog_edition_year_number")
        ),
    )


def downgrade() -> None:
    op.drop_table("federation_catalog_edition")
    op.drop_table("federation_catalog_watermark")
    op.drop_table("federation_remote_resource")
