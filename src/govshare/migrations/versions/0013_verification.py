"""objections (verification_objection): a consumer's objection to shared records or a catalog
entry, verified by the provider within the profile's working days, an extension approved by the
provider's head, the answer and the correction's arrival in the center (VER-1, VER-4); citizens
served on valid proof while an objection is open (verification_served, VER-2)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = govshare.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "verification_objection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("consumer_id", sa.Integer(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("claimed", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("raised_at", stamp, nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("raised_by", sa.String(length=120), nullable=False),
        sa.Column("profile_code", sa.String(length=32), nullable=False),
        sa.Column("verify_days", sa.Integer(), nullable=False),
        sa.Column("max_days", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("extension", sa.String(length=16), nullable=True),
        sa.Column("extension_days", sa.Integer(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("extension_requested_by", sa.String(length=120), nullable=True),
        sa.Column("extension_requested_at", stamp, nullable=True),
        sa.Column("extension_decided_by", sa.String(length=120), nullable=True),
        sa.Column("extension_decided_at", stamp, nullable=True),
        sa.Column("answered_at", stamp, nullable=True),
        sa.Column("answered_by", sa.String(length=120), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("corrected", sa.JSON(), nullable=False),
        sa.Column("correction_run_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", stamp, nullable=True),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["organization.id"],
            name=op.f("fk_verification_objection_consumer_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["correction_run_id"],
            ["exchange_run.id"],
            name=op.f("fk_verification_objection_correction_run_id_exchange_run"),
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["sharing_grant.id"],
            name=op.f("fk_verification_objection_grant_id_sharing_grant"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["organization.id"],
            name=op.f("fk_verification_objection_provider_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resource.id"],
            name=op.f("fk_verification_objection_resource_id_catalog_resource"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_objection")),
        sa.UniqueConstraint("number", name=op.f("uq_verification_objection_number")),
    )
    op.create_index(
        op.f("ix_verification_objection_consumer_id"), "verification_objection", ["consumer_id"]
    )
    op.create_index(op.f("ix_verification_objection_due_on"), "verification_objection", ["due_on"])
    op.create_index(
        op.f("ix_verification_objection_grant_id"), "verification_objection", ["grant_id"]
    )
    op.create_index(
        op.f("ix_verification_objection_provider_id"), "verification_objection", ["provider_id"]
    )
    op.create_index(
        op.f("ix_verification_objection_resource_id"), "verification_objection", ["resource_id"]
    )
    op.create_index(op.f("ix_verification_objection_state"), "verification_objection", ["state"])
    op.create_table(
        "verification_served",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("objection_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("served_at", stamp, nullable=False),
        sa.Column("served_by", sa.String(length=120), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("proof", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["objection_id"],
            ["verification_objection.id"],
            name=op.f("fk_verification_served_objection_id_verification_objection"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_verification_served_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_served")),
    )
    op.create_index(
        op.f("ix_verification_served_objection_id"), "verification_served", ["objection_id"]
    )


def downgrade() -> None:
    op.drop_table("verification_served")
    op.drop_table("verification_objection")
