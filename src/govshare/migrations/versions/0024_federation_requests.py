"""requests to the level above (federation_upper_request, federation_request_attachment,
federation_bundle, federation_mirrored_grant) and, at the upper platform, the bundles received
(federation_inbound_bundle, federation_inbound_item) and the organisations a lower platform
speaks for (federation_peer_organization) (SHR-8, SR§15–§16).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation_bundle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("resource_code", sa.String(length=40), nullable=False),
        sa.Column("resource_name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("upper_number", sa.String(length=20), nullable=True),
        sa.Column("created_at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("pulled_at", govshare.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["federation_peer.id"],
            name=op.f("fk_federation_bundle_peer_id_federation_peer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_bundle")),
        sa.UniqueConstraint("number", name=op.f("uq_federation_bundle_number")),
    )

    op.create_table(
        "federation_peer_organization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("created_at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_federation_peer_organization_organization_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["federation_peer.id"],
            name=op.f("fk_federation_peer_organization_peer_id_federation_peer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_peer_organization")),
        sa.UniqueConstraint(
            "organization_id", name=op.f("uq_federation_peer_organization_organization_id")
        ),
    )

    op.create_table(
        "federation_upper_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("resource_code", sa.String(length=40), nullable=False),
        sa.Column("resource_name", sa.String(length=200), nullable=False),
        sa.Column("provider_name", sa.String(length=100), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("system_name", sa.String(length=100), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("contact", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("reviewed_at", govshare.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=120), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("bundle_id", sa.Integer(), nullable=True),
        sa.Column("upper_number", sa.String(length=20), nullable=True),
        sa.Column("upper_state", sa.String(length=40), nullable=True),
        sa.Column("upper_due_on", sa.Date(), nullable=True),
        sa.Column("upper_reason", sa.Text(), nullable=True),
        sa.Column("upper_basis", sa.Text(), nullable=True),
        sa.Column("upper_conditions", sa.Text(), nullable=True),
        sa.Column("upper_updated_at", govshare.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["federation_bundle.id"],
            name=op.f("fk_federation_upper_request_bundle_id_federation_bundle"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_federation_upper_request_organization_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["federation_peer.id"],
            name=op.f("fk_federation_upper_request_peer_id_federation_peer"),
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["information_system.id"],
            name=op.f("fk_federation_upper_request_system_id_information_system"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_upper_request")),
        sa.UniqueConstraint("number", name=op.f("uq_federation_upper_request_number")),
    )

    op.create_table(
        "federation_inbound_bundle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("lower_number", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("resource_code", sa.String(length=40), nullable=False),
        sa.Column("resource_name", sa.String(length=200), nullable=False),
        sa.Column("received_at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["federation_peer.id"],
            name=op.f("fk_federation_inbound_bundle_peer_id_federation_peer"),
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resource.id"],
            name=op.f("fk_federation_inbound_bundle_resource_id_catalog_resource"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_inbound_bundle")),
        sa.UniqueConstraint("number", name=op.f("uq_federation_inbound_bundle_number")),
        sa.UniqueConstraint(
            "peer_id",
            "lower_number",
            name=op.f("uq_federation_inbound_bundle_peer_id_lower_number"),
        ),
    )

    op.create_table(
        "federation_mirrored_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("resource_code", sa.String(length=40), nullable=False),
        sa.Column("resource_name", sa.String(length=200), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("row_filter", sa.JSON(), nullable=False),
        sa.Column("masking", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("mirrored_at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_federation_mirrored_grant_organization_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["federation_peer.id"],
            name=op.f("fk_federation_mirrored_grant_peer_id_federation_peer"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["federation_upper_request.id"],
            name=op.f("fk_federation_mirrored_grant_request_id_federation_upper_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_mirrored_grant")),
        sa.UniqueConstraint(
            "peer_id", "number", name=op.f("uq_federation_mirrored_grant_peer_id_number")
        ),
    )

    op.create_table(
        "federation_request_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["federation_upper_request.id"],
            name=op.f("fk_federation_request_attachment_request_id_federation_upper_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_request_attachment")),
    )

    op.create_table(
        "federation_inbound_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.Integer(), nullable=False),
        sa.Column("lower_number", sa.String(length=20), nullable=False),
        sa.Column("organization_name", sa.String(length=100), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["sharing_application.id"],
            name=op.f("fk_federation_inbound_item_application_id_sharing_application"),
        ),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["federation_inbound_bundle.id"],
            name=op.f("fk_federation_inbound_item_bundle_id_federation_inbound_bundle"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_federation_inbound_item_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_inbound_item")),
    )

    op.create_index(op.f("ix_federation_bundle_peer_id"), "federation_bundle", ["peer_id"])
    op.create_index(op.f("ix_federation_bundle_state"), "federation_bundle", ["state"])
    op.create_index(
        op.f("ix_federation_peer_organization_peer_id"), "federation_peer_organization", ["peer_id"]
    )
    op.create_index(
        op.f("ix_federation_upper_request_bundle_id"), "federation_upper_request", ["bundle_id"]
    )
    op.create_index(
        op.f("ix_federation_upper_request_organization_id"),
        "federation_upper_request",
        ["organization_id"],
    )
    op.create_index(
        op.f("ix_federation_upper_request_peer_id"), "federation_upper_request", ["peer_id"]
    )
    op.create_index(
        op.f("ix_federation_upper_request_resource_code"),
        "federation_upper_request",
        ["resource_code"],
    )
    op.create_index(
        op.f("ix_federation_upper_request_state"), "federation_upper_request", ["state"]
    )
    op.create_index(
        op.f("ix_federation_inbound_bundle_peer_id"), "federation_inbound_bundle", ["peer_id"]
    )
    op.create_index(
        op.f("ix_federation_mirrored_grant_organization_id"),
        "federation_mirrored_grant",
        ["organization_id"],
    )
    op.create_index(
        op.f("ix_federation_mirrored_grant_request_id"), "federation_mirrored_grant", ["request_id"]
    )
    op.create_index(
        op.f("ix_federation_request_attachment_request_id"),
        "federation_request_attachment",
        ["request_id"],
    )
    op.create_index(
        op.f("ix_federation_inbound_item_bundle_id"), "federation_inbound_item", ["bundle_id"]
    )


def downgrade() -> None:
    op.drop_table("federation_inbound_item")
    op.drop_table("federation_request_attachment")
    op.drop_table("federation_mirrored_grant")
    op.drop_table("federation_inbound_bundle")
    op.drop_table("federation_upper_request")
    op.drop_table("federation_peer_organization")
    op.drop_table("federation_bundle")
