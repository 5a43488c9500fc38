"""catalog search index: entries, terms, facet bitmaps and each database's full-text parts

SQLite gets FTS5 tables with external content and the triggers that keep them in sync;
PostgreSQL gets generated tsvector columns with GIN indexes. A database that already holds
published resources fills the index with `govshare catalog reindex`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, length: int, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=length)


SQLITE_UP = [
    # Terms are already split into letter-and-digit tokens by spaces; unicode61 splits on
    # exactly those spaces. detail=none: only which rows hold a token, all that is matched.
    """CREATE VIRTUAL TABLE catalog_search_fts USING fts5(
        terms, content='catalog_search_text', content_rowid='resource_id',
        tokenize='unicode61 remove_diacritics 0', detail=none)""",
    """CREATE VIRTUAL TABLE catalog_search_fts_name USING fts5(
        name_terms, content='catalog_search', content_rowid='resource_id',
        tokenize='unicode61 remove_diacritics 0', detail=none)""",
    """CREATE TRIGGER catalog_search_text_ai AFTER INSERT ON catalog_search_text BEGIN
        INSERT INTO catalog_search_fts (rowid, terms) VALUES (new.resource_id, new.terms);
    END""",
    """CREATE TRIGGER catalog_search_text_ad AFTER DELETE ON catalog_search_text BEGIN
        INSERT INTO catalog_search_fts (catalog_search_fts, rowid, terms)
        VALUES ('delete', old.resource_id, old.terms);
    END""",
    """CREATE TRIGGER catalog_search_text_au AFTER UPDATE ON catalog_search_text BEGIN
        INSERT INTO catalog_search_fts (catalog_search_fts, rowid, terms)
        VALUES ('delete', old.resource_id, old.terms);
        INSERT INTO catalog_search_fts (rowid, terms) VALUES (new.resource_id, new.terms);
    END""",
    """CREATE TRIGGER catalog_search_ai AFTER INSERT ON catalog_search BEGIN
        INSERT INTO catalog_search_fts_name (rowid, name_terms)
        VALUES (new.resource_id, new.name_terms);
    END""",
    """CREATE TRIGGER catalog_search_ad AFTER DELETE ON catalog_search BEGIN
        INSERT INTO catalog_search_fts_name (catalog_search_fts_name, rowid, name_terms)
        VALUES ('delete', old.resource_id, old.name_terms);
    END""",
    """CREATE TRIGGER catalog_search_au AFTER UPDATE ON catalog_search BEGIN
        INSERT INTO catalog_search_fts_name (catalog_search_fts_name, rowid, name_terms)
        VALUES ('delete', old.resource_id, old.name_terms);
        INSERT INTO catalog_search_fts_name (rowid, name_terms)
        VALUES (new.resource_id, new.name_terms);
    END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER catalog_search_au",
    "DROP TRIGGER catalog_search_ad",
    "DROP TRIGGER catalog_search_ai",
    "DROP TRIGGER catalog_search_text_au",
    "DROP TRIGGER catalog_search_text_ad",
    "DROP TRIGGER catalog_search_text_ai",
    "DROP TABLE catalog_search_fts_name",
    "DROP TABLE catalog_search_fts",
]
POSTGRESQL_UP = [
    # array_to_tsvector takes each token as a lexeme as it is: no parser, no dictionary.
    """ALTER TABLE catalog_search ADD COLUMN fts_name tsvector
        GENERATED ALWAYS AS (array_to_tsvector(string_to_array(name_terms, ' '))) STORED""",
    """ALTER TABLE catalog_search_text ADD COLUMN fts_terms tsvector
        GENERATED ALWAYS AS (array_to_tsvector(string_to_array(terms, ' '))) STORED""",
    "CREATE INDEX ix_catalog_search_fts_name ON catalog_search USING gin (fts_name)",
    "CREATE INDEX ix_catalog_search_text_fts_terms ON catalog_search_text USING gin (fts_terms)",
    # Keep the term rows' heap small: the long values go out of line, uncompressed, since
    # matching reads only the GIN index and the row's visibility.
    "ALTER TABLE catalog_search_text ALTER COLUMN terms SET STORAGE EXTERNAL",
    "ALTER TABLE catalog_search_text ALTER COLUMN fts_terms SET STORAGE EXTERNAL",
    "ALTER TABLE catalog_search_text SET (toast_tuple_target = 128)",
]


def upgrade() -> None:
    op.create_table(
        "catalog_search",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column(
            "catalog_kind", _enum("catalogkind", 16, "base", "theme", "department"), nullable=False
        ),
        sa.Column(
            "domain",
            _enum(
                "domain",
                32,
                "credit",
                "transport",
                "health",
                "employment",
                "social_security",
                "geography",
                "culture",
                "education",
                "science",
                "energy",
                "agriculture",
                "environment",
                "economy",
                "finance",
                "safety",
                "statistics",
                "weather",
                "enterprise_registration",
                "public_administration",
            ),
            nullable=False,
        ),
        sa.Column(
            "share_type",
            _enum("sharetype", 16, "unconditional", "conditional", "not_shared"),
            nullable=False,
        ),
        sa.Column(
            "format",
            _enum(
                "resourceformat",
                24,
                "database",
                "electronic_file",
                "spreadsheet",
                "image",
                "streaming",
                "self_describing",
                "service_interface",
            ),
            nullable=False,
        ),
        sa.Column(
            "open_type",
            _enum("opentype", 16, "not_open", "unconditional", "conditional"),
            nullable=False,
        ),
        sa.Column(
            "update_frequency",
            _enum(
                "updatefrequency",
                16,
                "realtime",
                "daily",
                "weekly",
                "monthly",
                "quarterly",
                "half_yearly",
                "yearly",
                "irregular",
            ),
            nullable=False,
        ),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("name_key", sa.String(length=120), nullable=False),
        sa.Column("name_terms", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["organization.id"],
            name=op.f("fk_catalog_search_provider_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resource.id"],
            name=op.f("fk_catalog_search_resource_id_catalog_resource"),
        ),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_catalog_search")),
    )
    with op.batch_alter_table("catalog_search", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_search_domain"), ["domain"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_catalog_search_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index(
            "ix_catalog_search_published", ["published_on", "resource_id"], unique=False
        )
        batch_op.create_index("ix_catalog_search_name", ["name_key", "resource_id"], unique=False)

    op.create_table(
        "catalog_search_text",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_search.resource_id"],
            name=op.f("fk_catalog_search_text_resource_id_catalog_search"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_catalog_search_text")),
    )
    op.create_table(
        "catalog_search_facet",
        sa.Column("facet", sa.String(length=24), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("members", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("facet", "value", "chunk", name=op.f("pk_catalog_search_facet")),
    )
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_UP, "postgresql": POSTGRESQL_UP}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    op.drop_table("catalog_search_facet")
    op.drop_table("catalog_search_text")
    with op.batch_alter_table("catalog_search", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_search_name")
        batch_op.drop_index("ix_catalog_search_published")
        batch_op.drop_index(batch_op.f("ix_catalog_search_provider_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_search_domain"))

    op.drop_table("catalog_search")
