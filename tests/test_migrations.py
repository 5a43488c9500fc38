"""The migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from govshare.core import migrate
from govshare.core.db import make_engine
from govshare.core.models import Base


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": migrate.modelled}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models differ from migrations (write a migration): {diff}"


def test_mismatch_item_names_are_filled_in_for_cases_found_before(tmp_path: Path) -> None:
    """0016 adds the names a case's list filters by, and writes them for the cases there."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0015")
    items = [
        [{"item": "姓名", "left": "张伟", "right": "张卫"}],
        [{"item": "户籍地址", "left": "一号", "right": "二号"}, {"item": "50%_", "left": 1}],
    ]
    # plain sqlite3: foreign keys off, so the cases need no comparison, run or department
    with contextlib.closing(sqlite3.connect(tmp_path / "old.db")) as raw, raw:
        raw.executemany(
            "INSERT INTO verification_mismatch (id, comparison_id, found_run_id, "
            "last_seen_run_id, key, key_text, kind, items, side, department_id, state, "
            "opened_at, opened_on, due_on, due_provisional, answer, evidence, mediation) "
            "VALUES (?, 1, 1, 1, '[]', ?, 'differs', ?, 'left', 1, 'open', "
            "'2026-12-01 00:00:00', '2026-12-01', '2026-12-15', 0, '', '', '')",
            [(n, str(n), json.dumps(found)) for n, found in enumerate(items, start=1)],
        )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        names = connection.execute(
            text("SELECT item_names FROM verification_mismatch ORDER BY id")
        ).scalars()
        assert list(names) == ["|姓名|", "|户籍地址|50%_|"]
    engine.dispose()


def _row(engine: Engine, table: str, **given: object) -> dict[str, object]:
    """A row for `table` as it stands: `given`, and a plain value for every other NOT NULL
    column (foreign keys are off in plain sqlite3, so other ids need no rows behind them)."""
    from sqlalchemy import inspect

    values: dict[str, object] = {}
    for column in inspect(engine).get_columns(table):
        if column["name"] in given or column["nullable"] or column["name"] == "id":
            continue
        kind = str(column["type"]).upper()
        values[column["name"]] = (
            1
            if "INT" in kind or "BOOL" in kind
            else "2026-12-01 00:00:00"
            if "DATETIME" in kind or "TIMESTAMP" in kind
            else "2026-12-01"
            if "DATE" in kind
            else "[]"
            if "JSON" in kind
            else "x"
        )
    return values | given


def test_system_names_written_before_become_registered_systems(tmp_path: Path) -> None:
    """0020 registers one system per department and name written before and points every
    application, grant and token at its own, keeping the name as written."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0017")
    rows = [
        ("organization", _row(engine, "organization", id=7, name="市民政局", uscc="7")),
        ("organization", _row(engine, "organization", id=8, name="市人社局", uscc="8")),
        ("sharing_application", _row(engine, "sharing_application", id=1, number="SQ1",
                                      consumer_id=7, system_name="社会救助信息系统")),
        ("sharing_application", _row(engine, "sharing_application", id=2, number="SQ2",
                                      consumer_id=8, system_name="社会救助信息系统")),
        ("sharing_grant", _row(engine, "sharing_grant", id=1, number="SG1", consumer_id=7,
                                system_name="社会救助信息系统")),
        ("sharing_grant", _row(engine, "sharing_grant", id=2, number="SG2", consumer_id=7,
                                system_name="一网通办平台")),
        ("api_token", _row(engine, "api_token", id=1, prefix="abc", organization_id=8,
                            name="人口库同步")),
    ]  # fmt: skip
    with contextlib.closing(sqlite3.connect(tmp_path / "old.db")) as raw, raw:
        for table, row in rows:
            names = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            raw.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        registered = {
            (org, name): id_
            for id_, org, name in connection.execute(
                text("SELECT id, organization_id, name FROM information_system")
            )
        }
        assert set(registered) == {
            (7, "社会救助信息系统"),
            (8, "社会救助信息系统"),
            (7, "一网通办平台"),
            (8, "人口库同步"),
        }
        named = connection.execute(
            text(
                "SELECT 'a', id, system_id, system_name FROM sharing_application UNION ALL "
                "SELECT 'g', id, system_id, system_name FROM sharing_grant UNION ALL "
                "SELECT 't', id, system_id, name FROM api_token ORDER BY 1, 2"
            )
        ).all()
        assert [tuple(r) for r in named] == [
            ("a", 1, registered[(7, "社会救助信息系统")], "社会救助信息系统"),
            ("a", 2, registered[(8, "社会救助信息系统")], "社会救助信息系统"),
            ("g", 1, registered[(7, "社会救助信息系统")], "社会救助信息系统"),
            ("g", 2, registered[(7, "一网通办平台")], "一网通办平台"),
            ("t", 1, registered[(8, "人口库同步")], "人口库同步"),
        ]
    engine.dispose()


def test_search_terms_become_bitmaps_and_the_full_text_tables_go(tmp_path: Path) -> None:
    """0027 fills catalog_search_term from the terms the index holds (resource 20,000 lands in
    a later piece) and drops the FTS5 tables and their triggers; the way down restores
    them, filled."""
    from govshare.catalog import search_index

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0024")
    indexed = [(7, "婚姻 登记", "婚姻 登记 身份证号"), (20_000, "户籍", "户籍 身份证号")]
    entries = [
        _row(engine, "catalog_search", resource_id=resource_id, name_terms=name_terms)
        | {"published_on": "2026-12-01"}
        for resource_id, name_terms, _ in indexed
    ]
    with contextlib.closing(sqlite3.connect(tmp_path / "old.db")) as raw, raw:
        for entry, (resource_id, _, terms) in zip(entries, indexed, strict=True):
            raw.execute(
                f"INSERT INTO catalog_search ({', '.join(entry)}) "
                f"VALUES ({', '.join('?' for _ in entry)})",
                list(entry.values()),
            )
            raw.execute("INSERT INTO catalog_search_text VALUES (?, ?)", (resource_id, terms))
    migrate.upgrade(engine, "0027")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT scope, term, chunk, members FROM catalog_search_term ORDER BY 1, 2, 3")
        ).all()
        leftovers = connection.execute(
            text("SELECT name FROM sqlite_master WHERE name LIKE 'catalog_search_fts%'")
        ).all()
    assert [tuple(r) for r in rows] == list(search_index.term_pieces(indexed))
    second = 20_000 // search_index.TERM_CHUNK  # the piece resource 20,000 is in
    bits = {
        (s, t): search_index.joined([(c, m)], search_index.TERM_CHUNK)
        for s, t, c, m in rows
        if c == second
    }
    assert bits[("text", "身份证号")] == 1 << 20_000  # joined places the piece at its chunk
    assert ("name", "身份证号") not in bits and leftovers == []
    from alembic import command

    with engine.begin() as connection:
        config = migrate.alembic_config(str(engine.url))
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT rowid FROM catalog_search_fts WHERE catalog_search_fts MATCH '身份证号'")
        ).scalars()
        assert sorted(found) == [7, 20_000]
    engine.dispose()
