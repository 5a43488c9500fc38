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


# --- the 15-column population table of the demo data (demo_data.POPULATION_COLUMNS) -------

# Source column → (data item, catalog data type, length), in the table's column order.
POPULATION_ITEMS: dict[str, tuple[str, str, int | None]] = {
    "id_number": ("公民身份号码", "C", 18),
    "name": ("姓名", "C", 50),
    "gender": ("性别", "C", 2),
    "birth_date": ("出生日期", "D", None),
    "ethnicity": ("民族", "C", 10),
    "phone": ("手机号码", "C", 11),
    "region_code": ("行政区划代码", "C", 6),
    "address": ("户籍地址", "C", 200),
    "household_type": ("户口性质", "C", 10),
    "marital_status": ("婚姻状况", "C", 10),
    "education": ("文化程度", "C", 20),
    "occupation": ("职业", "C", 50),
    "registered_on": ("户籍登记日期", "D", None),
    "updated_at": ("更新时间", "T", None),
    "record_no": ("记录编号", "I", None),
}
PERSONAL = ("id_number", "name", "phone", "address")


def population_resource(w: Sharing, name: str = "人口基础信息") -> Resource:
    """A published, conditional table resource with one data item per population column."""
    from tests.catalog.builders import published

    items = [
        {"name": item, "data_type": kind, "personal": column in PERSONAL}
        | ({"length": length} if length else {})
        for column, (item, kind, length) in POPULATION_ITEMS.items()
    ]
    return published(
        w.db,
        w.provider_officer,
        w.op,
        name=name,
        summary="本市户籍人口的基础信息",
        share_type="conditional",
        share_conditions="仅限办理社会救助、户籍业务的部门使用",
        legal_basis="《中华人民共和国个人信息保护法》第三十四条",
        items=items,
    )


def population_binding_in(resource_id: int, connection_id: int, table: str) -> BindingIn:
    """Every data item mapped to its population column; keyed by ID number, changes by
    updated_at."""
    return BindingIn(
        resource_id=resource_id,
        connection_id=connection_id,
        source_table=table,
        columns=[ColumnMapIn(item=i, column=c) for c, (i, _, _) in POPULATION_ITEMS.items()],
        key_columns=["id_number"],
        change_column="updated_at",
    )
