"""The site's, datasets', organizations', groups', tags' and resources' reading actions."""

from __future__ import annotations

from typing import Any

from govshare.portal import catalog
from govshare.portal.catalog import SearchQuery
from govshare.portal.ckan.common import (
    ACTIONS,
    Call,
    action,
    get_flag,
    get_names,
    get_natural,
    get_sort,
    get_text,
    invalid,
    not_found,
    resource_dataset,
)
from govshare.portal.ckan.shapes import group_dict, organization_dict, resource_dict, tag_dict
from govshare.portal.models import PortalDataset

CKAN_VERSION = "2.10.0"  # the CKAN release whose API shapes these answers follow


# --- site and help --------------------------------------------------------------------------


@action
def status_show(call: Call) -> dict[str, Any]:
    """The site: its title and address, the CKAN version whose API it follows, extensions."""
    meta = call.meta()
    return {
        "site_title": f"{meta.city_name}{call.site_title}" if meta else call.site_title,
        "site_description": f"{meta.publisher_name}发布的公共数据" if meta else "",
        "site_url": call.site,
        "ckan_version": CKAN_VERSION,
        "error_emails_to": None,
        "locale_default": "zh_Hans_CN",
        "extensions": ["datastore", "dcat"],
    }


@action
def site_read(call: Call) -> bool:
    """Whether the site may be read: always, the portal is public."""
    return True


@action
def help_show(call: Call) -> str:
    """The help text of the action `name`."""
    name = get_text(call.params, "name")
    if not name:
        raise invalid("name", "缺少操作名")
    function = ACTIONS.get(name)
    if function is None:
        raise not_found(f"没有操作 {name}")
    return function.__doc__ or ""


# --- datasets -------------------------------------------------------------------------------


@action
def package_list(call: Call) -> list[str]:
    """The names of all datasets, by name; `limit` and `offset` page them."""
    limit = get_natural(call.params, "limit", 0)
    offset = get_natural(call.params, "offset", 0)
    return catalog.dataset_names(call.session, limit=limit or None, offset=offset)


@action
def package_show(call: Call) -> dict[str, Any]:
    """One dataset; `id` is its name, its catalog code or its id."""
    return call.package(_dataset(call, "id"))


def _dataset(call: Call, key: str) -> PortalDataset:
    name = get_text(call.params, key) or get_text(call.params, "name_or_id")
    if not name:
        raise invalid(key, "缺少数据集名称或编号")
    data = catalog.dataset(call.session, name)
    if data is None:
        raise not_found(f"没有数据集 {name}")
    return data


# --- organizations, groups, tags ------------------------------------------------------------


def _listing(
    call: Call, entries: list[dict[str, Any]], filter_key: str
) -> list[dict[str, Any]] | list[str]:
    """organization_list and group_list: filter, sort, page, names or whole dicts."""
    params = call.params
    all_fields = get_flag(params, "all_fields", False)
    maximum = 25 if all_fields else 1000  # CKAN's defaults for the two shapes
    limit = min(get_natural(params, "limit", maximum) or maximum, maximum)
    offset = get_natural(params, "offset", 0)
    sort_text = get_text(params, "sort") or "title asc"
    if sort_text in ("packages", "package_count"):
        sort_text = "package_count desc"  # CKAN's meaning of a bare count sort
    sort = get_sort(sort_text, "sort", ("name", "title", "package_count"))
    wanted = get_names(params, filter_key, json_text=False)
    q = get_text(params, "q").lower()
    if wanted is not None:
        entries = [e for e in entries if e["name"] in wanted]
    if q:
        entries = [
            e for e in entries if q in f"{e['name']} {e['title']} {e['description']}".lower()
        ]
    for name, descending in reversed(sort):
        entries = sorted(entries, key=lambda e: e[name], reverse=descending)
    entries = entries[offset : offset + limit]
    if all_fields:
        return entries
    return [e["name"] for e in entries]


@action
def organization_list(call: Call) -> list[Any]:
    """The departments that provide open data: names, or with `all_fields` whole records;
    `sort` by name, title or package_count, `limit`, `offset`, `organizations`, `q`."""
    entries = [organization_dict(org, n) for org, n in catalog.organizations(call.session)]
    return _listing(call, entries, "organizations")


@action
def organization_show(call: Call) -> dict[str, Any]:
    """One department (`id`: its name or id), with its datasets if `include_datasets`."""
    name = get_text(call.params, "id")
    if not name:
        raise invalid("id", "缺少组织名称或编号")
    org = catalog.organization(call.session, name)
    if org is None:
        raise not_found(f"没有组织 {name}")
    return _with_datasets(call, organization_dict(org), "organization", org.name)


@action
def group_list(call: Call) -> list[Any]:
    """The open-data domains (SR§21) that have datasets: names, or whole records with
    `all_fields`; `sort`, `limit`, `offset`, `groups`, `q` as organization_list."""
    entries = [group_dict(d.value, d.label, d.count) for d in catalog.domains(call.session)]
    return _listing(call, entries, "groups")


@action
def group_show(call: Call) -> dict[str, Any]:
    """One domain (`id`: its name, e.g. transport), with its datasets if `include_datasets`."""
    name = get_text(call.params, "id")
    if not name:
        raise invalid("id", "缺少分组名称")
    found = next((d for d in catalog.domains(call.session) if d.value == name), None)
    if found is None:
        raise not_found(f"没有分组 {name}")
    return _with_datasets(call, group_dict(found.value, found.label), "groups", found.value)


def _with_datasets(call: Call, entry: dict[str, Any], facet: str, value: str) -> dict[str, Any]:
    include = get_flag(call.params, "include_datasets", False)
    found = catalog.search(
        call.session,
        SearchQuery(
            filters={facet: (value,)},
            sort="modified",
            rows=catalog.MAX_ROWS if include else 0,
            facets=(),
        ),
    )
    entry["package_count"] = found.count
    if include:
        entry["packages"] = [call.package(d) for d in found.datasets]
    return entry


@action
def tag_list(call: Call) -> list[Any]:
    """The tags of all datasets; `query` keeps those containing it, `all_fields` gives
    whole records."""
    query = get_text(call.params, "query") or get_text(call.params, "q")
    names = [t for t in catalog.tags(call.session) if query in t]
    if get_flag(call.params, "all_fields", False):
        return [tag_dict(t) for t in names]
    return names


# --- resources and the datastore ------------------------------------------------------------


@action
def resource_show(call: Call) -> dict[str, Any]:
    """One resource (`id`, as package_show lists it)."""
    return resource_dict(resource_dataset(call, "id"), call.site)
