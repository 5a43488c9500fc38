"""What "identical" means for a restored deployment: every table's rows in every database it
has, every stored file's SHA-256 and the secret key file. Tables are listed from each database
itself (every schema on PostgreSQL), so a table added later is compared without a word here;
rows are read in primary-key order, so a difference names the row."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from govshare.core.settings import Settings

SHOWN = 3  # differences shown per table


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    key: tuple[str, ...]  # the primary key's columns; empty when the table has none
    rows: list[tuple[Any, ...]]


@dataclass
class State:
    """A deployment's contents: its databases' tables (by part: `platform`, `center` when it
    is a database of its own, `portal`), the file store and the secret key file."""

    databases: dict[str, dict[str, Table]]
    files: dict[str, str]
    secret_key: bytes | None
    sequences: dict[str, dict[str, int | None]] = field(default_factory=dict)


def database_tables(url: str) -> tuple[dict[str, Table], dict[str, int | None]]:
    """Every table of a database, by name (`schema.table` on PostgreSQL), its rows in
    primary-key order (sorted whole where there is no key); and PostgreSQL's sequences with
    their last values, which a restore must carry over for the next insert not to collide."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            postgres = conn.dialect.name == "postgresql"
            schemas: list[str | None] = (
                [
                    s
                    for s in inspector.get_schema_names()
                    if s != "information_schema" and not s.startswith("pg_")
                ]
                if postgres
                else [None]
            )
            tables = {}
            for schema in schemas:
                for name in inspector.get_table_names(schema=schema):
                    shown = f"{schema}.{name}" if schema else name
                    tables[shown] = _table(conn, inspector, name, schema)
            sequences: dict[str, int | None] = {}
            if postgres:
                found = conn.execute(
                    sa.text("SELECT schemaname, sequencename, last_value FROM pg_sequences")
                )
                sequences = {f"{schema}.{name}": value for schema, name, value in found}
            return tables, sequences
    finally:
        engine.dispose()


def _table(conn: sa.Connection, inspector: Any, name: str, schema: str | None) -> Table:
    columns = tuple(c["name"] for c in inspector.get_columns(name, schema=schema))
    key = tuple(inspector.get_pk_constraint(name, schema=schema)["constrained_columns"] or ())
    table = sa.table(name, *(sa.column(c) for c in columns), schema=schema)
    query = sa.select(*table.c)
    if key:
        query = query.order_by(*(table.c[c] for c in key))
    rows = [tuple(row) for row in conn.execute(query)]
    if not key:
        rows.sort(key=repr)
    return Table(columns, key, rows)


def file_digests(root: Path) -> dict[str, str]:
    """Every file under a directory, by relative path: its SHA-256."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def state_of(settings: Settings) -> State:
    """Everything a deployment holds, read from its databases and data directory."""
    urls = {"platform": settings.database_url}
    if settings.center_database_url != settings.database_url:
        urls["center"] = settings.center_database_url  # else in the platform's, as a schema
    urls["portal"] = settings.portal_database_url
    databases, sequences = {}, {}
    for part, url in urls.items():
        databases[part], sequences[part] = database_tables(url)
    key = settings.data_dir / "secret_key"
    return State(
        databases=databases,
        files=file_digests(settings.data_dir / "files"),
        secret_key=key.read_bytes() if key.is_file() else None,
        sequences=sequences,
    )


def differences(before: State, after: State) -> list[str]:
    """Where `after` is not `before`, one line per finding (none: identical)."""
    found: list[str] = []
    for part in sorted(before.databases.keys() | after.databases.keys()):
        if part not in after.databases or part not in before.databases:
            found.append(
                f"database {part}: only {'before' if part in before.databases else 'after'}"
            )
            continue
        found += _tables(part, before.databases[part], after.databases[part])
        found += _mapping(
            f"{part} sequence", before.sequences.get(part, {}), after.sequences.get(part, {})
        )
    found += _mapping("file", before.files, after.files)
    if before.secret_key != after.secret_key:
        found.append("secret_key: the key file differs")
    return found


def _tables(part: str, before: dict[str, Table], after: dict[str, Table]) -> list[str]:
    found = []
    for name in sorted(before.keys() | after.keys()):
        where = f"{part} table {name}"
        if name not in after or name not in before:
            found.append(f"{where}: only {'before' if name in before else 'after'}")
            continue
        old, new = before[name], after[name]
        if (old.columns, old.key) != (new.columns, new.key):
            found.append(f"{where}: columns {old.columns} became {new.columns}")
            continue
        if len(old.rows) != len(new.rows):
            found.append(f"{where}: {len(old.rows)} rows became {len(new.rows)}")
        if old.key:
            found += _keyed(where, old, new)
        else:
            # As a multiset, by representation (a JSON value is a dict, which cannot be hashed).
            changed = list((Counter(map(repr, old.rows)) - Counter(map(repr, new.rows))).elements())
            found += [f"{where}: row {row} is gone or changed" for row in changed[:SHOWN]]
    return found


def _keyed(where: str, old: Table, new: Table) -> list[str]:
    """Rows told apart by their primary key: which are gone, which came, which changed."""
    positions = [old.columns.index(c) for c in old.key]

    def by_key(table: Table) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        return {tuple(row[i] for i in positions): row for row in table.rows}

    before, after = by_key(old), by_key(new)
    found = []
    for key in [k for k in before if k not in after][:SHOWN]:
        found.append(f"{where}: row {dict(zip(old.key, key, strict=True))} is gone")
    for key in [k for k in after if k not in before][:SHOWN]:
        found.append(f"{where}: row {dict(zip(old.key, key, strict=True))} is new")
    changed = [k for k in before if k in after and before[k] != after[k]]
    for key in changed[:SHOWN]:
        columns = [
            f"{c}: {a!r} became {b!r}"
            for c, a, b in zip(old.columns, before[key], after[key], strict=True)
            if a != b
        ]
        found.append(
            f"{where}: row {dict(zip(old.key, key, strict=True))} changed ({'; '.join(columns)})"
        )
    return found


def _mapping(what: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    found = []
    for name in sorted(before.keys() | after.keys()):
        if name not in after or name not in before:
            found.append(f"{what} {name}: only {'before' if name in before else 'after'}")
        elif before[name] != after[name]:
            found.append(f"{what} {name}: {before[name]!r} became {after[name]!r}")
    return found


def audit_after(state: State, seq: int) -> list[str]:
    """Takes out of the platform's tables what the audit log holds past entry `seq` (what
    was audited after the backup: the backup itself, its verification, the restore), its
    head row, which names the last entry, and the sequence entries draw their ids from
    (PostgreSQL); returns the actions taken out, in order."""
    tables = state.databases["platform"]
    (entries,) = [name for name in tables if name.split(".")[-1] == "audit_entry"]
    (head,) = [name for name in tables if name.split(".")[-1] == "audit_head"]
    table = tables[entries]
    at, action = table.columns.index("seq"), table.columns.index("action")
    kept = [row for row in table.rows if row[at] <= seq]
    tables[entries] = Table(table.columns, table.key, kept)
    del tables[head]
    sequences = state.sequences.get("platform", {})
    for name in [n for n in sequences if n.split(".")[-1] == "audit_entry_id_seq"]:
        del sequences[name]
    return [row[action] for row in table.rows if row[at] > seq]
