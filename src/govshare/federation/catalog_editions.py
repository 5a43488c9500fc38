"""Dated editions of the catalog (目录版本, 编制版次; CAT-13, SY§8, BZ§12, SR§7).

The platform operator publishes an edition: this platform's published resources and those
of the platforms below it as mirrored here, frozen on the day, numbered within the year
("2026年第1版"). A county platform's editions are its county catalog; a city's edition holds
its own part and one part per county platform, each downloadable alone, as Excel or JSON.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog.models import (
    DataType,
    OpenType,
    Resource,
    ResourceStatus,
    ShareType,
    UpdateFrequency,
)
from govshare.catalog.service.common import READERS
from govshare.core import clock
from govshare.core.audit import record
from govshare.core.errors import Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.core.spreadsheet import text_cells
from govshare.federation import service as federation
from govshare.federation.catalog_models import CatalogEdition, RemoteResource
from govshare.federation.catalogs import resource_entry
from govshare.federation.models import Relation

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
LEVELS = {"province": "省级", "city": "市级", "county": "县级", "township": "乡镇级"}


def label(enum: Any, value: object) -> str:
    """The Chinese label of a catalog value carried as text in an entry."""
    try:
        return str(enum(value).label)
    except ValueError:
        return str(value or "")


def chain_text(chain: list[dict[str, str]]) -> str:
    """The provenance as people read it: "信州区… → 江州市…"."""
    return " → ".join(c.get("name") or c.get("code", "") for c in chain)


def publish_edition(db_session: Session, *, actor: Actor, note: str) -> CatalogEdition:
    """Publishes today's edition of this platform's catalog with its lower platforms' parts."""
    require(actor, Role.PLATFORM_OPERATOR, action="发布目录版本")
    own = federation.required_identity(db_session)
    note = note.strip()
    if len(note) > 500:
        raise Invalid("编制说明不超过 500 字", field="note")
    mine = [
        resource_entry(r, own)
        for r in db_session.execute(
            select(Resource)
            .where(Resource.status == ResourceStatus.PUBLISHED)
            .order_by(Resource.code)
        )
        .unique()
        .scalars()
    ]
    lower = list(
        db_session.execute(
            select(RemoteResource)
            .where(RemoteResource.relation == Relation.LOWER, RemoteResource.retired.is_(False))
            .order_by(RemoteResource.origin_code, RemoteResource.resource_code)
        ).scalars()
    )
    parts = [{"code": own.code, "name": own.name, "level": own.level.value, "count": len(mine)}]
    for row in lower:
        if parts[-1]["code"] != row.origin_code:
            level = (row.entry.get("origin") or {}).get("level", "")
            parts.append(
                {"code": row.origin_code, "name": row.origin_name, "level": level, "count": 0}
            )
        parts[-1]["count"] += 1
    entries = mine + [{**r.entry, "chain": r.chain} for r in lower]
    today = clock.today()
    number = (
        db_session.scalar(
            select(func.max(CatalogEdition.number)).where(CatalogEdition.year == today.year)
        )
        or 0
    ) + 1
    edition = CatalogEdition(
        year=today.year,
        number=number,
        published_on=today,
        published_at=clock.now(),
        published_by=actor.label,
        note=note,
        platform_code=own.code,
        platform_name=own.name,
        parts=parts,
        entries=entries,
        total=len(entries),
    )
    db_session.add(edition)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="federation.catalog.edition",
        object_type="federation_catalog_edition",
        object_id=edition.id,
        details={
            "edition": edition.title,
            "published_on": today.isoformat(),
            "parts": [{"code": p["code"], "count": p["count"]} for p in parts],
            "total": len(entries),
        },
    )
    return edition


def list_editions(db_session: Session, *, actor: Actor) -> list[CatalogEdition]:
    require(actor, *READERS, action="查看目录版本")
    return list(
        db_session.execute(
            select(CatalogEdition).order_by(
                CatalogEdition.year.desc(), CatalogEdition.number.desc()
            )
        ).scalars()
    )


def get_edition(db_session: Session, *, actor: Actor, edition_id: int) -> CatalogEdition:
    require(actor, *READERS, action="查看目录版本")
    edition = db_session.get(CatalogEdition, edition_id)
    if edition is None:
        raise NotFound(f"目录版本 {edition_id} 不存在", field="edition_id")
    return edition


@dataclass(frozen=True)
class EditionFile:
    content: bytes
    filename: str
    content_type: str


RESOURCE_HEADERS = (
    "资源代码",
    "资源名称",
    "资源提供方",
    "提供方层级",
    "来源平台",
    "来源路径",
    "资源摘要",
    "共享类型",
    "开放属性",
    "更新周期",
    "版本",
    "发布日期",
)
ITEM_HEADERS = ("资源代码", "资源名称", "信息项名称", "数据类型", "长度", "说明")


def _resource_row(entry: dict[str, Any]) -> list[Any]:
    return [
        entry.get("code"),
        entry.get("name"),
        (entry.get("provider") or {}).get("name"),
        LEVELS.get((entry.get("provider") or {}).get("level", ""), ""),
        (entry.get("origin") or {}).get("name"),
        chain_text(entry.get("chain") or []),
        entry.get("summary"),
        label(ShareType, entry.get("share_type")),
        label(OpenType, entry.get("open_type")),
        label(UpdateFrequency, entry.get("update_frequency")),
        entry.get("version"),
        entry.get("published_on"),
    ]


def _sheet_title(name: str, taken: set[str]) -> str:
    title = "".join(c for c in name if c not in "[]:*?/\\")[:28] or "目录"
    while title in taken:
        title = title[:26] + f"{len(taken)}"
    taken.add(title)
    return title


def _workbook(edition: CatalogEdition, parts: list[dict[str, Any]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    for part in parts:
        sheet = book.create_sheet(_sheet_title(part["name"], taken))
        sheet.append(RESOURCE_HEADERS)
        for entry in edition.entries:
            if (entry.get("origin") or {}).get("code") == part["code"]:
                sheet.append(_resource_row(entry))
                text_cells(sheet[sheet.max_row])
    items = book.create_sheet(_sheet_title("信息项", taken))
    items.append(ITEM_HEADERS)
    codes = {p["code"] for p in parts}
    for entry in edition.entries:
        if (entry.get("origin") or {}).get("code") not in codes:
            continue
        for item in entry.get("items") or []:
            items.append(
                [
                    entry.get("code"),
                    entry.get("name"),
                    item.get("name"),
                    label(DataType, item.get("data_type")),
                    item.get("length"),
                    item.get("description"),
                ]
            )
            text_cells(items[items.max_row])
    about = book.create_sheet(_sheet_title("版本说明", taken))
    for row in (
        ("目录", f"{edition.platform_name}政务信息资源目录"),
        ("编制版次", edition.title),
        ("发布日期", edition.published_on.isoformat()),
        ("编制说明", edition.note),
        *((f"{p['name']}", f"{p['count']} 项资源") for p in parts),
    ):
        about.append(list(row))
        text_cells(about[about.max_row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def edition_file(
    db_session: Session,
    *,
    actor: Actor,
    edition_id: int,
    fmt: str = "xlsx",
    origin: str | None = None,
) -> EditionFile:
    """An edition as Excel (a sheet per platform, one for data items) or JSON, whole or one
    platform's part (`origin`: a county's edition inside the city's); audited."""
    edition = get_edition(db_session, actor=actor, edition_id=edition_id)
    if fmt not in FORMATS:
        raise Invalid("下载格式须为 xlsx 或 json", field="fmt")
    parts = edition.parts
    if origin:
        parts = [p for p in parts if p["code"] == origin]
        if not parts:
            raise NotFound(f"该版本没有代码为 {origin} 的平台目录", field="origin")
    codes = {p["code"] for p in parts}
    if fmt == "json":
        content = json.dumps(
            {
                "platform": {"code": edition.platform_code, "name": edition.platform_name},
                "edition": edition.title,
                "published_on": edition.published_on.isoformat(),
                "note": edition.note,
                "parts": parts,
                "entries": [
                    e for e in edition.entries if (e.get("origin") or {}).get("code") in codes
                ],
            },
            ensure_ascii=False,
            indent=1,
        ).encode()
    else:
        content = _workbook(edition, parts)
    record(
        db_session,
        actor=actor,
        action="federation.catalog.edition.download",
        object_type="federation_catalog_edition",
        object_id=edition.id,
        details={"edition": edition.title, "origin": origin, "format": fmt},
    )
    name = parts[0]["name"] if origin else edition.platform_name
    filename = f"{name}政务信息资源目录-{edition.title}-{edition.published_on.isoformat()}.{fmt}"
    return EditionFile(content, filename, FORMATS[fmt])
