"""open releases (opendata_release): a resource's open view, its secrecy review and the
operator's confirmation, for publication into the open portal's own database (OPN-3, SR§20);
the public's applications for conditional open data as the platform read them (OPN-2, SR§22);
the public's requests for data not open yet, assigned to departments (SR§7, CAT-10)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = govshare.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "opendata_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("open_type", sa.String(length=16), nullable=False),
        sa.Column("open_conditions", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("row_filter", sa.JSON(), nullable=False),
        sa.Column("masking", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("secrecy_reviewer", sa.String(length=120), nullable=True),
        sa.Column("secrecy_reviewed_on", sa.Date(), nullable=True),
        sa.Column("secrecy_basis", sa.Text(), nullable=True),
        sa.Column("secrecy_outcome", sa.String(length=16), nullable=True),
        sa.Column("secrecy_recorded_by", sa.String(length=120), nullable=True),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.Column("submitted_at", stamp, nullable=True),
        sa.Column("submitted_by", sa.String(length=120), nullable=True),
        sa.Column("decided_at", stamp, nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("withdrawn_at", stamp, nullable=True),
        sa.Column("withdrawn_by", sa.String(length=120), nullable=True),
        sa.Column("withdrawal_reason", sa.Text(), nullable=True),
        sa.Column("published_at", stamp, nullable=True),
        sa.Column("published_rows", sa.BigInteger(), nullable=True),
        sa.Column("publications", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resource.id"],
            name=op.f("fk_opendata_release_resource_id_catalog_resource"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["catalog_version.id"],
            name=op.f("fk_opendata_release_version_id_catalog_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_release")),
    )
    op.create_index(op.f("ix_opendata_release_resource_id"), "opendata_release", ["resource_id"])
    op.create_index(op.f("ix_opendata_release_state"), "opendata_release", ["state"])
    op.create_table(
        "opendata_public_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("portal_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("applicant_kind", sa.String(length=16), nullable=False),
        sa.Column("applicant_name", sa.String(length=200), nullable=False),
        sa.Column("applicant_code", sa.String(length=18), nullable=False),
        sa.Column("applicant_mobile", sa.String(length=11), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("usage", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("submitted_at", stamp, nullable=False),
        sa.Column("received_at", stamp, nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answered_at", stamp, nullable=True),
        sa.Column("answered_by", sa.String(length=120), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("granted_fields", sa.JSON(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("delivered_at", stamp, nullable=True),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resource.id"],
            name=op.f("fk_opendata_public_application_resource_id_catalog_resource"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_public_application")),
        sa.UniqueConstraint("number", name=op.f("uq_opendata_public_application_number")),
        sa.UniqueConstraint("portal_id", name=op.f("uq_opendata_public_application_portal_id")),
    )
    op.create_index(
        op.f("ix_opendata_public_application_resource_id"),
        "opendata_public_application",
        ["resource_id"],
    )
    op.create_index(
        op.f("ix_opendata_public_application_due_on"), "opendata_public_application", ["due_on"]
    )
    op.create_index(
        op.f("ix_opendata_public_application_state"), "opendata_public_application", ["state"]
    )
    op.create_table(
        "opendata_public_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("portal_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("domain", sa.String(length=32), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("requester_kind", sa.String(length=16), nullable=False),
        sa.Column("requester_name", sa.String(length=200), nullable=False),
        sa.Column("submitted_at", stamp, nullable=False),
        sa.Column("received_at", stamp, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", stamp, nullable=True),
        sa.Column("assigned_by", sa.String(length=120), nullable=True),
        sa.Column("assignment_note", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("answered_at", stamp, nullable=True),
        sa.Column("answered_by", sa.String(length=120), nullable=True),
        sa.Column("will_open", sa.Boolean(), nullable=True),
        sa.Column("planned_on", sa.Date(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("delivered_state", sa.String(length=16), nullable=True),
        sa.Column("delivered_at", stamp, nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_opendata_public_request_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_public_request")),
        sa.UniqueConstraint("number", name=op.f("uq_opendata_public_request_number")),
        sa.UniqueConstraint("portal_id", name=op.f("uq_opendata_public_request_portal_id")),
    )
    op.create_index(
        op.f("ix_opendata_public_request_organization_id"),
        "opendata_public_request",
        ["organization_id"],
    )
    op.create_index(
        op.f("ix_opendata_public_request_due_on"), "opendata_public_request", ["due_on"]
    )
    op.create_index(op.f("ix_opendata_public_request_state"), "opendata_public_request", ["state"])


def downgrade() -> None:
    op.drop_table("opendata_public_request")
    op.drop_table("opendata_public_application")
    op.drop_table("opendata_release")
