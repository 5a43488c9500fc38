"""Catalog export (目录导出, CAT-8): the city catalog or a department's catalog out as Excel,
CSV or JSON, with the data items of each published resource. The workbook's columns are laid
out in `catalog.workbook`, shared with `service.spreadsheet_import`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog import workbook as wb
from govshare.catalog.models import DataItem, Resource, ResourceStatus, ResourceVersion, ShareMethod
from govshare.catalog.service import common, contents
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Invalid, NotFound
from govshare.core.permissions import Actor, require
from govshare.identity.models import Organization

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


@dataclass(frozen=True)
class CatalogExport:
    """An exported catalog: the file and what to call it."""

    content: bytes
    filename: str
    media_type: str
    resources: int


def _published(db_session: Session, organization_id: int | None) -> list[Resource]:
    stmt = select(Resource).where(
        Resource.status == ResourceStatus.PUBLISHED, Resource.current_version_id.is_not(None)
    )
    if organization_id is not None:
        stmt = stmt.where(Resource.provider_id == organization_id)
    return list(db_session.execute(stmt.order_by(Resource.code)).unique().scalars())


def _current(resource: Resource) -> ResourceVersion:
    assert resource.current_version is not None  # _published selects only these
    return resource.current_version


def _resource_row(resource: Resource, live: set[str]) -> dict[str, Any]:
    v = _current(resource)
    return {
        "code": resource.code,
        "name": v.name,
        "provider": resource.provider.name,
        "provider_uscc": resource.provider.uscc,
        "catalog_kind": resource.catalog_kind.label,
        "base_topic": contents.LABELS_TOPIC.get(resource.base_topic or "", resource.base_topic),
        "theme": resource.theme.name if resource.theme else None,
        "item_code": resource.item_code,
        "group_code": resource.group_code,
        "subgroup_code": resource.subgroup_code,
        "summary": v.summary,
        "format": v.format.label,
        "format_detail": v.format_detail,
        "share_type": v.share_type.label,
        "share_conditions": v.share_conditions,
        "legal_basis": v.legal_basis,
        "share_scope": v.share_scope,
        "share_methods": "、".join(ShareMethod(m).label for m in v.share_methods),
        "offline_reason": v.offline_reason,
        "update_frequency": v.update_frequency.label,
        "timeliness": v.timeliness,
        "open_type": v.open_type.label,
        "open_conditions": v.open_conditions,
        "domain": v.domain.label,
        "published_on": v.published_on,
        "related_codes": "、".join(c for c in v.related_codes if c in live),
        "version": v.number,
    }


def _item_row(resource: Resource, item: DataItem) -> dict[str, Any]:
    return {
        "code": resource.code,
        "resource_name": _current(resource).name,
        "position": item.position,
        "name": item.name,
        "data_type": item.data_type.label,
        "length": item.length,
        "description": item.description,
        "personal": wb.YES if item.personal else wb.NO,
    }


def _json(found: list[Resource], live: set[str]) -> bytes:
    out = []
    for r in found:
        v = _current(r)
        out.append(
            {
                "code": r.code,
                "provider": {"name": r.provider.name, "uscc": r.provider.uscc},
                "catalog_kind": r.catalog_kind.value,
                "base_topic": r.base_topic,
                "theme": r.theme.name if r.theme else None,
                "classification": r.classification,
                **{name: getattr(v, name) for name in contents.VERSION_FIELDS},
                "related_codes": [c for c in v.related_codes if c in live],
                "published_on": v.published_on.isoformat() if v.published_on else None,
                "version": v.number,
                "items": [
                    {
                        "position": i.position,
                        "name": i.name,
                        "data_type": i.data_type.value,
                        "length": i.length,
                        "description": i.description,
                        "personal": i.personal,
                    }
                    for i in v.items
                ],
            }
        )
    return json.dumps(out, ensure_ascii=False, indent=1).encode()


def _content(found: list[Resource], fmt: str, live: set[str]) -> bytes:
    if fmt == "json":
        return _json(found, live)
    if fmt == "csv":
        return wb.write_csv(
            (_resource_row(r, live), _item_row(r, i) if i is not None else {})
            for r in found
            for i in (_current(r).items or [None])
        )
    return wb.write_workbook(
        (_resource_row(r, live) for r in found),
        (_item_row(r, i) for r in found for i in _current(r).items),
    )


def export_catalog(
    db_session: Session,
    *,
    actor: Actor,
    organization_id: int | None = None,
    fmt: str = "xlsx",
    city_name: str = "",
) -> CatalogExport:
    """The city catalog (every published resource) or one department's published catalog,
    as xlsx, csv or json, with its data items; an export is a data access and is audited."""
    require(actor, *common.READERS, action="导出资源目录")
    if fmt not in FORMATS:
        raise Invalid("导出格式须为 xlsx、csv 或 json", field="fmt")
    title = f"{city_name}政务信息资源目录"
    if organization_id is not None:
        org = db_session.get(Organization, organization_id)
        if org is None:
            raise NotFound(f"组织机构 {organization_id} 不存在", field="organization_id")
        title = f"{org.name}政务信息资源目录"
    found = _published(db_session, organization_id)
    # A relation is listed only while its resource is in the catalog: a retired resource's
    # code would name nothing to a reader, nor on the platform the file is imported into.
    live = set(
        db_session.execute(
            select(Resource.code).where(Resource.status == ResourceStatus.PUBLISHED)
        ).scalars()
    )
    content = _content(found, fmt, live)
    record(
        db_session,
        actor=actor,
        action="catalog.export",
        object_type="catalog",
        object_id=organization_id,
        details={"organization_id": organization_id, "format": fmt, "resources": len(found)},
    )
    filename = f"{title}-{clock.today().isoformat()}.{fmt}"
    return CatalogExport(content, filename, FORMATS[fmt], len(found))
