"""Compile, review, publish, version and retire resources (CAT-1 … CAT-4, CAT-6, CAT-7).

A department compiles a draft, its data officer or head submits it, the operator approves or
returns it with reasons. The first version is published on approval; a later version of a
published resource, and a retirement, take effect on a date at least the profile's notice
period ahead (SR§9), every department holding a grant on it and every subscriber hearing of
it at once; `apply_due_changes` (a daily job) makes them effective on that date, never
earlier, and a version is published on its effective date. A retirement that takes effect
ends the resource's grants with its reason. Published versions are never edited.
"""

from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare.catalog import synonyms
from govshare.catalog.models import (
    LABELS,
    CatalogKind,
    CodeCounter,
    DataItem,
    OpenType,
    Resource,
    ResourceStatus,
    ResourceVersion,
    RetirementState,
    ShareMethod,
    ShareType,
    Subscription,
    Theme,
    VersionState,
)
from govshare.catalog.schemas import ResourceIn, RetirementIn, ReviewIn, VersionIn
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import VALUE_LABELS, BaseTopic, Rules
from govshare.identity.models import Organization
from govshare.sharing.models import Grant, GrantState

COMPILERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF)
SUBMITTERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD)
READERS = (*COMPILERS, Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR, Role.SYSTEM)
CLASS_CODES = {CatalogKind.BASE: "1", CatalogKind.THEME: "2", CatalogKind.DEPARTMENT: "3"}
OPEN_STATES = (VersionState.DRAFT, VersionState.SUBMITTED, VersionState.RETURNED)
PENDING_STATES = (*OPEN_STATES, VersionState.SCHEDULED)
VISIBLE_TO_ALL = (VersionState.PUBLISHED, VersionState.SUPERSEDED, VersionState.SCHEDULED)

# The fields a version carries, in the order pages and diffs show them, with their labels.
VERSION_FIELDS: dict[str, str] = {
    "name": "资源名称",
    "summary": "资源摘要",
    "format": "资源格式",
    "format_detail": "格式细类",
    "share_type": "共享类型",
    "share_conditions": "共享条件",
    "legal_basis": "不予共享或有条件共享依据",
    "share_scope": "共享范围",
    "share_methods": "共享方式",
    "offline_reason": "线下共享原因",
    "update_frequency": "更新周期",
    "timeliness": "时效要求",
    "open_type": "开放属性",
    "open_conditions": "开放条件",
    "domain": "所属领域",
    "related_codes": "关联资源",
}
ITEM_FIELDS = {
    "data_type": "数据类型",
    "length": "长度",
    "description": "描述",
    "personal": "个人信息",
}


# --- helpers -----------------------------------------------------------------------------


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


def _is_operator(actor: Actor) -> bool:
    return actor.has(Role.PLATFORM_OPERATOR)


def _is_provider_staff(actor: Actor, resource: Resource) -> bool:
    return actor.has(*COMPILERS) and actor.organization_id == resource.provider_id


def can_see_unpublished(actor: Actor, resource: Resource) -> bool:
    """Drafts are seen by their department and the operator only."""
    return _is_operator(actor) or _is_provider_staff(actor, resource)


def may_submit(actor: Actor, resource: Resource) -> bool:
    """Whether the actor may send the resource's versions to review or ask for its retirement:
    what commits the department is for its data officer or head (or the operator), never for
    any of its staff. One rule for both, so the page and the services cannot drift apart."""
    return _is_operator(actor) or (
        actor.has(*SUBMITTERS) and actor.organization_id == resource.provider_id
    )


def _require_compiler(actor: Actor, resource: Resource, action: str) -> None:
    if not (_is_operator(actor) or _is_provider_staff(actor, resource)):
        raise Forbidden(f"只有资源提供部门或平台管理单位可以{action}")


def _resource(db_session: Session, actor: Actor, resource_id: int) -> Resource:
    require(actor, *READERS, action="查看目录")
    resource = db_session.get(Resource, resource_id)
    if resource is None or (
        resource.status is ResourceStatus.DRAFT and not can_see_unpublished(actor, resource)
    ):
        raise NotFound(f"资源 {resource_id} 不存在", field="resource_id")
    return resource


def _version(db_session: Session, actor: Actor, version_id: int) -> ResourceVersion:
    require(actor, *READERS, action="查看目录")
    version = db_session.get(ResourceVersion, version_id)
    if version is None or (
        version.state not in VISIBLE_TO_ALL and not can_see_unpublished(actor, version.resource)
    ):
        raise NotFound(f"资源版本 {version_id} 不存在", field="version_id")
    return version


def _fail(problems: list[tuple[str, str]]) -> None:
    if problems:
        field_name, message = problems[0]
        raise Invalid(
            message,
            field=field_name,
            errors=[{"field": f, "message": m} for f, m in problems],
        )


def rule_problems(
    db_session: Session,
    *,
    kind: CatalogKind,
    data: VersionIn,
    rules: Rules,
    base_topic: str | None = None,
) -> list[tuple[str, str]]:
    """Every rule `data` breaks, as (field, message): CAT-4, SR§8 and the format rules."""
    problems: list[tuple[str, str]] = []
    share = data.share_type
    if kind is CatalogKind.BASE:
        topics = [t.value for t in rules.accepted_base_topics()]
        if base_topic not in topics:
            labels = "、".join(LABELS_TOPIC.get(t, t) for t in topics)
            problems.append(("base_topic", f"基础信息资源须选择基础目录主题（{labels}）"))
        if share is not ShareType.UNCONDITIONAL:
            problems.append(("share_type", "基础信息资源的信息项必须无条件共享"))
    if share is not ShareType.UNCONDITIONAL and not data.legal_basis:
        problems.append(("legal_basis", f"{share.label}须注明法律、行政法规或国家、省政策依据"))
    if share is ShareType.CONDITIONAL and not data.share_conditions:
        problems.append(("share_conditions", "有条件共享须写明共享条件"))
    if data.open_type is not OpenType.NOT_OPEN and share is not ShareType.UNCONDITIONAL:
        problems.append(("share_type", "列入开放的资源，对政务部门须无条件共享"))
    if data.open_type is OpenType.CONDITIONAL and not data.open_conditions:
        problems.append(("open_conditions", "有条件开放须写明开放条件"))
    if ShareMethod.OFFLINE in data.share_methods and not data.offline_reason:
        problems.append(("offline_reason", "通过邮件或介质共享属例外，须说明原因"))
    if data.format.value in ("database", "spreadsheet") and not data.items:
        problems.append(("items", f"{data.format.label}类资源至少登记一个信息项"))
    seen: dict[str, str] = {}
    for position, item in enumerate(data.items, start=1):
        key = synonyms.normalize(item.name)
        if key in seen:
            problems.append((f"items.{position}.name", f"信息项“{item.name}”重复"))
        seen[key] = item.name
    for code in data.related_codes:
        if db_session.execute(select(Resource.id).where(Resource.code == code)).first() is None:
            problems.append(("related_codes", f"关联资源代码“{code}”不存在"))
    return problems


LABELS_TOPIC = {t.value: VALUE_LABELS[t.value] for t in BaseTopic}  # 基础目录主题


def next_sequence(db_session: Session, prefix: str) -> int:
    """The next number under `prefix`, from a locked counter: numbers are never reused.
    Resource codes use classification prefixes; other domains their own (e.g. SQ2026)."""
    counter = db_session.execute(
        select(CodeCounter).where(CodeCounter.prefix == prefix).with_for_update()
    ).scalar_one_or_none()
    if counter is None:
        counter = CodeCounter(prefix=prefix, last=0)
        db_session.add(counter)
    counter.last += 1
    db_session.flush()
    return counter.last


def _next_code(db_session: Session, prefix: str) -> str:
    return f"{prefix}/{next_sequence(db_session, prefix):06d}"


def _fill(db_session: Session, version: ResourceVersion, data: VersionIn) -> None:
    for name in VERSION_FIELDS:
        value = getattr(data, name)
        if name == "share_methods":
            value = [m.value for m in value]
        setattr(version, name, value)
    version.change_note = data.change_note
    version.narrowing_justification = data.narrowing_justification
    version.requested_effective_on = data.requested_effective_on
    if version.id is not None and version.items:
        version.items.clear()  # old rows go before new ones take their positions
        db_session.flush()
    version.items = [
        DataItem(
            position=i,
            name=item.name,
            normalized=synonyms.normalize(item.name),
            data_type=item.data_type,
            length=item.length,
            description=item.description,
            personal=item.personal,
        )
        for i, item in enumerate(data.items, start=1)
    ]


def version_input(version: ResourceVersion) -> dict[str, Any]:
    """A version's fields as a VersionIn-shaped dict (to prefill forms and copy versions)."""
    out: dict[str, Any] = {name: getattr(version, name) for name in VERSION_FIELDS}
    out["items"] = [
        {
            "name": i.name,
            "data_type": i.data_type,
            "length": i.length,
            "description": i.description,
            "personal": i.personal,
        }
        for i in version.items
    ]
    out["change_note"] = version.change_note
    out["narrowing_justification"] = version.narrowing_justification
    out["requested_effective_on"] = version.requested_effective_on
    return out


def _snapshot(version: ResourceVersion) -> dict[str, Any]:
    data = version_input(version)
    data["items"] = [{**i, "data_type": str(i["data_type"])} for i in data["items"]]
    return {k: (str(v) if hasattr(v, "value") else v) for k, v in data.items() if k != "items"} | {
        "items": [i["name"] for i in data["items"]]
    }


def _provider_users(db_session: Session, resource: Resource) -> set[int]:
    return inbox.recipients(db_session, organization_ids=[resource.provider_id])


def _users_told(db_session: Session, resource: Resource) -> set[int]:
    """Who hears of a change or retirement (CAT-6, SR§9 通知信息资源使用部门): the people of
    every department holding a grant on the resource (not ended), and of every subscriber."""
    subscribers = db_session.execute(
        select(Subscription.organization_id).where(Subscription.resource_id == resource.id)
    ).scalars()
    holders = db_session.execute(
        select(Grant.consumer_id).where(
            Grant.resource_id == resource.id, Grant.state != GrantState.ENDED
        )
    ).scalars()
    return inbox.recipients(db_session, organization_ids={*subscribers, *holders})


def _link(resource: Resource) -> str:
    return f"/catalog/resources/{resource.id}"


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


def _problems_for(
    db_session: Session, resource: Resource, data: VersionIn, rules: Rules
) -> list[tuple[str, str]]:
    return rule_problems(
        db_session,
        kind=resource.catalog_kind,
        data=data,
        rules=rules,
        base_topic=resource.base_topic,
    )


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


def narrowing_reasons(previous: ResourceVersion, new: ResourceVersion) -> list[str]:
    """How `new` narrows an unconditionally shared `previous` (SY§32(1)), in words."""
    if previous.share_type is not ShareType.UNCONDITIONAL:
        return []
    reasons = []
    if new.share_type is not ShareType.UNCONDITIONAL:
        reasons.append(f"共享类型由无条件共享改为{new.share_type.label}")
    removed = [
        i.name for i in previous.items if i.normalized not in {n.normalized for n in new.items}
    ]
    if removed:
        reasons.append("删除信息项：" + "、".join(removed))
    return reasons


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
    from govshare.catalog.service import search

    search.refresh(db_session, resource)


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


# --- retirement ------------------------------------------------------------------------


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
    """The retirement takes effect: the resource leaves the catalog, its grants end with the
    retirement's reason (each consumer told), and every data path refuses it (CAT-6)."""
    from govshare.sharing.service import grants  # sharing builds on the catalog services

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
