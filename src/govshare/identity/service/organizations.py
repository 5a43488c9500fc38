"""Organisations (机构): the directory of departments as a tree, and its counts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.audit import record
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.identity.models import (
    Organization,
    User,
)
from govshare.identity.schemas import (
    OrganizationIn,
)
from govshare.identity.service.common import DIRECTORY_READERS, _require_signed_in


def create_organization(db_session: Session, *, actor: Actor, data: OrganizationIn) -> Organization:
    """Registers an organisation (operator only)."""
    require(actor, Role.PLATFORM_OPERATOR, action="登记组织机构")
    _check_organization_unique(db_session, data)
    if data.parent_id is not None:
        _organization(db_session, data.parent_id, field="parent_id")
    org = Organization(**data.model_dump(), active=True, created_at=clock.now())
    db_session.add(org)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.organization.create",
        object_type="organization",
        object_id=org.id,
        details=data.model_dump(mode="json"),
    )
    return org


def update_organization(
    db_session: Session, *, actor: Actor, organization_id: int, data: OrganizationIn
) -> Organization:
    """Changes an organisation's registration (operator only)."""
    require(actor, Role.PLATFORM_OPERATOR, action="修改组织机构")
    org = _organization(db_session, organization_id)
    _check_organization_unique(db_session, data, exclude_id=org.id)
    if data.parent_id is not None:
        _check_no_cycle(db_session, org.id, data.parent_id)
    before = {k: getattr(org, k) for k in type(data).model_fields}
    for key, value in data.model_dump().items():
        setattr(org, key, value)
    changed = {
        k: [str(before[k]), str(getattr(org, k))] for k in before if before[k] != getattr(org, k)
    }
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="identity.organization.update",
        object_type="organization",
        object_id=org.id,
        details={"changed": changed},
    )
    return org


def list_organizations(db_session: Session, *, actor: Actor) -> list[Organization]:
    """Returns every organisation, parents before children, for signed-in users."""
    _require_signed_in(actor)
    rows = db_session.execute(select(Organization).order_by(Organization.id)).scalars().all()
    return _tree_order(list(rows))


def get_organization(db_session: Session, *, actor: Actor, organization_id: int) -> Organization:
    """Returns one organisation."""
    _require_signed_in(actor)
    return _organization(db_session, organization_id)


def _organization(
    db_session: Session, organization_id: int, *, field: str = "organization_id"
) -> Organization:
    org = db_session.get(Organization, organization_id)
    if org is None:
        raise NotFound(f"组织机构 {organization_id} 不存在", field=field)
    return org


def _check_organization_unique(
    db_session: Session, data: OrganizationIn, exclude_id: int | None = None
) -> None:
    for field in ("name", "uscc"):
        stmt = select(Organization.id).where(getattr(Organization, field) == getattr(data, field))
        if exclude_id is not None:
            stmt = stmt.where(Organization.id != exclude_id)
        if db_session.execute(stmt).first():
            label = "名称" if field == "name" else "统一社会信用代码"
            raise Conflict(f"已有相同{label}的组织机构：{getattr(data, field)}", field=field)


def _check_no_cycle(db_session: Session, org_id: int, parent_id: int) -> None:
    seen: set[int] = set()
    current: int | None = parent_id
    while current is not None:
        if current == org_id or current in seen:
            raise Invalid("上级机构不能是本机构或其下级机构", field="parent_id")
        seen.add(current)
        current = _organization(db_session, current, field="parent_id").parent_id


def _tree_order(rows: list[Organization]) -> list[Organization]:
    children: dict[int | None, list[Organization]] = {}
    for org in rows:
        children.setdefault(org.parent_id, []).append(org)
    ordered: list[Organization] = []

    def walk(parent: int | None) -> None:
        for org in children.get(parent, []):
            ordered.append(org)
            walk(org.id)

    walk(None)
    return ordered


def organization_depths(orgs: list[Organization]) -> dict[int, int]:
    """How deep each organisation sits in the tree (0 for roots), for indented lists."""
    by_id = {o.id: o for o in orgs}
    depth: dict[int, int] = {}
    for org in orgs:
        d, parent = 0, org.parent_id
        while parent is not None and parent in by_id and d < 10:
            d, parent = d + 1, by_id[parent].parent_id
        depth[org.id] = d
    return depth


@dataclass(frozen=True)
class DirectorySummary:
    organizations: int
    users: int
    locked_users: int


def directory_summary(db_session: Session, *, actor: Actor) -> DirectorySummary:
    """Counts for the home page of the operator, authority and auditors."""
    require(actor, *DIRECTORY_READERS, action="查看机构和用户统计")
    from sqlalchemy import func

    now = clock.now()
    return DirectorySummary(
        organizations=db_session.execute(select(func.count(Organization.id))).scalar_one(),
        users=db_session.execute(select(func.count(User.id))).scalar_one(),
        locked_users=db_session.execute(
            select(func.count(User.id)).where(User.locked_until > now)
        ).scalar_one(),
    )
