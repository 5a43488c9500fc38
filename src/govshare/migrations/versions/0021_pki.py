"""certificates for department systems (pki_authority, pki_certificate): the platform's
certificate authority with its sealed key and CRL, and the client certificates it issues to
registered systems (SEC-1, BZ§26).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-20 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = govshare.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "pki_authority",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("imported", sa.Boolean(), nullable=False),
        sa.Column("not_after", stamp, nullable=False),
        sa.Column("crl_number", sa.Integer(), nullable=False),
        sa.Column("crl_der", sa.LargeBinary(), nullable=True),
        sa.Column("crl_updated_at", stamp, nullable=True),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pki_authority")),
    )
    op.create_table(
        "pki_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority_id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("key_generated", sa.Boolean(), nullable=False),
        sa.Column("not_before", stamp, nullable=False),
        sa.Column("not_after", stamp, nullable=False),
        sa.Column("renewed_from_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", stamp, nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.Column("revocation_note", sa.Text(), nullable=True),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["pki_authority.id"],
            name=op.f("fk_pki_certificate_authority_id_pki_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["information_system.id"],
            name=op.f("fk_pki_certificate_system_id_information_system"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_pki_certificate_organization_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["renewed_from_id"],
            ["pki_certificate.id"],
            name=op.f("fk_pki_certificate_renewed_from_id_pki_certificate"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pki_certificate")),
        sa.UniqueConstraint("serial", name=op.f("uq_pki_certificate_serial")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_pki_certificate_fingerprint")),
    )
    for column in ("authority_id", "system_id", "organization_id", "not_after"):
        op.create_index(
            op.f(f"ix_pki_certificate_{column}"), "pki_certificate", [column], unique=False
        )


def downgrade() -> None:
    for column in ("authority_id", "system_id", "organization_id", "not_after"):
        op.drop_index(op.f(f"ix_pki_certificate_{column}"), "pki_certificate")
    op.drop_table("pki_certificate")
    op.drop_table("pki_authority")
