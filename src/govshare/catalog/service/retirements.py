"""Retire resources, and make announced changes effective on their date (CAT-6, CAT-7).

A retirement, like a later version of a published resource, takes effect on a date at least the
profile's notice period ahead (SR§9); every department holding a grant on the resource and every
subscriber hears of it at once. `apply_due_changes` (a daily job) makes scheduled versions and
retirements effective on that date, never earlier. A retirement that takes effect ends the
resource's grants with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import (
    Resource,
    ResourceStatus,
    ResourceVersion,
    RetirementState,
    VersionState,
)
from govshare.catalog.schemas import RetirementIn, ReviewIn
from govshare.catalog.service.common import (
    _link,
    _provider_users,
    _resource,
    _users_told,
    may_submit,
)
from govshare.catalog.service.resources import (
    _pending_version,
    _publish,
    _refresh_search,
    effective_date,
)
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import Rules


def request_retirement(
    db_session: Session, *, actor: Actor, resource_id: int, data: RetirementIn
) -> Resource:
    """The provider asks to retire (下架) a published resource; the operator reviews it."""
    resource = _resource(db_session, actor, resource_id)
    if not may_submit(actor, resource):
        raise Forbidden("申请下架须由本单位数据专员或部门负责人办理")
    if resource.status is not ResourceStatus.PUBLISHED:
        raise Conflict("只有已发布的资源可以申请下架", field="resource_id")
    if resource.retirement_state in (RetirementState.SUBMITTED, RetirementState.SCHEDULED):
        raise Conflict(f"资源已{resource.retirement_state.label}", field="resource_id")
    pending = _pending_version(db_session, resource)
    if pending is not None:
        raise Conflict(
            f"第 {pending.number} 版尚未办结（{pending.state.label}），请先撤回该版本",
            field="resource_id",
        )
    resource.retirement_state = RetirementState.SUBMITTED
    resource.retirement_reason = data.reason
    resource.retirement_requested_at = clock.now()
    resource.retirement_review_comment = None
    resource.retires_on = data.requested_effective_on
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.retirement.request",
        object_type="resource",
        object_id=resource.code,
        details=data.model_dump(mode="json"),
    )
    inbox.notify(
        db_session,
        user_ids=inbox.recipients(db_session, roles=[Role.PLATFORM_OPERATOR]),
        notice=inbox.Notice(
            "catalog.review",
            f"下架待审核：{resource.current_version.name}",
            data.reason,
            "/catalog/review",
        ),
    )
    return resource


def review_retirement(
    db_session: Session, *, actor: Actor, resource_id: int, decision: ReviewIn, rules: Rules
) -> Resource:
    """The operator approves a retirement (effective after the notice period) or returns it."""
    require(actor, Role.PLATFORM_OPERATOR, action="审核资源下架")
    resource = _resource(db_session, actor, resource_id)
    if resource.retirement_state is not RetirementState.SUBMITTED:
        raise Conflict("该资源没有待审核的下架申请", field="resource_id")
    name = resource.current_version.name if resource.current_version else resource.code
    resource.retirement_review_comment = decision.comment or None
    if not decision.approve:
        if not decision.comment:
            raise Invalid("退回须写明理由", field="comment")
        resource.retirement_state = RetirementState.RETURNED
        resource.retires_on = None
        db_session.flush()
        record(
            db_session,
            actor=actor,
            action="catalog.retirement.return",
            object_type="resource",
            object_id=resource.code,
            details={"comment": decision.comment},
        )
        inbox.notify(
            db_session,
            user_ids=_provider_users(db_session, resource),
            notice=inbox.Notice(
                "catalog.review_result",
                f"下架申请已退回：{name}",
                decision.comment,
                _link(resource),
            ),
        )
        return resource
    today = clock.today()
    resource.retires_on = effective_date(
        today, rules.catalog_change_notice_months.value, resource.retires_on
    )
    resource.retirement_state = RetirementState.SCHEDULED
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.retirement.approve",
        object_type="resource",
        object_id=resource.code,
        details={"retires_on": resource.retires_on.isoformat(), "comment": decision.comment},
    )
    body = f"下架原因：{resource.retirement_reason}。{resource.retires_on} 前仍可正常使用。"
    inbox.notify(
        db_session,
        user_ids=_users_told(db_session, resource) | _provider_users(db_session, resource),
        notice=inbox.Notice(
            "catalog.change",
            f"下架预告：{name} 将于 {resource.retires_on} 下架",
            body,
            _link(resource),
        ),
    )
    if resource.retires_on <= today:
        _retire(db_session, actor, resource)
    return resource


def _retire(db_session: Session, actor: Actor, resource: Resource) -> None:
    """The retirement takes effect: the resource leaves the catalog, its grants end and its
    open applications close with the retirement's reason (each department told), and every
    data path refuses it (CAT-6)."""
    # sharing builds on the catalog services
    from govshare.sharing.service import applications, common, grants

    resource.status = ResourceStatus.RETIRED
    resource.retirement_state = RetirementState.DONE
    resource.retired_at = clock.now()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.resource.retire",
        object_type="resource",
        object_id=resource.code,
        details={"retires_on": resource.retires_on.isoformat() if resource.retires_on else None},
    )
    grants.end_for_retirement(db_session, actor=actor, resource=resource)
    applications.close_for_retirement(
        db_session,
        actor=actor,
        resource=resource,
        reason=common.retired_reason(resource.retirement_reason),
    )
    _refresh_search(db_session, resource)
    name = resource.current_version.name if resource.current_version else resource.code
    inbox.notify(
        db_session,
        user_ids=_users_told(db_session, resource),
        notice=inbox.Notice(
            "catalog.change", f"已下架：{name}", resource.retirement_reason or "", _link(resource)
        ),
    )


@dataclass(frozen=True)
class DueResult:
    """What the daily job made effective."""

    published: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


def apply_due_changes(db_session: Session, *, actor: Actor, today: date | None = None) -> DueResult:
    """Makes scheduled versions and retirements effective once their date has come (the
    daily job; safe to run any number of times)."""
    require(actor, Role.PLATFORM_OPERATOR, Role.SYSTEM, action="执行到期的目录变更")
    real = clock.today()
    if today is not None and today > real:
        raise Invalid(
            f"执行日期 {today} 晚于今天（{real}）：已公告的变更和下架须满公告期、到生效日期"
            "才生效，不能提前执行",
            field="today",
        )
    today = today or real
    result = DueResult()
    due_versions = db_session.execute(
        select(ResourceVersion)
        .where(
            ResourceVersion.state == VersionState.SCHEDULED, ResourceVersion.effective_on <= today
        )
        .order_by(ResourceVersion.effective_on, ResourceVersion.id)
        .with_for_update(of=ResourceVersion)
    ).scalars()
    for version in list(due_versions):
        _publish(db_session, actor, version, on=version.effective_on)
        result.published.append(f"{version.resource.code}#{version.number}")
    due_retirements = db_session.execute(
        select(Resource)
        .where(Resource.retirement_state == RetirementState.SCHEDULED, Resource.retires_on <= today)
        .order_by(Resource.retires_on, Resource.id)
        .with_for_update(of=Resource)
    ).scalars()
    for resource in list(due_retirements):
        _retire(db_session, actor, resource)
        result.retired.append(resource.code)
    record(
        db_session,
        actor=actor,
        action="catalog.due.apply",
        object_type="catalog",
        details={
            "today": today.isoformat(),
            "published": result.published,
            "retired": result.retired,
        },
    )
    return result
