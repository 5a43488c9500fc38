"""the nginx data plane of the gateway: the request id of a call ingested from nginx's access
log (unique, so no line counts twice) and the ingestion's position in that log
(exchange_gateway_log_position).

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_gateway_log_position",
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("device", sa.BigInteger(), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_exchange_gateway_log_position")),
    )
    with op.batch_alter_table("exchange_gateway_call", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_exchange_gateway_call_request_id"), ["request_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("exchange_gateway_call", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_exchange_gateway_call_request_id"), type_="unique")
        batch_op.drop_column("request_id")
    op.drop_table("exchange_gateway_log_position")
