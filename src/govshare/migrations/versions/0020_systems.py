"""information systems register (information_system, information_system_line): each
department's systems, their connection to the platform and the private lines still to close
(CAT-12, SY§15, SY§20); applications, grants and API tokens name a registered system
(system_id). The names written before are registered here, one system per department and
name, so every existing row points at one and keeps its name as written.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-18 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import govshare.core.db
from govshare.core import clock

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MIGRATED_PURPOSE = "由平台升级前申请、授权或接口令牌中填写的系统名称自动登记，请补充用途"
MIGRATED_OWNER = "待补充"
# (table, its department column, its name column) of the rows that named a system as text
NAMED_BY = (
    ("sharing_application", "consumer_id", "system_name"),
    ("sharing_grant", "consumer_id", "system_name"),
    ("api_token", "organization_id", "name"),
)


def upgrade() -> None:
    stamp = govshare.core.db.UTCDateTime(timezone=True)
    op.create_table(
        "information_system",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("classified", sa.Boolean(), nullable=False),
        sa.Column("connected_on", sa.Date(), nullable=True),
        sa.Column("connection_note", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("retired_on", sa.Date(), nullable=True),
        sa.Column("retired_reason", sa.Text(), nullable=True),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_information_system_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_information_system")),
        sa.UniqueConstraint(
            "organization_id", "name", name=op.f("uq_information_system_organization_id_name")
        ),
    )
    op.create_index(
        op.f("ix_information_system_organization_id"), "information_system", ["organization_id"]
    )
    op.create_index(op.f("ix_information_system_state"), "information_system", ["state"])
    op.create_table(
        "information_system_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("peer", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("planned_close_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closing_note", sa.Text(), nullable=True),
        sa.Column("recorded_at", stamp, nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"],
            ["information_system.id"],
            name=op.f("fk_information_system_line_system_id_information_system"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_information_system_line")),
    )
    op.create_index(
        op.f("ix_information_system_line_system_id"), "information_system_line", ["system_id"]
    )

    # Added in place, never by rebuilding the table: on SQLite a rebuild drops a table other
    # tables' rows refer to, which foreign keys (on inside the migration's transaction)
    # refuse. So the column stays nullable; every row has a system once this has run.
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, _, _ in NAMED_BY:
        op.add_column(
            table,
            sa.Column(
                "system_id",
                sa.Integer(),
                sa.ForeignKey(
                    "information_system.id",
                    name=op.f(f"fk_{table}_system_id_information_system"),
                ),
                nullable=True,
            ),
            inline_references=sqlite,
        )
        op.create_index(op.f(f"ix_{table}_system_id"), table, ["system_id"])
    _register_named_systems()


def _register_named_systems() -> None:
    """One registered system per department and name written before; rows point at theirs."""
    connection = op.get_bind()
    systems = sa.table(
        "information_system",
        sa.column("id", sa.Integer()),
        sa.column("organization_id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("purpose", sa.Text()),
        sa.column("owner", sa.String()),
        sa.column("level", sa.String()),
        sa.column("classified", sa.Boolean()),
        sa.column("connection_note", sa.Text()),
        sa.column("state", sa.String()),
        sa.column("created_at", govshare.core.db.UTCDateTime(timezone=True)),
        sa.column("created_by", sa.String()),
        sa.column("updated_at", govshare.core.db.UTCDateTime(timezone=True)),
    )
    named: set[tuple[int, str]] = set()
    for table, department, name in NAMED_BY:
        t = sa.table(table, sa.column(department, sa.Integer()), sa.column(name, sa.String()))
        named.update(
            (row[0], row[1]) for row in connection.execute(sa.select(t.c[department], t.c[name]))
        )
    if not named:
        return
    now = clock.now()
    connection.execute(
        systems.insert(),
        [
            {
                "organization_id": org,
                "name": text[:100],
                "purpose": MIGRATED_PURPOSE,
                "owner": MIGRATED_OWNER,
                "level": "city",
                "classified": False,
                "connection_note": "",
                "state": "in_use",
                "created_at": now,
                "created_by": "migration:0020",
                "updated_at": now,
            }
            for org, text in sorted(named)
        ],
    )
    ids = {
        (row[1], row[2]): row[0]
        for row in connection.execute(
            sa.select(systems.c.id, systems.c.organization_id, systems.c.name)
        )
    }
    for table, department, name in NAMED_BY:
        t = sa.table(
            table,
            sa.column("id", sa.Integer()),
            sa.column(department, sa.Integer()),
            sa.column(name, sa.String()),
            sa.column("system_id", sa.Integer()),
        )
        rows = connection.execute(sa.select(t.c.id, t.c[department], t.c[name])).all()
        if rows:
            connection.execute(
                t.update().where(t.c.id == sa.bindparam("_id")),
                [{"_id": r[0], "system_id": ids[(r[1], r[2][:100])]} for r in rows],
            )


def downgrade() -> None:
    for table, _, _ in NAMED_BY:
        op.drop_index(op.f(f"ix_{table}_system_id"), table)
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"fk_{table}_system_id_information_system"), "foreignkey")
            batch.drop_column("system_id")
    op.drop_index(op.f("ix_information_system_line_system_id"), "information_system_line")
    op.drop_table("information_system_line")
    op.drop_index(op.f("ix_information_system_state"), "information_system")
    op.drop_index(op.f("ix_information_system_organization_id"), "information_system")
    op.drop_table("information_system")
