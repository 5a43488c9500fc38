"""Stale data (SHR-6, SUP-2, BZ§21): data refreshed later than its declared update frequency.

A provider records each refresh of a resource's data, and every successful sync run into the
data resource center records one. A published resource is stale when its latest refresh — or
its first publication, before any — is older than its frequency (更新周期) allows. Stale data
is shown as such (数据已过期) on the resource's page and in its provider's list under every
profile; where the profile also enables the restriction (Binzhou), a department with stale
resources gets no new grants until it catches up, and is told which resources hold it back.
Both read the one computation, `freshness_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceStatus, ResourceVersion, UpdateFrequency
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Forbidden, Invalid
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import Rules
from govshare.sharing.models import DataUpdate
from govshare.sharing.schemas import DataUpdateIn
from govshare.sharing.service.common import ANSWERERS, READERS

RECORDERS = (*ANSWERERS, Role.DEPARTMENT_STAFF, Role.SYSTEM)


@dataclass(frozen=True)
class Freshness:
    """A published resource's data against its update frequency: when it was last refreshed
    and when the next refresh is due; `stale` once that day has passed."""

    resource_id: int
    code: str
    name: str
    frequency: UpdateFrequency
    last_updated_on: date
    due_on: date  # when the next refresh is due

    @property
    def stale(self) -> bool:
        return self.due_on < clock.today()

    @property
    def days_late(self) -> int:
        return (clock.today() - self.due_on).days


Stale = Freshness  # a resource `stale_resources` lists: one whose `stale` holds


def record_data_update(
    db_session: Session, *, actor: Actor, resource_id: int, data: DataUpdateIn
) -> DataUpdate:
    """The provider (or its system) reports that the resource's data was refreshed."""
    require(actor, *RECORDERS, action="登记数据更新")
    resource = db_session.get(Resource, resource_id)
    if resource is None or resource.provider_id != actor.organization_id:
        raise Forbidden("只有资源提供部门可以登记数据更新")
    if resource.status is not ResourceStatus.PUBLISHED:
        raise Invalid("只能为已发布的资源登记数据更新", field="resource_id")
    today = clock.today()
    updated_on = data.updated_on or today
    if updated_on > today:
        raise Invalid("更新日期不能晚于今天", field="updated_on")
    update = DataUpdate(
        resource_id=resource.id,
        updated_on=updated_on,
        note=data.note,
        recorded_at=clock.now(),
        recorded_by=actor.label,
    )
    db_session.add(update)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="sharing.data_update.record",
        object_type="resource",
        object_id=resource.id,
        details={"code": resource.code, "updated_on": updated_on.isoformat(), "note": data.note},
    )
    return update


def freshness_of(
    db_session: Session,
    *,
    organization_id: int | None = None,
    resource_ids: Sequence[int] | None = None,
) -> dict[int, Freshness]:
    """By resource id: the freshness of a department's (or of the given) published resources
    that declare a regular update frequency."""
    latest = (
        select(DataUpdate.resource_id, func.max(DataUpdate.updated_on).label("on"))
        .group_by(DataUpdate.resource_id)
        .subquery()
    )
    stmt = (
        select(
            Resource.id, Resource.code, Resource.first_published_on, ResourceVersion, latest.c.on
        )
        .join(ResourceVersion, ResourceVersion.id == Resource.current_version_id)
        .outerjoin(latest, latest.c.resource_id == Resource.id)
        .where(Resource.status == ResourceStatus.PUBLISHED)
    )
    if organization_id is not None:
        stmt = stmt.where(Resource.provider_id == organization_id)
    if resource_ids is not None:
        stmt = stmt.where(Resource.id.in_(list(resource_ids)))
    found: dict[int, Freshness] = {}
    for resource_id, code, published_on, version, updated_on in db_session.execute(stmt).all():
        max_age = version.update_frequency.max_age_days
        last = updated_on or published_on
        if max_age is None or last is None:
            continue
        due = last + timedelta(days=max_age)
        found[resource_id] = Freshness(
            resource_id, code, version.name, version.update_frequency, last, due
        )
    return found


def stale_resources(db_session: Session, organization_id: int) -> list[Stale]:
    """The department's published resources that are overdue for a refresh, most late first."""
    known = freshness_of(db_session, organization_id=organization_id)
    return sorted((f for f in known.values() if f.stale), key=lambda s: s.due_on)


def restriction(db_session: Session, rules: Rules, organization_id: int) -> list[Stale]:
    """Why the department may not get new grants (empty: it may)."""
    if not rules.stale_provider_restriction.value:
        return []
    return stale_resources(db_session, organization_id)


def require_not_restricted(
    db_session: Session, rules: Rules, organization_id: int, field: str = "consumer_id"
) -> None:
    """Refuses a new grant to a department held back by stale data (BZ§21)."""
    stale = restriction(db_session, rules, organization_id)
    if stale:
        shown = "、".join(f"{s.name}（{s.code}，应于 {s.due_on} 前更新）" for s in stale[:5])
        more = f"等 {len(stale)} 项" if len(stale) > 5 else ""
        raise Forbidden(
            f"本单位有资源未按目录公布的更新周期更新数据：{shown}{more}。"
            f"依据{rules.stale_provider_restriction.article or '政策配置'}，"
            "更新前暂停新的共享授权",
            field=field,
        )


def data_updates(db_session: Session, *, actor: Actor, resource_id: int) -> list[DataUpdate]:
    """A resource's refresh history, newest first."""
    require(actor, *READERS, action="查看数据更新记录")
    return list(
        db_session.execute(
            select(DataUpdate)
            .where(DataUpdate.resource_id == resource_id)
            .order_by(DataUpdate.updated_on.desc(), DataUpdate.id.desc())
        ).scalars()
    )
