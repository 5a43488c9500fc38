"""catalog search terms as bitmaps (catalog_search_term) in place of the databases' full-text
indexes: FTS5 tables and their triggers on SQLite, tsvector columns and GIN indexes on
PostgreSQL. The new table is filled from the terms the index already holds.

Revision ID: 0027
Revises: 0024
Create Date: 2026-12-08 00:00:00
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 1 << 12  # as catalog.search_index.TERM_CHUNK when this was written

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS catalog_search_au",
    "DROP TRIGGER IF EXISTS catalog_search_ad",
    "DROP TRIGGER IF EXISTS catalog_search_ai",
    "DROP TRIGGER IF EXISTS catalog_search_text_au",
    "DROP TRIGGER IF EXISTS catalog_search_text_ad",
    "DROP TRIGGER IF EXISTS catalog_search_text_ai",
    "DROP TABLE IF EXISTS catalog_search_fts_name",
    "DROP TABLE IF EXISTS catalog_search_fts",
]
POSTGRESQL_DROP = [
    "DROP INDEX IF EXISTS ix_catalog_search_fts_name",
    "DROP INDEX IF EXISTS ix_catalog_search_text_fts_terms",
    "ALTER TABLE catalog_search DROP COLUMN IF EXISTS fts_name",
    "ALTER TABLE catalog_search_text DROP COLUMN IF EXISTS fts_terms",
]
# What migration 0003 made, for the way down (the FTS5 tables are filled with 'rebuild', the
# generated columns compute themselves).
SQLITE_RESTORE = [
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
    "INSERT INTO catalog_search_fts (catalog_search_fts) VALUES ('rebuild')",
    "INSERT INTO catalog_search_fts_name (catalog_search_fts_name) VALUES ('rebuild')",
]
POSTGRESQL_RESTORE = [
    """ALTER TABLE catalog_search ADD COLUMN fts_name tsvector
        GENERATED ALWAYS AS (array_to_tsvector(string_to_array(name_terms, ' '))) STORED""",
    """ALTER TABLE catalog_search_text ADD COLUMN fts_terms tsvector
        GENERATED ALWAYS AS (array_to_tsvector(string_to_array(terms, ' '))) STORED""",
    "CREATE INDEX ix_catalog_search_fts_name ON catalog_search USING gin (fts_name)",
    "CREATE INDEX ix_catalog_search_text_fts_terms ON catalog_search_text USING gin (fts_terms)",
    "ALTER TABLE catalog_search_text ALTER COLUMN fts_terms SET STORAGE EXTERNAL",
]


def _pieces(rows: Any) -> Iterator[dict[str, Any]]:
    """The term rows of (resource id, name terms, terms): a bitmap piece per scope, term and
    chunk, ending on a non-zero byte (as `catalog.search_index.term_pieces` builds them)."""
    data: dict[tuple[str, str, int], bytearray] = {}

    def add(scope: str, term: str, n: int) -> None:
        chunk, bit = divmod(n, CHUNK)
        piece = data.setdefault((scope, term, chunk), bytearray())
        if len(piece) <= bit >> 3:
            piece.extend(bytes((bit >> 3) + 1 - len(piece)))
        piece[bit >> 3] |= 1 << (bit & 7)

    for resource_id, name_terms, terms in rows:
        for term in set(terms.split()):
            add("text", term, resource_id)
        for term in set(name_terms.split()):
            add("name", term, resource_id)
    for (scope, term, chunk), piece in sorted(data.items()):
        yield {"scope": scope, "term": term, "chunk": chunk, "members": bytes(piece)}


def upgrade() -> None:
    table = op.create_table(
        "catalog_search_term",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("members", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "term", "chunk", name=op.f("pk_catalog_search_term")),
    )
    bind = op.get_bind()
    dialect = bind.dialect.name
    for statement in {"sqlite": SQLITE_DROP, "postgresql": POSTGRESQL_DROP}.get(dialect, []):
        op.execute(statement)
    found = bind.execute(
        sa.text(
            "SELECT s.resource_id, s.name_terms, t.terms FROM catalog_search s "
            "JOIN catalog_search_text t ON t.resource_id = s.resource_id"
        )
    )
    rows = list(_pieces(found))
    for start in range(0, len(rows), 1000):
        op.bulk_insert(table, rows[start : start + 1000])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("catalog_search_term")
    for statement in {"sqlite": SQLITE_RESTORE, "postgresql": POSTGRESQL_RESTORE}.get(dialect, []):
        op.execute(statement)
