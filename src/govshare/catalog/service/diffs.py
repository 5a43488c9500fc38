"""Compare two versions of a resource field by field and item by item (CAT-4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from govshare.catalog.models import (
    LABELS,
    Resource,
    ResourceVersion,
)
from govshare.catalog.service.contents import ITEM_FIELDS, VERSION_FIELDS
from govshare.catalog.service.resources import get_version
from govshare.core.permissions import Actor


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class ItemChange:
    name: str
    kind: str  # added / removed / changed
    details: list[FieldChange]


@dataclass(frozen=True)
class VersionDiff:
    resource: Resource
    before: ResourceVersion
    after: ResourceVersion
    fields: list[FieldChange]
    items: list[ItemChange]

    @property
    def empty(self) -> bool:
        return not self.fields and not self.items


def display(value: Any) -> str:
    """A stored value in the interface's words."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(display(v) for v in value) or "—"
    for labels in (LABELS["ShareMethod"],):
        if isinstance(value, str) and value in labels:
            return labels[value]
    label = getattr(value, "label", None)
    return label if isinstance(label, str) else str(value)


def diff_versions(
    db_session: Session, *, actor: Actor, resource_id: int, a: int, b: int
) -> VersionDiff:
    """Field-by-field difference between versions `a` and `b` of a resource."""
    before = get_version(db_session, actor=actor, resource_id=resource_id, number=a)
    after = get_version(db_session, actor=actor, resource_id=resource_id, number=b)
    fields = [
        FieldChange(name, label, display(getattr(before, name)), display(getattr(after, name)))
        for name, label in VERSION_FIELDS.items()
        if getattr(before, name) != getattr(after, name)
    ]
    old = {i.normalized: i for i in before.items}
    new = {i.normalized: i for i in after.items}
    items: list[ItemChange] = []
    for key, item in new.items():
        if key not in old:
            items.append(ItemChange(item.name, "added", []))
            continue
        changes = [
            FieldChange(f, label, display(getattr(old[key], f)), display(getattr(item, f)))
            for f, label in ITEM_FIELDS.items()
            if getattr(old[key], f) != getattr(item, f)
        ]
        if old[key].name != item.name:
            changes.insert(0, FieldChange("name", "名称", old[key].name, item.name))
        if changes:
            items.append(ItemChange(item.name, "changed", changes))
    items.extend(ItemChange(i.name, "removed", []) for k, i in old.items() if k not in new)
    return VersionDiff(before.resource, before, after, fields, items)
