"""Comparison cases' test data: two departments' population resources, each bound and loaded
into a real center with planted differences, and a comparison defined between them.

公安 (the provider, left) is authoritative for 姓名, 出生日期 and for whether a person exists
(`key_authority`); 民政 (the consumer, right) for 户籍地址. Planted:

- 110101199001010011: equal after normalisation (the right's name padded, its date as text);
- 110101199001010022: 姓名 differs → 民政 settles;
- 110101199001010033: 户籍地址 differs → 公安 settles;
- 110101199001010044: only on the left → 民政 (missing it) settles;
- 110101199001010055: only on the right → 民政 too (公安 decides who exists).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.permissions import Actor
from govshare.core.policy import load_profile
from govshare.exchange.center import Center
from govshare.exchange.models import (
    BindingState,
    Cipher,
    Connection,
    ConnectionRole,
    DatabaseKind,
    TableBinding,
)
from govshare.identity.models import Organization
from govshare.verification.comparison_models import Comparison
from govshare.verification.comparison_schemas import ComparisonIn
from govshare.verification.service import comparisons
from tests.catalog.builders import published
from tests.exchange.builders import BUILT_AT, load_center
from tests.sharing.builders import PEOPLE_ITEMS, Sharing, sharing_world

LEFT_COLUMNS = {
    "公民身份号码": ("gmsfhm", "text"),
    "姓名": ("xm", "text"),
    "出生日期": ("csrq", "date"),
    "户籍地址": ("dz", "text"),
}
RIGHT_COLUMNS = {
    "公民身份号码": ("sfzh", "text"),
    "姓名": ("xingming", "text"),
    "出生日期": ("chusheng", "text"),
    "户籍地址": ("zhuzhi", "text"),
}
PROFILE = load_profile("shangrao")  # 10 working days to settle a mismatch (the default)
EQUAL, NAME, ADDRESS, ONLY_LEFT, ONLY_RIGHT = (f"1101011990010100{i}{i}" for i in range(1, 6))
LEFT_ROWS = [
    {"gmsfhm": EQUAL, "xm": "张三", "csrq": date(1990, 1, 1), "dz": "信州区一号"},
    {"gmsfhm": NAME, "xm": "李四", "csrq": date(1991, 2, 2), "dz": "信州区二号"},
    {"gmsfhm": ADDRESS, "xm": "王五", "csrq": date(1985, 5, 6), "dz": "信州区三号"},
    {"gmsfhm": ONLY_LEFT, "xm": "赵六", "csrq": date(1970, 12, 1), "dz": "信州区四号"},
]
RIGHT_ROWS = [
    {"sfzh": EQUAL, "xingming": " 张三 ", "chusheng": "1990/1/1", "zhuzhi": "信州区一号"},
    {"sfzh": NAME, "xingming": "李肆", "chusheng": "1991-02-02", "zhuzhi": "信州区二号"},
    {"sfzh": ADDRESS, "xingming": "王五", "chusheng": "1985年5月6日", "zhuzhi": "信州区三号楼"},
    {"sfzh": ONLY_RIGHT, "xingming": "孙八", "chusheng": "1999-09-09", "zhuzhi": "信州区五号"},
]


@dataclass
class Compared:
    s: Sharing
    center: Center
    left: Resource  # 公安's
    right: Resource  # 民政's
    left_binding: TableBinding
    right_binding: TableBinding


def bind_table(
    db: Session,
    officer: Actor,
    organization: Organization,
    resource: Resource,
    table: str,
    columns: dict[str, tuple[str, str]],
) -> TableBinding:
    """A binding row as the binding service would leave it, keyed by the ID number."""
    now = clock.now()
    source = Connection(
        organization_id=organization.id,
        name=f"{organization.name}业务库只读副本",
        role=ConnectionRole.SOURCE,
        kind=DatabaseKind.SQLITE,
        database=f"sources/{table}.db",
        cipher=Cipher.AES_GCM,
        created_at=now,
        created_by=officer.label,
        updated_at=now,
    )
    db.add(source)
    db.flush()
    binding = TableBinding(
        resource_id=resource.id,
        connection_id=source.id,
        source_table=table,
        columns=[{"item": i, "column": c, "type": t} for i, (c, t) in columns.items()],
        key_columns=[columns["公民身份号码"][0]],
        center_table=f"{table}_{resource.id}",
        state=BindingState.ACTIVE,
        created_at=now,
        created_by=officer.label,
        updated_at=now,
    )
    db.add(binding)
    db.flush()
    record(
        db,
        actor=officer,
        action="exchange.binding.save",
        object_type="binding",
        object_id=binding.id,
        details={"resource": resource.code, "center_table": binding.center_table},
    )
    return binding


def compared_world(db: Session, center: Center, *, op: Actor | None = None) -> Compared:
    """Both departments' resources bound and loaded with the planted differences."""
    with clock.frozen(BUILT_AT):
        s = sharing_world(db, op)
        right = published(db, s.consumer_officer, s.op, name="救助对象人口信息", items=PEOPLE_ITEMS)
        left_binding = bind_table(
            db, s.provider_officer, s.provider, s.conditional, "gaj_rk", LEFT_COLUMNS
        )
        right_binding = bind_table(
            db, s.consumer_officer, s.consumer, right, "mzj_rk", RIGHT_COLUMNS
        )
    load_center(center, left_binding, LEFT_ROWS)
    load_center(center, right_binding, RIGHT_ROWS)
    return Compared(s, center, s.conditional, right, left_binding, right_binding)


def comparison_in(c: Compared, **kw: Any) -> ComparisonIn:
    fields: dict[str, Any] = {
        "name": "户籍人口与救助对象比对",
        "left_resource_id": c.left.id,
        "right_resource_id": c.right.id,
        "keys": [{"name": "公民身份号码", "left": "公民身份号码", "right": "公民身份号码"}],
        "items": [
            {
                "name": "姓名",
                "left": "姓名",
                "right": "姓名",
                "normalise": ["trim"],
                "authority": "left",
            },
            {
                "name": "出生日期",
                "left": "出生日期",
                "right": "出生日期",
                "normalise": ["halfwidth", "trim", "date"],
                "authority": "left",
            },
            {"name": "户籍地址", "left": "户籍地址", "right": "户籍地址", "authority": "right"},
        ],
        "key_authority": "left",
    }
    return ComparisonIn.model_validate(fields | kw)


def defined(c: Compared, **kw: Any) -> Comparison:
    return comparisons.define(c.s.db, actor=c.s.op, center=c.center, data=comparison_in(c, **kw))


def set_right(c: Compared, key: str, **values: Any) -> None:
    """民政 corrects a record at its source, and the sync brings it into the center."""
    table = c.center.table(
        c.right_binding.center_table, c.right_binding.columns, c.right_binding.key_columns
    )
    with c.center.engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.sfzh == key).values(**values))
