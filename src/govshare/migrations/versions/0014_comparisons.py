"""comparisons (verification_comparison): the operator's comparisons between two departments'
table resources in the data resource center, with the authoritative side of each item; their
runs and figures (verification_comparison_run); each mismatch as a case for the department that
must settle it, with its deadline, answer and the operator's mediation (verification_mismatch,
VER-3)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = govshare.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "verification_comparison",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("left_resource_id", sa.Integer(), nullable=False),
        sa.Column("right_resource_id", sa.Integer(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("key_authority", sa.String(length=8), nullable=True),
        sa.Column("schedule", sa.String(length=8), nullable=False),
        sa.Column("next_run_at", stamp, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["left_resource_id"],
            ["catalog_resource.id"],
            name=op.f("fk_verification_comparison_left_resource_id_catalog_resource"),
        ),
        sa.ForeignKeyConstraint(
            ["right_resource_id"],
            ["catalog_resource.id"],
            name=op.f("fk_verification_comparison_right_resource_id_catalog_resource"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_comparison")),
        sa.UniqueConstraint("name", name=op.f("uq_verification_comparison_name")),
    )
    op.create_index(
        op.f("ix_verification_comparison_left_resource_id"),
        "verification_comparison",
        ["left_resource_id"],
    )
    op.create_index(
        op.f("ix_verification_comparison_next_run_at"), "verification_comparison", ["next_run_at"]
    )
    op.create_index(
        op.f("ix_verification_comparison_right_resource_id"),
        "verification_comparison",
        ["right_resource_id"],
    )

    op.create_table(
        "verification_comparison_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", stamp, nullable=False),
        sa.Column("started_by", sa.String(length=120), nullable=False),
        sa.Column("finished_at", stamp, nullable=True),
        sa.Column("path", sa.String(length=16), nullable=True),
        sa.Column("left_rows", sa.Integer(), nullable=False),
        sa.Column("right_rows", sa.Integer(), nullable=False),
        sa.Column("left_blank_keys", sa.Integer(), nullable=False),
        sa.Column("right_blank_keys", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("equal", sa.Integer(), nullable=False),
        sa.Column("differing", sa.Integer(), nullable=False),
        sa.Column("only_left", sa.Integer(), nullable=False),
        sa.Column("only_right", sa.Integer(), nullable=False),
        sa.Column("duplicate_keys_left", sa.Integer(), nullable=False),
        sa.Column("duplicate_keys_right", sa.Integer(), nullable=False),
        sa.Column("differing_by_item", sa.JSON(), nullable=False),
        sa.Column("cases_opened", sa.Integer(), nullable=False),
        sa.Column("cases_gone", sa.Integer(), nullable=False),
        sa.Column("cases_live", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["verification_comparison.id"],
            name=op.f("fk_verification_comparison_run_comparison_id_verification_comparison"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_comparison_run")),
    )
    op.create_index(
        op.f("ix_verification_comparison_run_comparison_id"),
        "verification_comparison_run",
        ["comparison_id"],
    )

    op.create_table(
        "verification_mismatch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("found_run_id", sa.Integer(), nullable=False),
        sa.Column("last_seen_run_id", sa.Integer(), nullable=False),
        sa.Column("closed_run_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.JSON(), nullable=False),
        sa.Column("key_text", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", stamp, nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("answered_at", stamp, nullable=True),
        sa.Column("answered_by", sa.String(length=120), nullable=True),
        sa.Column("mediation", sa.Text(), nullable=False),
        sa.Column("mediated_at", stamp, nullable=True),
        sa.Column("mediated_by", sa.String(length=120), nullable=True),
        sa.Column("closed_at", stamp, nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_run_id"],
            ["verification_comparison_run.id"],
            name=op.f("fk_verification_mismatch_closed_run_id_verification_comparison_run"),
        ),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["verification_comparison.id"],
            name=op.f("fk_verification_mismatch_comparison_id_verification_comparison"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["organization.id"],
            name=op.f("fk_verification_mismatch_department_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["found_run_id"],
            ["verification_comparison_run.id"],
            name=op.f("fk_verification_mismatch_found_run_id_verification_comparison_run"),
        ),
        sa.ForeignKeyConstraint(
            ["last_seen_run_id"],
            ["verification_comparison_run.id"],
            name=op.f("fk_verification_mismatch_last_seen_run_id_verification_comparison_run"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_mismatch")),
    )
    op.create_index(
        op.f("ix_verification_mismatch_department_id"), "verification_mismatch", ["department_id"]
    )
    op.create_index(op.f("ix_verification_mismatch_due_on"), "verification_mismatch", ["due_on"])
    op.create_index(
        "ix_verification_mismatch_key", "verification_mismatch", ["comparison_id", "key_text"]
    )
    op.create_index(
        op.f("ix_verification_mismatch_last_seen_run_id"),
        "verification_mismatch",
        ["last_seen_run_id"],
    )
    op.create_index(op.f("ix_verification_mismatch_state"), "verification_mismatch", ["state"])


def downgrade() -> None:
    op.drop_table("verification_mismatch")
    op.drop_table("verification_comparison_run")
    op.drop_table("verification_comparison")
