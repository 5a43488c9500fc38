"""the job queue's tables (job_kv, job_schedule, job_task, job_counter), created here rather
than by the job library on first use: a first use inside a request would wait on the request's
own write lock on SQLite

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The shapes Huey's SqlStorage (huey.contrib.sql_huey) declares for its Peewee models.


def upgrade() -> None:
    op.create_table(
        "job_kv",
        sa.Column("queue", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("queue", "key"),
    )
    op.create_table(
        "job_schedule",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("queue", sa.String(255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.create_index("job_schedule_queue_timestamp", "job_schedule", ["queue", "timestamp"])
    op.create_table(
        "job_task",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("queue", sa.String(255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False, server_default="0"),
    )
    op.create_index("job_task_priority_id", "job_task", [sa.text("priority DESC"), "id"])
    op.create_table(
        "job_counter",
        sa.Column("queue", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("queue", "key"),
    )


def downgrade() -> None:
    op.drop_table("job_counter")
    op.drop_table("job_task")
    op.drop_table("job_schedule")
    op.drop_table("job_kv")
