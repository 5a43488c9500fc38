"""Subscriptions (订阅, SHR-9): a department subscribes to a resource and hears, through the
inbox, of every change and retirement announced for it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog.models import ResourceStatus, Subscription
from govshare.catalog.service.common import COMPILERS, READERS
from govshare.catalog.service.resources import get_resource
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, NotFound
from govshare.core.permissions import Actor, Role, own_organization, require

SUBSCRIBERS = (*COMPILERS,)


def _subscriber_organization(actor: Actor) -> int:
    require(actor, *SUBSCRIBERS, action="订阅资源")
    return own_organization(actor)


def subscribe(db_session: Session, *, actor: Actor, resource_id: int) -> Subscription:
    """Subscribes the actor's department to a published resource."""
    org_id = _subscriber_organization(actor)
    resource = get_resource(db_session, actor=actor, resource_id=resource_id)
    if resource.status is not ResourceStatus.PUBLISHED:
        raise Conflict("只能订阅已发布的资源", field="resource_id")
    if resource.provider_id == org_id:
        raise Conflict("不能订阅本单位提供的资源", field="resource_id")
    existing = db_session.execute(
        select(Subscription).where(
            Subscription.resource_id == resource.id, Subscription.organization_id == org_id
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict("本单位已订阅该资源", field="resource_id")
    subscription = Subscription(
        resource_id=resource.id,
        organization_id=org_id,
        created_at=clock.now(),
        created_by=actor.label,
    )
    db_session.add(subscription)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.subscription.create",
        object_type="resource",
        object_id=resource.code,
        details={"organization_id": org_id},
    )
    return subscription


def unsubscribe(db_session: Session, *, actor: Actor, resource_id: int) -> None:
    """Ends the actor's department's subscription."""
    org_id = _subscriber_organization(actor)
    subscription = db_session.execute(
        select(Subscription).where(
            Subscription.resource_id == resource_id, Subscription.organization_id == org_id
        )
    ).scalar_one_or_none()
    if subscription is None:
        raise NotFound("本单位没有订阅该资源", field="resource_id")
    code = subscription.resource.code
    db_session.delete(subscription)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.subscription.delete",
        object_type="resource",
        object_id=code,
        details={"organization_id": org_id},
    )


def my_subscriptions(db_session: Session, *, actor: Actor) -> list[Subscription]:
    """The actor's department's subscriptions, newest first."""
    org_id = _subscriber_organization(actor)
    return list(
        db_session.execute(
            select(Subscription)
            .where(Subscription.organization_id == org_id)
            .order_by(Subscription.id.desc())
        ).scalars()
    )


def is_subscribed(db_session: Session, *, actor: Actor, resource_id: int) -> bool:
    """Whether the actor's department subscribes to the resource."""
    if actor.organization_id is None:
        return False
    return (
        db_session.execute(
            select(Subscription.id).where(
                Subscription.resource_id == resource_id,
                Subscription.organization_id == actor.organization_id,
            )
        ).first()
        is not None
    )


def subscribers(db_session: Session, *, actor: Actor, resource_id: int) -> list[Subscription]:
    """Who subscribes to a resource: its provider and the operator may see."""
    require(actor, *READERS, action="查看订阅")
    resource = get_resource(db_session, actor=actor, resource_id=resource_id)
    if not (
        actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY)
        or actor.organization_id == resource.provider_id
    ):
        raise NotFound(f"资源 {resource_id} 的订阅情况不可见", field="resource_id")
    return list(
        db_session.execute(
            select(Subscription)
            .where(Subscription.resource_id == resource.id)
            .order_by(Subscription.created_at)
        ).scalars()
    )


def subscriber_counts(db_session: Session, resource_ids: list[int]) -> dict[int, int]:
    """Subscriptions per resource, for list pages."""
    if not resource_ids:
        return {}
    rows = db_session.execute(
        select(Subscription.resource_id, func.count())
        .where(Subscription.resource_id.in_(resource_ids))
        .group_by(Subscription.resource_id)
    )
    return {rid: n for rid, n in rows}
