"""federation between platforms (federation_identity, federation_peer, federation_message):
this platform's identity towards its peers, the peered platforms above and below with their
trust anchors, and every message exchanged with them (LVL-1, LVL-2).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-21 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = govshare.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "federation_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=255), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["pki_certificate.id"],
            name=op.f("fk_federation_identity_certificate_id_pki_certificate"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_identity")),
    )
    op.create_table(
        "federation_peer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=255), nullable=False),
        sa.Column("anchor_pem", sa.Text(), nullable=False),
        sa.Column("anchor_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("anchor_subject", sa.String(length=255), nullable=False),
        sa.Column("crl_der", sa.LargeBinary(), nullable=True),
        sa.Column("crl_updated_at", stamp, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_contact_at", stamp, nullable=True),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_peer")),
        sa.UniqueConstraint("code", name=op.f("uq_federation_peer_code")),
    )
    op.create_index(op.f("ix_federation_peer_relation"), "federation_peer", ["relation"])
    op.create_table(
        "federation_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("at", stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["federation_peer.id"],
            name=op.f("fk_federation_message_peer_id_federation_peer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_message")),
        sa.UniqueConstraint(
            "peer_id",
            "direction",
            "message_id",
            name=op.f("uq_federation_message_peer_id_direction_message_id"),
        ),
    )
    op.create_index(op.f("ix_federation_message_message_id"), "federation_message", ["message_id"])
    op.create_index(op.f("ix_federation_message_peer_id"), "federation_message", ["peer_id"])
    op.create_index(op.f("ix_federation_message_at"), "federation_message", ["at"])


def downgrade() -> None:
    op.drop_table("federation_message")
    op.drop_table("federation_peer")
    op.drop_table("federation_identity")
