"""Exchange test data: the sharing cast plus a provider source database (a real SQLite file
in the data directory, or the real MariaDB), a table resource bound to it, and settings."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core.permissions import Actor
from govshare.core.settings import Settings, load_settings
from govshare.exchange.models import Connection, ConnectionRole, DatabaseKind, TableBinding
from govshare.exchange.schemas import BindingIn, ColumnMapIn, ConnectionIn
from govshare.exchange.service import bindings, connections
from tests.sharing.builders import Sharing, sharing_world

MYSQL_URL = os.environ.get("GOVSHARE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")

# The population table of the tests: the sharing cast's conditional resource's data items
# (tests/sharing/builders.PEOPLE_ITEMS) → source columns, plus the change column.
PEOPLE_COLUMNS = {
    "姓名": "name",
    "公民身份号码": "id_number",
    "性别": "gender",
    "出生日期": "birth_date",
    "户籍地址": "address",
    "行政区划代码": "region_code",
    "手机号码": "phone",
}
REGIONS = ("361102", "361103", "361104", "361123")


def settings_for(data_dir: Path, **overrides: str) -> Settings:
    environ = {
        "GOVSHARE_DATA_DIR": str(data_dir),
        **{f"GOVSHARE_{k.upper()}": v for k, v in overrides.items()},
    }
    return load_settings(environ=environ)


def people_rows(count: int, *, start: int = 0) -> list[tuple[object, ...]]:
    base = datetime(2026, 1, 1, 8, 0, 0)
    rows = []
    for i in range(start, start + count):
        rows.append(
            (
                f"3611{i % 100:02d}19{80 + i % 20:02d}0101{i:04d}"[:18],
                ["张伟", "王芳", "李娜", "欧阳修远"][i % 4],
                "男" if i % 2 else "女",
                f"19{80 + i % 20:02d}-01-01",
                f"江西省上饶市信州区滨江路{i}号",
                REGIONS[i % len(REGIONS)],
                f"138{i:08d}",
                (base + timedelta(minutes=i)).isoformat(sep=" "),
            )
        )
    return rows


def people_sqlite(path: Path, count: int = 40) -> Path:
    """A provider's source database: a SQLite file with a population table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE IF EXISTS people")
        db.execute(
            "CREATE TABLE people (id_number TEXT PRIMARY KEY, name TEXT, gender TEXT,"
            " birth_date DATE, address TEXT, region_code TEXT, phone TEXT, updated_at TIMESTAMP)"
        )
        db.executemany("INSERT INTO people VALUES (?,?,?,?,?,?,?,?)", people_rows(count))
    return path


@dataclass
class Exchange:
    s: Sharing
    settings: Settings
    source: Connection
    people: Resource
    binding: TableBinding


def exchange_world(
    db: Session, data_dir: Path, *, rows: int = 40, op: Actor | None = None
) -> Exchange:
    """The sharing cast, the provider's SQLite source registered, and a bound table resource."""
    s = sharing_world(db, op)
    settings = settings_for(data_dir)
    people_sqlite(data_dir / "sources" / "gaj.db", rows)
    source = connections.register_connection(
        db,
        actor=s.provider_officer,
        settings=settings,
        data=ConnectionIn(
            name="公安人口库只读副本",
            role=ConnectionRole.SOURCE,
            kind=DatabaseKind.SQLITE,
            database="sources/gaj.db",
        ),
    )
    people = s.conditional
    binding = bindings.save_binding(
        db,
        actor=s.provider_officer,
        settings=settings,
        data=BindingIn(
            resource_id=people.id,
            connection_id=source.id,
            source_table="people",
            columns=[ColumnMapIn(item=i, column=c) for i, c in PEOPLE_COLUMNS.items()],
            key_columns=["id_number"],
            change_column="updated_at",
        ),
    )
    return Exchange(s, settings, source, people, binding)
