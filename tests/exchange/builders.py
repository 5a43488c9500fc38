"""Exchange test data: the sharing cast plus a provider source database (a real SQLite file
in the data directory, or the real MariaDB), a table resource bound to it, and settings; the
demo data's 15-column population table as a resource; and a bound, loaded population resource
under a grant with the helpers the delivery tests call it through. (Service interfaces and
their grants are built in `gateway_scenarios`.)"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core import clock
from govshare.core.audit.models import AuditEntry
from govshare.core.audit.service import record
from govshare.core.db import unit_of_work
from govshare.core.permissions import Actor
from govshare.core.settings import Settings, load_settings
from govshare.exchange.center import Center
from govshare.exchange.demo_data import POPULATION_ITEMS
from govshare.exchange.masking import Mask, mask_value, text_form
from govshare.exchange.models import (
    BindingState,
    Cipher,
    Connection,
    ConnectionRole,
    DatabaseKind,
    TableBinding,
)
from govshare.exchange.schemas import BindingIn, ColumnMapIn, ConnectionIn
from govshare.exchange.scope import Condition, row_matches
from govshare.exchange.service import bindings, connections, delivery, source_directories
from govshare.sharing.models import Grant, MaskRule
from govshare.sharing.schemas import DecisionIn
from govshare.sharing.service import decisions
from tests.catalog.builders import published
from tests.sharing.builders import SHANGRAO, Sharing, deciding, sharing_world

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


def source_directory(db: Session, settings: Settings, organization_id: int, path: str) -> str:
    """The platform operator assigns the department its source directory (relative path)."""
    return source_directories.assign_source_directory(
        db,
        actor=Actor.command_line("test"),
        settings=settings,
        organization_id=organization_id,
        path=path,
    ).path


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
    source_directory(db, settings, s.provider.id, "sources")
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


# --- a bound, loaded population resource under a grant (delivery) --------------------------

# The population table: (data item, center column, portable type, catalog type, length).
POPULATION: list[tuple[str, str, str, str, int | None]] = [
    ("公民身份号码", "id_number", "text", "C", 18),
    ("姓名", "name", "text", "C", 50),
    ("性别", "gender", "text", "C", 2),
    ("民族", "ethnicity", "text", "C", 10),
    ("出生日期", "birth_date", "date", "D", None),
    ("行政区划代码", "region_code", "text", "C", 6),
    ("户籍地址", "address", "text", "C", 200),
    ("手机号码", "phone", "text", "C", 11),
    ("电子邮箱", "email", "text", "C", 100),
    ("婚姻状况", "marital_status", "text", "C", 10),
    ("文化程度", "education", "text", "C", 20),
    ("职业", "occupation", "text", "C", 50),
    ("身高", "height_cm", "bigint", "I", None),
    ("月收入", "income", "numeric", "N", 12),
    ("登记时间", "registered_at", "timestamp", "T", None),
]
COLUMNS = [{"item": i, "column": c, "type": t} for i, c, t, _, _ in POPULATION]
ITEM_OF = {c: i for i, c, _, _, _ in POPULATION}
GRANTED = ["公民身份号码", "姓名", "性别", "出生日期", "行政区划代码"]
GRANTED_COLUMNS = ["id_number", "name", "gender", "birth_date", "region_code"]
ROW_FILTER = [{"field": "行政区划代码", "op": "in", "values": ["361102", "361103"]}]
MASKING = [
    {"field": "公民身份号码", "rule": "id_number"},
    {"field": "姓名", "rule": "name"},
]
MASK_KEY = bytes(range(32))
BUILT_AT = "2026-09-25T10:00:00+08:00"
USED_AT = "2026-10-12T09:00:00+08:00"


def population(count: int = 60) -> list[dict[str, Any]]:
    """Source rows with the cases masking and filtering must get right: IDs ending in X,
    old 15-digit IDs, a four-character name, missing phone numbers, microseconds."""
    names = ["张伟", "王芳", "李娜", "欧阳修远", "刘洋"]
    rows = []
    for i in range(count):
        region = REGIONS[i % len(REGIONS)]
        born = date(1950 + i % 50, 1 + i % 12, 1 + i % 28)
        if i % 13 == 5:
            id_number = f"{region}{born:%y%m%d}{i:03d}"
        else:
            id_number = f"{region}{born:%Y%m%d}{i:03d}" + "0123456789X"[i % 11]
        rows.append(
            {
                "id_number": id_number,
                "name": names[i % len(names)],
                "gender": "男" if i % 2 else "女",
                "ethnicity": "汉族" if i % 9 else "畲族",
                "birth_date": born,
                "region_code": region,
                "address": f"江西省上饶市信州区滨江路{i}号",
                "phone": None if i % 7 == 3 else f"138{i:08d}",
                "email": f"user{i}@example.cn",
                "marital_status": ["未婚", "已婚", "离婚"][i % 3],
                "education": ["本科", "高中", "大专", "硕士"][i % 4],
                "occupation": ["教师", "工人", "农民", "医生"][i % 4],
                "height_cm": 150 + i % 40,
                "income": Decimal(f"{3000 + i * 17}.50"),
                "registered_at": datetime(2020, 1, 1, 8, 0, 0)
                + timedelta(days=i, microseconds=(i * 1000) if i % 3 else 0),
            }
        )
    return rows


def load_center(center: Center, binding: TableBinding, rows: list[dict[str, Any]]) -> None:
    """Creates the binding's center table and fills it (what the sync would have done)."""
    table = center.table(binding.center_table, binding.columns, binding.key_columns)
    table.metadata.create_all(center.engine)
    with center.engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(sa.insert(table), rows[start : start + 10_000])


def people_resource(w: Sharing) -> Resource:
    """A published, conditional table resource with the 15 population items."""
    items = [
        {"name": i, "data_type": d, "personal": c in ("id_number", "name", "phone", "address")}
        | ({"length": n} if n else {})
        for i, c, _, d, n in POPULATION
    ]
    return published(
        w.db,
        w.provider_officer,
        w.op,
        name="人口基础信息",
        summary="本市户籍人口的基础信息",
        share_type="conditional",
        share_conditions="仅限办理社会救助、户籍业务的部门使用",
        legal_basis="《中华人民共和国个人信息保护法》第三十四条",
        items=items,
    )


def bind(db: Session, w: Sharing, resource: Resource) -> TableBinding:
    """The binding row as the binding service would leave it (written here directly)."""
    now = clock.now()
    source = Connection(
        organization_id=w.provider.id,
        name="公安人口库只读副本",
        role=ConnectionRole.SOURCE,
        kind=DatabaseKind.SQLITE,
        database="sources/gaj.db",
        cipher=Cipher.AES_GCM,
        created_at=now,
        created_by=w.provider_officer.label,
        updated_at=now,
    )
    db.add(source)
    db.flush()
    binding = TableBinding(
        resource_id=resource.id,
        connection_id=source.id,
        source_table="people",
        columns=COLUMNS,
        key_columns=["id_number"],
        center_table=f"r_people_{resource.id}",
        state=BindingState.ACTIVE,
        created_at=now,
        created_by=w.provider_officer.label,
        updated_at=now,
    )
    db.add(binding)
    db.flush()
    record(
        db,
        actor=w.provider_officer,
        action="exchange.binding.save",
        object_type="binding",
        object_id=binding.id,
        details={"resource": resource.code, "center_table": binding.center_table},
    )
    return binding


def grant_for(
    w: Sharing,
    resource: Resource,
    *,
    fields: list[str] = GRANTED,
    row_filter: list[dict[str, Any]] = ROW_FILTER,
    masking: list[dict[str, Any]] = MASKING,
) -> Grant:
    """The consumer's grant from an approved application with exactly this scope."""
    w.conditional = resource  # the sharing builders apply for the world's conditional resource
    application = deciding(w, fields=fields, row_filter=row_filter)
    decided = decisions.decide(
        w.db,
        actor=w.provider_officer,
        profile=SHANGRAO,
        application_id=application.id,
        data=DecisionIn(approve=True, masking=masking),
    )
    grant = w.db.get(Grant, decided.grant_id)
    assert grant is not None
    return grant


@dataclass
class Delivery:
    """A consumer holding a grant on a bound, loaded population resource."""

    w: Sharing
    resource: Resource
    binding: TableBinding
    grant: Grant
    rows: list[dict[str, Any]]
    center: Center

    @property
    def code(self) -> str:
        return self.resource.code


def delivery_world(
    db: Session, center: Center, *, rows: int = 60, op: Actor | None = None, **scope: Any
) -> Delivery:
    """The sharing cast (with `op` as its operator, if given), the population resource bound
    and loaded, and the consumer's grant (5 of 15 fields, two regions, ID number and name
    masked, unless `scope` says otherwise)."""
    with clock.frozen(BUILT_AT):
        w = sharing_world(db, op)
        resource = people_resource(w)
        binding = bind(db, w, resource)
        grant = grant_for(w, resource, **scope)
    data = population(rows)
    load_center(center, binding, data)
    return Delivery(w, resource, binding, grant, data, center)


def settings_of(tmp_path: Path) -> Settings:
    return load_settings(
        environ={"GOVSHARE_DATA_DIR": str(tmp_path), "GOVSHARE_MASK_KEY": MASK_KEY.hex()}
    )


def expected_rows(
    d: Delivery,
    columns: list[str] = GRANTED_COLUMNS,
    conditions: tuple[Condition, ...] = (Condition("region_code", "in", ("361102", "361103")),),
    masks: dict[str, Mask] | None = None,
    key: bytes = MASK_KEY,
) -> list[dict[str, Any]]:
    """The rows the grant admits, masked, in key order — computed from the source rows with
    the reference functions, not through the delivery code."""
    if masks is None:
        masks = {"id_number": Mask(MaskRule.ID_NUMBER), "name": Mask(MaskRule.NAME)}
    chosen = sorted((r for r in d.rows if row_matches(r, conditions)), key=lambda r: r["id_number"])
    return [
        {c: mask_value(r[c], masks[c], key=key) if c in masks else r[c] for c in columns}
        for r in chosen
    ]


def texts(rows: list[dict[str, Any]]) -> list[dict[str, str | None]]:
    """Rows in their text forms, so SQLite's and PostgreSQL's Python types compare alike."""
    return [{k: text_form(v) for k, v in row.items()} for row in rows]


def audit_entries(db: Session, action: str) -> list[dict[str, Any]]:
    entries = db.execute(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
    ).scalars()
    return [json.loads(e.details) for e in entries]


def run_query(d: Delivery, settings: Settings, **kw: Any) -> delivery.DataPage | delivery.Rejected:
    request = delivery.DataRequest(filters=kw.pop("filters", ()), fields=kw.pop("fields", ()))
    return delivery.query(
        d.w.db,
        actor=kw.pop("actor", d.w.consumer_officer),
        settings=settings,
        center=d.center,
        resource_code=d.code,
        request=request,
        **kw,
    )


def run_lookup(d: Delivery, settings: Settings, key: str, **kw: Any) -> Any:
    return delivery.lookup(
        d.w.db,
        actor=kw.pop("actor", d.w.consumer_officer),
        settings=settings,
        center=d.center,
        resource_code=d.code,
        key=key,
        **kw,
    )


def download(d: Delivery, settings: Settings, fmt: str, **kw: Any) -> tuple[bytes, Any]:
    started = delivery.start_download(
        d.w.db,
        actor=d.w.consumer_officer,
        settings=settings,
        center=d.center,
        resource_code=d.code,
        request=delivery.DataRequest(filters=kw.pop("filters", ())),
        fmt=fmt,
    )
    assert isinstance(started, delivery.Download), started
    body = b"".join(
        delivery.stream_download(started, center=d.center, transaction=own_transaction(d.w.db))
    )
    return body, started


def own_transaction(db: Session) -> Any:
    """A transaction of its own, as the app's runtime gives (a savepoint in the test's)."""
    from sqlalchemy.orm import sessionmaker

    factory = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    return lambda: unit_of_work(factory)
