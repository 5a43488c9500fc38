"""evidence (verification_evidence): scanned documents attached to an objection or to a
comparison's mismatch case, kept in the database beside them (VER-1, VER-3)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = govshare.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "verification_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("objection_id", sa.Integer(), nullable=True),
        sa.Column("mismatch_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", stamp, nullable=False),
        sa.Column("uploaded_by", sa.String(length=120), nullable=False),
        sa.CheckConstraint(
            "(objection_id IS NULL) <> (mismatch_id IS NULL)",
            name=op.f("ck_verification_evidence_one_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["objection_id"],
            ["verification_objection.id"],
            name=op.f("fk_verification_evidence_objection_id_verification_objection"),
        ),
        sa.ForeignKeyConstraint(
            ["mismatch_id"],
            ["verification_mismatch.id"],
            name=op.f("fk_verification_evidence_mismatch_id_verification_mismatch"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_verification_evidence_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_evidence")),
    )
    op.create_index(
        op.f("ix_verification_evidence_objection_id"), "verification_evidence", ["objection_id"]
    )
    op.create_index(
        op.f("ix_verification_evidence_mismatch_id"), "verification_evidence", ["mismatch_id"]
    )


def downgrade() -> None:
    op.drop_table("verification_evidence")
