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
