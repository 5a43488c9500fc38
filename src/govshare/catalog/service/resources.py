"""Compile, review and publish resources and their versions (CAT-1 … CAT-4).

A department compiles a draft, its data officer or head submits it, the operator approves or
returns it with reasons. The first version is published on approval; a later version of a
published resource is scheduled for a date at least the profile's notice period ahead (SR§9),
every department holding a grant on it and every subscriber hearing of it at once, and
published on that date by `retirements.apply_due_changes`. Published versions are never edited.
"""

from __future__ import annotations

import calendar as month_calendar
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog.models import (
    CatalogKind,
    Resource,
    ResourceStatus,
    ResourceVersion,
    RetirementState,
    Theme,
    VersionState,
)
from govshare.catalog.schemas import ResourceIn, ReviewIn, VersionIn
from govshare.catalog.service import indexing
from govshare.catalog.service.common import (
    COMPILERS,
    PENDING_STATES,
    READERS,
    VISIBLE_TO_ALL,
    _is_operator,
    _link,
    _provider_users,
    _require_compiler,
    _resource,
    _users_told,
    _version,
    can_see_unpublished,
    may_submit,
    next_sequence,
)
from govshare.catalog.service.contents import (
    CLASS_CODES,
    _fail,
    _fill,
    _problems_for,
    _snapshot,
    narrowing_reasons,
    rule_problems,
    version_input,
)
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import Rules
from govshare.identity.models import Organization


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


def effective_date(today: date, notice_months: int, requested: date | None) -> date:
    """When an approved change takes effect: the requested date, but never before the
    profile's notice period has run from `today` (SR§9)."""
    earliest = add_months(today, notice_months)
    return requested if requested and requested > earliest else earliest


def _next_code(db_session: Session, prefix: str) -> str:
    return f"{prefix}/{next_sequence(db_session, prefix):06d}"


# --- compile ---------------------------------------------------------------------------


def create_resource(
    db_session: Session, *, actor: Actor, data: ResourceIn, rules: Rules
) -> Resource:
    """A new resource with its first version as a draft; the code is assigned now, for good."""
    require(actor, *COMPILERS, Role.PLATFORM_OPERATOR, action="编制资源目录")
    if _is_operator(actor) and data.provider_id is not None:
        provider_id = data.provider_id
    elif actor.has(*COMPILERS) and actor.organization_id is not None:
        if data.provider_id not in (None, actor.organization_id):
            raise Forbidden("只能为本单位编制资源目录", field="provider_id")
        provider_id = actor.organization_id
    else:
        raise Invalid("请选择资源提供部门", field="provider_id")
    if db_session.get(Organization, provider_id) is None:
        raise NotFound(f"组织机构 {provider_id} 不存在", field="provider_id")
    problems = rule_problems(
        db_session, kind=data.catalog_kind, data=data, rules=rules, base_topic=data.base_topic
    )
    if data.catalog_kind is CatalogKind.THEME:
        theme = db_session.get(Theme, data.theme_id) if data.theme_id else None
        if theme is None:
            problems.insert(0, ("theme_id", "主题信息资源须选择所属主题目录"))
        elif provider_id not in theme.member_ids:
            problems.insert(0, ("theme_id", f"提供部门不是主题目录“{theme.name}”的牵头或共建部门"))
    _fail(problems)
    class_code = CLASS_CODES[data.catalog_kind]
    prefix = class_code + data.item_code + data.group_code + (data.subgroup_code or "")
    now = clock.now()
    resource = Resource(
        code=_next_code(db_session, prefix),
        provider_id=provider_id,
        catalog_kind=data.catalog_kind,
        base_topic=data.base_topic if data.catalog_kind is CatalogKind.BASE else None,
        theme_id=data.theme_id if data.catalog_kind is CatalogKind.THEME else None,
        class_code=class_code,
        item_code=data.item_code,
        group_code=data.group_code,
        subgroup_code=data.subgroup_code,
        status=ResourceStatus.DRAFT,
        created_at=now,
        created_by=actor.label,
    )
    db_session.add(resource)
    db_session.flush()
    version = ResourceVersion(
        resource_id=resource.id,
        number=1,
        state=VersionState.DRAFT,
        created_at=now,
        created_by=actor.label,
        updated_at=now,
    )
    _fill(db_session, version, data)
    db_session.add(version)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.resource.create",
        object_type="resource",
        object_id=resource.code,
        details={"provider_id": provider_id, "kind": data.catalog_kind.value, **_snapshot(version)},
    )
    return resource


def update_draft(
    db_session: Session, *, actor: Actor, version_id: int, data: VersionIn, rules: Rules
) -> ResourceVersion:
    """Edits a draft or returned version; published versions are never edited."""
    version = _version(db_session, actor, version_id)
    _require_compiler(actor, version.resource, "修改资源目录")
    if version.state not in (VersionState.DRAFT, VersionState.RETURNED):
        raise Conflict(f"{version.state.label}的版本不能修改；请新建版本", field="version_id")
    _fail(_problems_for(db_session, version.resource, data, rules))
    before = _snapshot(version)
    _fill(db_session, version, data)
    version.updated_at = clock.now()
    if version.state is VersionState.RETURNED:
        version.state = VersionState.DRAFT
    db_session.flush()
    after = _snapshot(version)
    record(
        db_session,
        actor=actor,
        action="catalog.version.update",
        object_type="resource",
        object_id=version.resource.code,
        details={
            "version": version.number,
            "changed": {k: [before.get(k), after[k]] for k in after if before.get(k) != after[k]},
        },
    )
    return version


def start_revision(db_session: Session, *, actor: Actor, resource_id: int) -> ResourceVersion:
    """A new draft version of a published resource, starting from the current version."""
    resource = _resource(db_session, actor, resource_id)
    _require_compiler(actor, resource, "修订资源目录")
    if resource.status is not ResourceStatus.PUBLISHED or resource.current_version is None:
        raise Conflict("只有已发布的资源可以新建版本", field="resource_id")
    if resource.retirement_state in (RetirementState.SUBMITTED, RetirementState.SCHEDULED):
        raise Conflict("资源正在办理下架，不能新建版本", field="resource_id")
    pending = _pending_version(db_session, resource)
    if pending is not None:
        raise Conflict(
            f"第 {pending.number} 版尚未办结（{pending.state.label}），请先处理该版本",
            field="resource_id",
        )
    now = clock.now()
    last = db_session.execute(
        select(func.max(ResourceVersion.number)).where(ResourceVersion.resource_id == resource.id)
    ).scalar_one()
    version = ResourceVersion(
        resource_id=resource.id,
        number=last + 1,
        state=VersionState.DRAFT,
        created_at=now,
        created_by=actor.label,
        updated_at=now,
    )
    base = version_input(resource.current_version)
    base.update(change_note="", narrowing_justification="", requested_effective_on=None)
    _fill(db_session, version, VersionIn.model_validate(base))
    db_session.add(version)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.version.revise",
        object_type="resource",
        object_id=resource.code,
        details={"version": version.number},
    )
    return version


def _pending_version(db_session: Session, resource: Resource) -> ResourceVersion | None:
    return db_session.execute(
        select(ResourceVersion).where(
            ResourceVersion.resource_id == resource.id,
            ResourceVersion.state.in_(PENDING_STATES),
        )
    ).scalar_one_or_none()


def submit_version(
    db_session: Session, *, actor: Actor, version_id: int, rules: Rules
) -> ResourceVersion:
    """Sends a draft to the operator's review; a narrowing needs a justification and is
    flagged to the authority."""
    version = _version(db_session, actor, version_id)
    resource = version.resource
    if not may_submit(actor, resource):
        raise Forbidden("提交审核须由本单位数据专员或部门负责人办理")
    if version.state not in (VersionState.DRAFT, VersionState.RETURNED):
        raise Conflict(f"{version.state.label}的版本不能提交", field="version_id")
    data = VersionIn.model_validate(version_input(version))
    _fail(_problems_for(db_session, resource, data, rules))
    reasons: list[str] = []
    if resource.current_version is not None:
        reasons = narrowing_reasons(resource.current_version, version)
        if reasons and not version.narrowing_justification:
            raise Invalid(
                "缩小无条件共享资源的范围（" + "；".join(reasons) + "）须说明理由，并将报主管部门",
                field="narrowing_justification",
            )
    version.narrowing = bool(reasons)
    version.state = VersionState.SUBMITTED
    version.submitted_at = clock.now()
    version.review_comment = None
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.version.submit",
        object_type="resource",
        object_id=resource.code,
        details={"version": version.number, "narrowing": reasons},
    )
    operators = inbox.recipients(db_session, roles=[Role.PLATFORM_OPERATOR])
    inbox.notify(
        db_session,
        user_ids=operators,
        notice=inbox.Notice(
            "catalog.review",
            f"待审核：{version.name}（第 {version.number} 版）",
            f"{resource.provider.name}提交了资源目录，请审核。",
            "/catalog/review",
        ),
    )
    if reasons:
        record(
            db_session,
            actor=actor,
            action="catalog.narrowing.flag",
            object_type="resource",
            object_id=resource.code,
            details={
                "version": version.number,
                "reasons": reasons,
                "justification": version.narrowing_justification,
            },
        )
        inbox.notify(
            db_session,
            user_ids=inbox.recipients(db_session, roles=[Role.AUTHORITY]),
            notice=inbox.Notice(
                "catalog.narrowing",
                f"缩小共享范围报告：{version.name}",
                f"{resource.provider.name}："
                + "；".join(reasons)
                + f"。理由：{version.narrowing_justification}",
                f"{_link(resource)}/versions/{version.number}",
            ),
        )
    return version


def withdraw_version(
    db_session: Session, *, actor: Actor, version_id: int, reason: str = ""
) -> ResourceVersion:
    """Abandons a version that has not taken effect; a scheduled change is called off and
    its grant holders and subscribers told."""
    version = _version(db_session, actor, version_id)
    resource = version.resource
    _require_compiler(actor, resource, "撤回资源版本")
    if version.state not in PENDING_STATES:
        raise Conflict(f"{version.state.label}的版本不能撤回", field="version_id")
    was_scheduled = version.state is VersionState.SCHEDULED
    version.state = VersionState.WITHDRAWN
    version.updated_at = clock.now()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.version.withdraw",
        object_type="resource",
        object_id=resource.code,
        details={"version": version.number, "reason": reason, "was_scheduled": was_scheduled},
    )
    if was_scheduled:
        inbox.notify(
            db_session,
            user_ids=_users_told(db_session, resource),
            notice=inbox.Notice(
                "catalog.change",
                f"变更取消：{version.name}",
                f"原定于 {version.effective_on} 生效的第 {version.number} 版已撤回。",
                _link(resource),
            ),
        )
    return version


# --- review and publication ------------------------------------------------------------


def review_version(
    db_session: Session, *, actor: Actor, version_id: int, decision: ReviewIn, rules: Rules
) -> ResourceVersion:
    """The operator approves (publishing now, or scheduling a change with notice) or returns
    the version with reasons."""
    require(actor, Role.PLATFORM_OPERATOR, action="审核资源目录")
    version = _version(db_session, actor, version_id)
    resource = version.resource
    if version.state is not VersionState.SUBMITTED:
        raise Conflict(f"{version.state.label}的版本不在审核中", field="version_id")
    now, today = clock.now(), clock.today()
    version.reviewed_at, version.reviewed_by = now, actor.label
    version.review_comment = decision.comment or None
    provider_users = _provider_users(db_session, resource)
    if not decision.approve:
        if not decision.comment:
            raise Invalid("退回须写明理由", field="comment")
        version.state = VersionState.RETURNED
        db_session.flush()
        record(
            db_session,
            actor=actor,
            action="catalog.version.return",
            object_type="resource",
            object_id=resource.code,
            details={"version": version.number, "comment": decision.comment},
        )
        inbox.notify(
            db_session,
            user_ids=provider_users,
            notice=inbox.Notice(
                "catalog.review_result",
                f"已退回：{version.name}（第 {version.number} 版）",
                f"退回理由：{decision.comment}",
                f"{_link(resource)}/versions/{version.number}",
            ),
        )
        return version
    # Review confirms the rules again (CAT-4): the profile may have changed since submission.
    _fail(
        _problems_for(db_session, resource, VersionIn.model_validate(version_input(version)), rules)
    )
    months = rules.catalog_change_notice_months.value
    if resource.status is ResourceStatus.PUBLISHED and months > 0:
        version.effective_on = effective_date(today, months, version.requested_effective_on)
        version.state = VersionState.SCHEDULED
        db_session.flush()
        record(
            db_session,
            actor=actor,
            action="catalog.version.approve",
            object_type="resource",
            object_id=resource.code,
            details={
                "version": version.number,
                "effective_on": version.effective_on.isoformat(),
                "comment": decision.comment,
            },
        )
        inbox.notify(
            db_session,
            user_ids=_users_told(db_session, resource),
            notice=inbox.Notice(
                "catalog.change",
                f"变更预告：{version.name} 将于 {version.effective_on} 更新",
                version.change_note or "资源目录将更新为新版本，请关注信息项变化。",
                f"{_link(resource)}/versions/{version.number}",
            ),
        )
        inbox.notify(
            db_session,
            user_ids=provider_users,
            notice=inbox.Notice(
                "catalog.review_result",
                f"已通过：{version.name}（第 {version.number} 版）",
                f"按规定提前通知使用部门，将于 {version.effective_on} 生效。",
                f"{_link(resource)}/versions/{version.number}",
            ),
        )
        return version
    version.effective_on = today
    record(
        db_session,
        actor=actor,
        action="catalog.version.approve",
        object_type="resource",
        object_id=resource.code,
        details={
            "version": version.number,
            "effective_on": today.isoformat(),
            "comment": decision.comment,
        },
    )
    _publish(db_session, actor, version)
    inbox.notify(
        db_session,
        user_ids=provider_users,
        notice=inbox.Notice(
            "catalog.review_result",
            f"已通过并发布：{version.name}（第 {version.number} 版）",
            decision.comment,
            _link(resource),
        ),
    )
    return version


def _publish(
    db_session: Session,
    actor: Actor,
    version: ResourceVersion,
    on: date | None = None,
    **details: object,
) -> None:
    """Makes `version` the current one, published on `on` (default today)."""
    resource = version.resource
    previous = resource.current_version
    if previous is not None and previous.id != version.id:
        previous.state = VersionState.SUPERSEDED
    now, day = clock.now(), on or clock.today()
    version.state = VersionState.PUBLISHED
    version.published_at, version.published_on = now, day
    resource.current_version = version
    resource.status = ResourceStatus.PUBLISHED
    resource.first_published_on = resource.first_published_on or day
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.version.publish",
        object_type="resource",
        object_id=resource.code,
        details={
            "version": version.number,
            "previous": previous.number if previous else None,
            **details,
        },
    )
    _refresh_search(db_session, resource)
    if previous is not None:
        inbox.notify(
            db_session,
            user_ids=_users_told(db_session, resource),
            notice=inbox.Notice(
                "catalog.change",
                f"已更新：{version.name}（第 {version.number} 版生效）",
                version.change_note,
                f"{_link(resource)}/diff?a={previous.number}&b={version.number}",
            ),
        )


def _refresh_search(db_session: Session, resource: Resource) -> None:
    """Brings the search index in line with the resource's published state."""
    indexing.refresh(db_session, resource)


def publish_imported(
    db_session: Session, *, actor: Actor, version: ResourceVersion, on: date | None = None
) -> None:
    """Publishes a version imported by the operator from a catalog file, without review,
    on the publish date the file gives (operator only)."""
    require(actor, Role.PLATFORM_OPERATOR, action="导入并直接发布资源目录")
    version.reviewed_at, version.reviewed_by = clock.now(), actor.label
    version.review_comment = "导入目录时直接发布"
    version.effective_on = on or clock.today()
    _publish(db_session, actor, version, on=version.effective_on, imported=True)


# --- reading ---------------------------------------------------------------------------


def get_resource(db_session: Session, *, actor: Actor, resource_id: int) -> Resource:
    """One resource, if the actor may see it."""
    return _resource(db_session, actor, resource_id)


def get_resource_by_code(db_session: Session, *, actor: Actor, code: str) -> Resource:
    """One resource by its catalog code."""
    require(actor, *READERS, action="查看目录")
    found = db_session.execute(select(Resource.id).where(Resource.code == code)).scalar()
    if found is None:
        raise NotFound(f"资源代码 {code} 不存在", field="code")
    return _resource(db_session, actor, found)


def list_versions(db_session: Session, *, actor: Actor, resource_id: int) -> list[ResourceVersion]:
    """Every version the actor may see, newest first."""
    resource = _resource(db_session, actor, resource_id)
    stmt = select(ResourceVersion).where(ResourceVersion.resource_id == resource.id)
    if not can_see_unpublished(actor, resource):
        stmt = stmt.where(ResourceVersion.state.in_(VISIBLE_TO_ALL))
    return list(db_session.execute(stmt.order_by(ResourceVersion.number.desc())).scalars())


def get_version(
    db_session: Session, *, actor: Actor, resource_id: int, number: int
) -> ResourceVersion:
    """Version `number` of a resource."""
    resource = _resource(db_session, actor, resource_id)
    version_id = db_session.execute(
        select(ResourceVersion.id).where(
            ResourceVersion.resource_id == resource.id, ResourceVersion.number == number
        )
    ).scalar()
    if version_id is None:
        raise NotFound(f"资源 {resource.code} 没有第 {number} 版", field="number")
    return _version(db_session, actor, version_id)


def working_version(
    db_session: Session, *, actor: Actor, resource_id: int
) -> ResourceVersion | None:
    """The version in progress (draft, in review, scheduled), for its department."""
    resource = _resource(db_session, actor, resource_id)
    if not can_see_unpublished(actor, resource):
        return None
    return _pending_version(db_session, resource)
