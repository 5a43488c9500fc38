"""Worklists and summaries over the catalog: a department's resources, the operator's review
queue, likely duplicates, and the catalog's counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog import synonyms
from govshare.catalog.models import (
    DataItem,
    Domain,
    Resource,
    ResourceStatus,
    ResourceVersion,
    RetirementState,
    ShareType,
    VersionState,
)
from govshare.catalog.service.common import COMPILERS, OPEN_STATES, READERS, _is_operator
from govshare.core.errors import Forbidden, Invalid
from govshare.core.permissions import Actor, Role, require
from govshare.identity.models import Organization


@dataclass(frozen=True)
class CatalogRow:
    """A resource with the version its department is working on, for list pages."""

    resource: Resource
    latest: ResourceVersion


def department_resources(
    db_session: Session, *, actor: Actor, organization_id: int | None = None
) -> list[CatalogRow]:
    """A department's own catalog, drafts included (its staff and the operator)."""
    org_id = organization_id or actor.organization_id
    if org_id is None:
        raise Invalid("请选择部门", field="organization_id")
    if not (_is_operator(actor) or (actor.has(*COMPILERS) and actor.organization_id == org_id)):
        raise Forbidden("只能查看本单位的目录编制情况")
    latest = (
        select(ResourceVersion.resource_id, func.max(ResourceVersion.number).label("n"))
        .where(ResourceVersion.state != VersionState.WITHDRAWN)
        .group_by(ResourceVersion.resource_id)
        .subquery()
    )
    rows = db_session.execute(
        select(Resource, ResourceVersion)
        .join(latest, latest.c.resource_id == Resource.id)
        .join(
            ResourceVersion,
            (ResourceVersion.resource_id == Resource.id) & (ResourceVersion.number == latest.c.n),
        )
        .where(Resource.provider_id == org_id)
        .order_by(Resource.code)
    ).all()
    return [CatalogRow(r, v) for r, v in rows]


@dataclass(frozen=True)
class ReviewQueue:
    versions: list[ResourceVersion]
    retirements: list[Resource]
    narrowings: list[ResourceVersion]


def review_queue(db_session: Session, *, actor: Actor) -> ReviewQueue:
    """What waits for the operator (and, for the authority, the narrowings reported)."""
    require(actor, Role.PLATFORM_OPERATOR, Role.AUTHORITY, action="查看目录审核")
    versions = db_session.execute(
        select(ResourceVersion)
        .where(ResourceVersion.state == VersionState.SUBMITTED)
        .order_by(ResourceVersion.submitted_at)
    ).scalars()
    retirements = db_session.execute(
        select(Resource)
        .where(Resource.retirement_state == RetirementState.SUBMITTED)
        .order_by(Resource.retirement_requested_at)
    ).scalars()
    narrowings = db_session.execute(
        select(ResourceVersion)
        .where(ResourceVersion.narrowing.is_(True))
        .order_by(ResourceVersion.submitted_at.desc())
        .limit(100)
    ).scalars()
    return ReviewQueue(list(versions), list(retirements), list(narrowings))


@dataclass(frozen=True)
class DuplicateMatch:
    """A data item another department already provides (CAT-7)."""

    item: str
    existing_item: str
    resource_id: int
    resource_code: str
    resource_name: str
    provider: str


def find_duplicates(
    db_session: Session, *, actor: Actor, item_names: list[str], provider_id: int | None = None
) -> list[DuplicateMatch]:
    """Items in `item_names` that another department's published resource already has,
    same name or same meaning (synonym list)."""
    require(actor, *READERS, action="查看目录")
    own = provider_id if provider_id is not None else actor.organization_id
    wanted: dict[str, str] = {}
    for name in item_names:
        if name.strip():
            for key in synonyms.equivalents(name):
                wanted.setdefault(key, name.strip())
    if not wanted:
        return []
    stmt = (
        select(
            DataItem.name,
            DataItem.normalized,
            Resource.id,
            Resource.code,
            ResourceVersion.name,
            Organization.name,
        )
        .join(ResourceVersion, ResourceVersion.id == DataItem.version_id)
        .join(Resource, Resource.current_version_id == ResourceVersion.id)
        .join(Organization, Organization.id == Resource.provider_id)
        .where(DataItem.normalized.in_(list(wanted)), Resource.status == ResourceStatus.PUBLISHED)
        .order_by(Resource.code, DataItem.position)
    )
    if own is not None:
        stmt = stmt.where(Resource.provider_id != own)
    matches = [
        DuplicateMatch(wanted[norm], name, rid, code, rname, org)
        for name, norm, rid, code, rname, org in db_session.execute(stmt)
    ]
    return matches


@dataclass(frozen=True)
class CatalogSummary:
    """Figures for the home page."""

    published: int
    awaiting_review: int
    own_in_progress: int


def catalog_summary(db_session: Session, *, actor: Actor) -> CatalogSummary:
    """Published resources, versions awaiting review, and the actor's department's versions
    in progress (drafts, returned, in review)."""
    require(actor, *READERS, action="查看目录")

    def count(*where: Any) -> int:
        return db_session.execute(select(func.count()).where(*where)).scalar_one()

    own = 0
    if actor.organization_id is not None and actor.has(*COMPILERS):
        own = count(
            ResourceVersion.resource_id == Resource.id,
            Resource.provider_id == actor.organization_id,
            ResourceVersion.state.in_(OPEN_STATES),
        )
    return CatalogSummary(
        published=count(Resource.status == ResourceStatus.PUBLISHED),
        awaiting_review=count(ResourceVersion.state == VersionState.SUBMITTED),
        own_in_progress=own,
    )


@dataclass(frozen=True)
class PublishedCount:
    """How many published resources a department provides in one domain and share type."""

    provider_id: int
    domain: Domain
    share_type: ShareType
    resources: int


def published_counts(
    db_session: Session, *, actor: Actor, provider_id: int | None = None
) -> list[PublishedCount]:
    """Published resources counted by provider, domain (领域) and share type, as their current
    versions state them; `provider_id` narrows them to one department. One grouped query."""
    require(actor, *READERS, action="查看目录")
    who = Resource.provider_id
    stmt = (
        select(who, ResourceVersion.domain, ResourceVersion.share_type, func.count())
        .join_from(Resource, ResourceVersion, ResourceVersion.id == Resource.current_version_id)
        .where(Resource.status == ResourceStatus.PUBLISHED)
        .group_by(who, ResourceVersion.domain, ResourceVersion.share_type)
    )
    if provider_id is not None:
        stmt = stmt.where(who == provider_id)
    return [
        PublishedCount(int(p), Domain(d), ShareType(s), int(n))
        for p, d, s, n in db_session.execute(stmt)
    ]
