"""Catalog test data, built through the services."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.catalog.schemas import ResourceIn, ReviewIn
from govshare.catalog.service import resources
from govshare.core.permissions import Actor
from govshare.core.policy import Rules, load_profile

RULES: Rules = load_profile("shangrao").rules

ITEMS = [
    {"name": "姓名", "data_type": "C", "length": 50},
    {"name": "身份证号", "data_type": "C", "length": 18, "personal": True},
    {"name": "出生日期", "data_type": "D"},
]


def resource_in(**kw: Any) -> ResourceIn:
    """A valid department resource input; `kw` overrides any field."""
    fields: dict[str, Any] = {
        "catalog_kind": "department",
        "name": "婚姻登记信息",
        "summary": "本市婚姻登记机关办理的结婚、离婚登记信息",
        "format": "database",
        "format_detail": "PostgreSQL",
        "share_type": "unconditional",
        "share_methods": ["table"],
        "update_frequency": "daily",
        "domain": "public_administration",
        "items": ITEMS,
    }
    fields |= kw
    return ResourceIn.model_validate(fields)


def published(db: Session, compiler: Actor, op: Actor, rules: Rules = RULES, **kw: Any) -> Resource:
    """A resource compiled by `compiler`, submitted, approved and published."""
    resource = resources.create_resource(db, actor=compiler, data=resource_in(**kw), rules=rules)
    version = resource_versions(db, compiler, resource)[0]
    resources.submit_version(db, actor=compiler, version_id=version.id, rules=rules)
    resources.review_version(
        db, actor=op, version_id=version.id, decision=ReviewIn(approve=True), rules=rules
    )
    return resource


def resource_versions(db: Session, actor: Actor, resource: Resource) -> list[Any]:
    return resources.list_versions(db, actor=actor, resource_id=resource.id)
