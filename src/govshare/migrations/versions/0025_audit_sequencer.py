"""audit log without a global lock: entries get an insert-time identity (`id`) and a leaf hash,
their chain position (`seq`, `prev_hash`, `hash`) is set when sequenced; signed checkpoints
(`audit_checkpoint`). Existing entries keep their seq and hashes, so the chain still verifies.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.add_column("audit_entry", sa.Column("id", sa.BigInteger(), nullable=True))
        op.execute("UPDATE audit_entry SET id = seq")
        op.execute("CREATE SEQUENCE audit_entry_id_seq OWNED BY audit_entry.id")
        op.execute(
            "SELECT setval('audit_entry_id_seq', COALESCE((SELECT max(id) FROM audit_entry), 0)"
            " + 1, false)"
        )
        op.execute(
            "ALTER TABLE audit_entry ALTER COLUMN id SET DEFAULT nextval('audit_entry_id_seq')"
        )
        op.execute("ALTER TABLE audit_entry ALTER COLUMN id SET NOT NULL")
        op.drop_constraint("pk_audit_entry", "audit_entry", type_="primary")
        op.create_primary_key("pk_audit_entry", "audit_entry", ["id"])
        op.add_column("audit_entry", sa.Column("leaf_hash", sa.String(length=64), nullable=True))
        op.alter_column("audit_entry", "seq", existing_type=sa.BigInteger(), nullable=True)
        op.alter_column("audit_entry", "prev_hash", existing_type=sa.String(64), nullable=True)
        op.alter_column("audit_entry", "hash", existing_type=sa.String(64), nullable=True)
        op.create_unique_constraint("uq_audit_entry_seq", "audit_entry", ["seq"])
    else:
        # SQLite: the table is rebuilt with `id` as its INTEGER PRIMARY KEY (the rowid), the
        # rows copied in seq order, each given id = seq.
        op.create_table(
            "_audit_entry_new",
            sa.Column("id", ENTRY_ID, autoincrement=True, nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=True),
            sa.Column("occurred_at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
            sa.Column("actor_label", sa.String(length=120), nullable=False),
            sa.Column("actor_user_id", sa.Integer(), nullable=True),
            sa.Column("actor_organization_id", sa.Integer(), nullable=True),
            sa.Column("actor_token_id", sa.Integer(), nullable=True),
            sa.Column("source_ip", sa.String(length=64), nullable=True),
            sa.Column("action", sa.String(length=80), nullable=False),
            sa.Column("object_type", sa.String(length=60), nullable=False),
            sa.Column("object_id", sa.String(length=80), nullable=True),
            sa.Column("details", sa.Text(), nullable=False),
            sa.Column("algorithm", sa.String(length=10), nullable=False),
            sa.Column("leaf_hash", sa.String(length=64), nullable=True),
            sa.Column("prev_hash", sa.String(length=64), nullable=True),
            sa.Column("hash", sa.String(length=64), nullable=True),
            sa.PrimaryKeyConstraint("id", name="pk_audit_entry"),
            sa.UniqueConstraint("seq", name="uq_audit_entry_seq"),
        )
        columns = (
            "seq, occurred_at, actor_label, actor_user_id, actor_organization_id, actor_token_id,"
            " source_ip, action, object_type, object_id, details, algorithm, prev_hash, hash"
        )
        op.execute(
            f"INSERT INTO _audit_entry_new (id, {columns}) SELECT seq, {columns} FROM audit_entry"
        )
        op.drop_table("audit_entry")
        op.rename_table("_audit_entry_new", "audit_entry")
        with op.batch_alter_table("audit_entry") as batch_op:
            for column in (
                "action",
                "actor_label",
                "actor_organization_id",
                "actor_user_id",
                "object_id",
                "object_type",
                "occurred_at",
            ):
                batch_op.create_index(f"ix_audit_entry_{column}", [column], unique=False)
    op.create_table(
        "audit_checkpoint",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", govshare.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoint")),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoint")
    # Entries not yet sequenced have no place in the old chain; the old table cannot hold them.
    op.execute("DELETE FROM audit_entry WHERE seq IS NULL")
    with op.batch_alter_table("audit_entry", recreate="always") as batch_op:
        batch_op.drop_constraint("uq_audit_entry_seq", type_="unique")
        batch_op.drop_constraint("pk_audit_entry", type_="primary")
        batch_op.drop_column("id")
        batch_op.drop_column("leaf_hash")
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(64), nullable=False)
        batch_op.create_primary_key("pk_audit_entry", ["seq"])
