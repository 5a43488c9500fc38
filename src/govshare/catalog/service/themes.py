"""Theme catalogs (主题信息资源目录, CAT-1): the operator sets one up with a lead department
and contributing departments; they compile its resources."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, Theme, ThemeContributor
from govshare.catalog.schemas import ThemeIn
from govshare.catalog.service.common import READERS
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Invalid, NotFound
from govshare.core.permissions import Actor, Role, require
from govshare.identity.models import Organization


def _check(db_session: Session, data: ThemeIn, exclude_id: int | None = None) -> None:
    stmt = select(Theme.id).where(Theme.name == data.name)
    if exclude_id is not None:
        stmt = stmt.where(Theme.id != exclude_id)
    if db_session.execute(stmt).first():
        raise Conflict(f"主题目录“{data.name}”已存在", field="name")
    for org_id in {data.lead_organization_id, *data.contributor_ids}:
        if db_session.get(Organization, org_id) is None:
            field = (
                "lead_organization_id" if org_id == data.lead_organization_id else "contributor_ids"
            )
            raise NotFound(f"组织机构 {org_id} 不存在", field=field)
    if data.lead_organization_id in data.contributor_ids:
        raise Invalid("牵头部门不必再列为共建部门", field="contributor_ids")


def create_theme(db_session: Session, *, actor: Actor, data: ThemeIn) -> Theme:
    """Sets up a theme catalog (operator)."""
    require(actor, Role.PLATFORM_OPERATOR, action="设立主题目录")
    _check(db_session, data)
    theme = Theme(
        name=data.name,
        description=data.description,
        lead_organization_id=data.lead_organization_id,
        created_at=clock.now(),
        contributor_rows=[
            ThemeContributor(organization_id=i) for i in sorted(set(data.contributor_ids))
        ],
    )
    db_session.add(theme)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.theme.create",
        object_type="theme",
        object_id=theme.id,
        details=data.model_dump(),
    )
    return theme


def update_theme(db_session: Session, *, actor: Actor, theme_id: int, data: ThemeIn) -> Theme:
    """Changes a theme's name, lead or contributors (operator); a department that already
    provides resources to the theme stays a member."""
    require(actor, Role.PLATFORM_OPERATOR, action="修改主题目录")
    theme = get_theme(db_session, actor=actor, theme_id=theme_id)
    _check(db_session, data, exclude_id=theme.id)
    providers = set(
        db_session.execute(
            select(Resource.provider_id).where(Resource.theme_id == theme.id)
        ).scalars()
    )
    dropped = providers - {data.lead_organization_id, *data.contributor_ids}
    if dropped:
        raise Conflict("已有资源的部门不能移出主题目录", field="contributor_ids")
    theme.name, theme.description = data.name, data.description
    theme.lead_organization_id = data.lead_organization_id
    theme.contributor_rows.clear()
    db_session.flush()
    theme.contributor_rows = [
        ThemeContributor(organization_id=i) for i in sorted(set(data.contributor_ids))
    ]
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.theme.update",
        object_type="theme",
        object_id=theme.id,
        details=data.model_dump(),
    )
    return theme


def get_theme(db_session: Session, *, actor: Actor, theme_id: int) -> Theme:
    """One theme catalog."""
    require(actor, *READERS, action="查看目录")
    theme = db_session.get(Theme, theme_id)
    if theme is None:
        raise NotFound(f"主题目录 {theme_id} 不存在", field="theme_id")
    return theme


def list_themes(db_session: Session, *, actor: Actor) -> list[tuple[Theme, int]]:
    """Every theme catalog with its count of published resources."""
    require(actor, *READERS, action="查看目录")
    counts = dict(
        db_session.execute(
            select(Resource.theme_id, func.count())
            .where(Resource.theme_id.is_not(None), Resource.status == "published")
            .group_by(Resource.theme_id)
        ).all()
    )
    themes = db_session.execute(select(Theme).order_by(Theme.name)).scalars().all()
    return [(t, counts.get(t.id, 0)) for t in themes]
