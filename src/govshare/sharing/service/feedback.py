"""Use feedback (使用成效反馈, SHR-7) and who uses a provider's data (数据使用情况): the
consumer reports the effect of its use of a grant; the provider, and those who oversee
sharing, see each resource's grants with what their consumers report, whole or a page of
resources at a time. (How often each grant is used is `exchange.service.usage`.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Forbidden
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.sharing.models import Feedback, Grant
from govshare.sharing.schemas import FeedbackIn
from govshare.sharing.service.common import APPLICANTS, READERS, oversees
from govshare.sharing.service.grants import _visible, link


def record_feedback(
    db_session: Session, *, actor: Actor, grant_id: int, data: FeedbackIn
) -> Feedback:
    """The consumer reports the effect of its use (SHR-7, BZ§27)."""
    require(actor, *APPLICANTS, action="反馈使用成效")
    grant = _visible(db_session, actor, grant_id)
    if actor.organization_id != grant.consumer_id:
        raise Forbidden("只有使用部门可以反馈使用成效")
    feedback = Feedback(
        grant_id=grant.id,
        rating=data.rating,
        cases_handled=data.cases_handled,
        effect=data.effect,
        created_at=clock.now(),
        created_by=actor.label,
    )
    db_session.add(feedback)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="sharing.feedback.record",
        object_type="grant",
        object_id=grant.id,
        details={
            "rating": data.rating.value,
            "cases_handled": data.cases_handled,
            "effect": data.effect,
        },
    )
    # To the provider, and to the operator: BZ§27 sends the effect of use to 市大数据中心.
    readers = inbox.recipients(db_session, organization_ids=[grant.provider_id])
    readers |= inbox.recipients(db_session, roles=[Role.PLATFORM_OPERATOR])
    inbox.notify(
        db_session,
        user_ids=readers,
        notice=inbox.Notice(
            "sharing.feedback",
            f"使用成效反馈：{grant.consumer.name} — {grant.version.name}",
            f"{data.rating.label}。{data.effect}",
            link(grant),
        ),
    )
    return feedback


def feedback_of(db_session: Session, *, actor: Actor, grant_id: int) -> list[Feedback]:
    """A grant's feedback, newest first."""
    grant = _visible(db_session, actor, grant_id)
    return list(
        db_session.execute(
            select(Feedback).where(Feedback.grant_id == grant.id).order_by(Feedback.id.desc())
        ).scalars()
    )


@dataclass
class ResourceUsage:
    """One of a provider's resources: who holds grants, for what, and what they report."""

    resource: Resource
    grants: list[Grant] = field(default_factory=list)
    feedback: dict[int, list[Feedback]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.resource.current_version.name if self.resource.current_version else ""


# Resources per page of the usage page: every department's grants at once can be thousands.
USAGE_PAGE_SIZE = 20


@dataclass(frozen=True)
class UsagePage:
    """A page of `usage`, by resource code."""

    rows: list[ResourceUsage]
    page: int
    pages: int
    resources: int  # resources with grants, on every page


def usage(
    db_session: Session,
    *,
    actor: Actor,
    organization_id: int | None = None,
    every_provider: bool = False,
) -> list[ResourceUsage]:
    """Who uses a provider's data (SHR-7, XT): its own for a department; any for overseers,
    or every department's at once (`every_provider`, BZ§27)."""
    return _usage_of(db_session, _usage_scope(actor, organization_id, every_provider))


def usage_page(
    db_session: Session,
    *,
    actor: Actor,
    organization_id: int | None = None,
    every_provider: bool = False,
    page: int = 1,
    per_page: int = USAGE_PAGE_SIZE,
) -> UsagePage:
    """`usage` a page of resources at a time (by code); a page past the last shows the last."""
    mine = _usage_scope(actor, organization_id, every_provider)
    used = select(Resource.id).where(Resource.id.in_(select(Grant.resource_id).where(mine)))
    total = db_session.execute(select(func.count()).select_from(used.subquery())).scalar_one()
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    shown = db_session.execute(
        used.order_by(Resource.code).offset((page - 1) * per_page).limit(per_page)
    ).scalars()
    rows = _usage_of(db_session, and_(mine, Grant.resource_id.in_(list(shown))))
    return UsagePage(rows=rows, page=page, pages=pages, resources=total)


def _usage_scope(actor: Actor, organization_id: int | None, every_provider: bool) -> Any:
    """The grants whose use the caller may see, as a condition on `Grant`."""
    require(actor, *READERS, action="查看数据使用情况")
    if every_provider and not oversees(actor):
        raise Forbidden("只有平台管理单位、主管部门和审计员可以查看全部部门的数据使用情况")
    if every_provider:
        return true()
    org_id = organization_id if organization_id is not None else own_organization(actor)
    if org_id != actor.organization_id and not oversees(actor):
        raise Forbidden("只能查看本单位资源的使用情况")
    return Grant.provider_id == org_id


def _usage_of(db_session: Session, mine: Any) -> list[ResourceUsage]:
    grants = db_session.execute(
        select(Grant).where(mine).order_by(Grant.resource_id, Grant.id)
    ).scalars()
    by_resource: dict[int, ResourceUsage] = {}
    for grant in grants:
        by_resource.setdefault(grant.resource_id, ResourceUsage(grant.resource)).grants.append(
            grant
        )
    if by_resource:
        feedback = db_session.execute(
            select(Feedback)
            .join(Grant, Grant.id == Feedback.grant_id)
            .where(mine)
            .order_by(Feedback.id.desc())
        ).scalars()
        for item in feedback:
            entry = by_resource[item.grant.resource_id]
            entry.feedback.setdefault(item.grant_id, []).append(item)
    return sorted(by_resource.values(), key=lambda u: u.resource.code)
