"""CKAN's shapes of the portal's records (package, resource, organization, group, tag) and
the addresses they point to, which the DCAT feeds share."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request

from govshare.portal import catalog
from govshare.portal.models import PortalDataset, PortalMeta, PortalOrganization

RESOURCE_SUFFIX = "-data"


# --- addresses ------------------------------------------------------------------------------


def site_url(request: Request) -> str:
    """The portal's public address: settings.base_url, else the address it was reached at."""
    configured: str = request.app.state.settings.base_url
    if configured:
        return configured
    # The root path, not request.base_url: mounted (under /open in the demo), the portal's
    # own prefix is in root_path, while base_url names the outermost application's root.
    here = request.url.replace(path=request.scope.get("root_path", ""), query="", fragment="")
    return str(here).rstrip("/")


def dataset_url(site: str, name: str) -> str:
    """The dataset's page (CKAN and DCAT landing page)."""
    return f"{site}/dataset/{quote(name)}"


def download_url(site: str, name: str, extension: str) -> str:
    """Where the open rows of a table dataset download in one format (csv, json, xlsx)."""
    return f"{site}/dataset/{quote(name)}/download.{extension}"


def resource_id(data: PortalDataset) -> str:
    """The id of a table dataset's one resource, the same in every action."""
    return data.name + RESOURCE_SUFFIX


def has_rows(data: PortalDataset) -> bool:
    return data.kind == "table" and data.rows_table is not None


def is_open(data: PortalDataset) -> bool:
    return data.open_type == "unconditional"


# --- the shapes -----------------------------------------------------------------------------


def ckan_time(moment: datetime | date | None) -> str | None:
    """A time as CKAN writes it: UTC without offset, with microseconds."""
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def organization_dict(org: PortalOrganization, count: int | None = None) -> dict[str, Any]:
    found = {
        "id": str(org.id),
        "name": org.name,
        "title": org.title,
        "display_name": org.title,
        "description": org.description,
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
        "image_display_url": "",
    }
    if count is not None:
        found["package_count"] = count
    return found


def group_dict(value: str, label: str, count: int | None = None) -> dict[str, Any]:
    found = {
        "id": value,
        "name": value,
        "title": label,
        "display_name": label,
        "description": "",
        "type": "group",
        "is_organization": False,
        "state": "active",
        "approval_status": "approved",
        "image_url": "",
        "image_display_url": "",
    }
    if count is not None:
        found["package_count"] = count
    return found


def tag_dict(name: str) -> dict[str, Any]:
    return {
        "id": name,
        "name": name,
        "display_name": name,
        "state": "active",
        "vocabulary_id": None,
    }


def resource_dict(data: PortalDataset, site: str) -> dict[str, Any]:
    """The one resource of a table dataset: its rows as CSV (a conditional dataset's points
    to its page, where the data is applied for)."""
    return {
        "id": resource_id(data),
        "package_id": str(data.id),
        "name": f"{data.title}（CSV）",
        "description": "全部开放数据，逐行；也可用 datastore_search 按字段查询"
        if is_open(data)
        else "有条件开放：须在开放门户上申请使用",
        "url": download_url(site, data.name, "csv")
        if is_open(data)
        else dataset_url(site, data.name),
        "format": "CSV",
        "mimetype": "text/csv",
        "datastore_active": True,
        "url_type": None,
        "resource_type": None,
        "size": None,
        "hash": "",
        "position": 0,
        "state": "active",
        "created": ckan_time(data.issued),
        "last_modified": ckan_time(data.data_updated),
        "metadata_modified": ckan_time(data.modified),
    }


def package_dict(data: PortalDataset, site: str, meta: PortalMeta | None) -> dict[str, Any]:
    """A dataset as CKAN's package_show shows it."""
    resources = [resource_dict(data, site)] if has_rows(data) else []
    extras = {
        "code": data.code,
        "open_type": data.open_type,
        "open_type_label": catalog.OPEN_TYPE_LABELS.get(data.open_type, data.open_type),
        "update_frequency": data.update_frequency,
        "update_frequency_label": data.update_frequency_label,
        "conditions": data.open_conditions,
        "issued": data.issued.isoformat(),
        "row_count": "" if data.row_count is None else str(data.row_count),
    }
    return {
        "id": str(data.id),
        "name": data.name,
        "title": data.title,
        "notes": data.notes,
        "type": "dataset",
        "state": "active",
        "private": False,
        "isopen": is_open(data),
        "url": dataset_url(site, data.name),
        "version": str(data.version),
        "author": None,
        "author_email": None,
        "maintainer": data.organization.title,
        "maintainer_email": None,
        "license_id": meta.licence_url if meta else None,
        "license_title": meta.licence_title if meta else None,
        "license_url": meta.licence_url if meta else None,
        "metadata_created": ckan_time(data.issued),
        "metadata_modified": ckan_time(data.modified),
        "owner_org": str(data.organization_id),
        "organization": organization_dict(data.organization),
        "groups": [group_dict(data.domain, data.domain_label)],
        "tags": [tag_dict(t) for t in data.tags or ()],
        "num_tags": len(data.tags or ()),
        "resources": resources,
        "num_resources": len(resources),
        "extras": [{"key": k, "value": v} for k, v in extras.items()],
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }
