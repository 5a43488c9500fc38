"""mismatch item names (verification_mismatch.item_names): the names of a case's differing
items as "|姓名|户籍地址|", so that a comparison's cases filter by item in SQL however many
there are; filled in here for the cases already found

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 11:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("verification_mismatch") as batch:
        batch.add_column(
            sa.Column("item_names", sa.String(length=2000), nullable=False, server_default="")
        )
    table = sa.table(
        "verification_mismatch",
        sa.column("id", sa.Integer()),
        sa.column("items", sa.JSON()),
        sa.column("item_names", sa.String()),
    )
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, table.c["items"])
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            table.update().where(table.c.id == sa.bindparam("_id")),
            [
                {
                    "_id": row[0],
                    "item_names": "|" + "".join(f"{i['item']}|" for i in _items(row[1])),
                }
                for row in rows
            ],
        )
        last = rows[-1][0]


def _items(value: object) -> list[dict]:
    return json.loads(value) if isinstance(value, str) else list(value or [])  # type: ignore[arg-type]


def downgrade() -> None:
    with op.batch_alter_table("verification_mismatch") as batch:
        batch.drop_column("item_names")
