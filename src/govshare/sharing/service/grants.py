"""Grants (授权, SHR-1/3/5/7): the one record of what a consumer may use, which every data
path enforces through `check_access`.

A grant comes from direct access to an unconditional resource (the whole resource, no
review), an approved application, or an agreed coordination case. Its consumer accepts the
use restrictions when it is created. The provider or the operator can suspend it for misuse
(with a reason, reported to the authority) — access stops at once — resume it, or end it.
When a resource's retirement takes effect its grants end with the retirement's reason, and
`check_access` refuses the retired resource whatever a grant says (CAT-6).
Consumers report the effect of their use; providers see who uses their data and how.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, func, select, true
from sqlalchemy.orm import Session, lazyload

from govshare.catalog.models import Resource, ResourceStatus, ResourceVersion, ShareType
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.core.policy import Rules
from govshare.sharing.models import (
    USE_RESTRICTIONS,
    Feedback,
    Grant,
    GrantAction,
    GrantActionKind,
    GrantSource,
    GrantState,
)
from govshare.sharing.schemas import (
    Condition,
    DirectAccessIn,
    FeedbackIn,
    GrantActionIn,
    GrantOut,
    Mask,
)
from govshare.sharing.service import freshness
from govshare.sharing.service.common import (
    ANSWERERS,
    APPLICANTS,
    OVERSEERS,
    READERS,
    dump_filter,
    dump_masking,
    item_names,
    next_number,
    oversees,
    party_to,
    retired_reason,
    shared_version,
)

CONSUMERS = (*APPLICANTS, Role.SYSTEM)  # a department's system may take unconditional data


def link(grant: Grant) -> str:
    return f"/sharing/grants/{grant.id}"


def status_label(grant: Grant, today: date) -> str:
    """The grant's state as the consumer experiences it today."""
    if grant.state is not GrantState.ACTIVE:
        return grant.state.label
    if grant.expired(today):
        return "已过期"
    if grant.valid_from > today:
        return "未到生效日期"
    return grant.state.label


def _authority_users(db_session: Session) -> set[int]:
    return inbox.recipients(db_session, roles=[Role.AUTHORITY])


def issue(
    db_session: Session,
    *,
    actor: Actor,
    rules: Rules,
    source: GrantSource,
    resource: Resource,
    version: ResourceVersion,
    consumer_id: int,
    fields: Sequence[str],
    purpose: str,
    system_name: str,
    valid_from: date,
    valid_until: date | None,
    accepted_at: datetime,
    accepted_by: str,
    whole_resource: bool = False,
    row_filter: Sequence[Condition] = (),
    masking: Sequence[Mask] = (),
    conditions: str = "",
    application_id: int | None = None,
    case_id: int | None = None,
    endpoints: Sequence[str] = (),
    rate_limit: int | None = None,
) -> Grant:
    """Creates a grant with exactly the scope given; the callers have checked it. A consumer
    held back as a stale provider (SHR-6) gets none, nor does anyone on a resource no longer
    published (an application answered after its resource was retired)."""
    if resource.status is not ResourceStatus.PUBLISHED:
        refusal = (
            retired_reason(resource.retirement_reason)
            if resource.status is ResourceStatus.RETIRED
            else "资源尚未发布"
        )
        raise Conflict(f"{refusal}，不能再授权", field="resource_id")
    freshness.require_not_restricted(db_session, rules, consumer_id)
    now = clock.now()
    grant = Grant(
        number=next_number(db_session, "SG"),
        source=source,
        resource_id=resource.id,
        version_id=version.id,
        consumer_id=consumer_id,
        provider_id=resource.provider_id,
        application_id=application_id,
        case_id=case_id,
        whole_resource=whole_resource,
        fields=list(fields),
        row_filter=dump_filter(row_filter),
        masking=dump_masking(masking),
        endpoints=list(endpoints),
        rate_limit=rate_limit,
        purpose=purpose,
        system_name=system_name,
        conditions=conditions,
        valid_from=valid_from,
        valid_until=valid_until,
        state=GrantState.ACTIVE,
        restrictions_accepted_at=accepted_at,
        restrictions_accepted_by=accepted_by,
        created_at=now,
        created_by=actor.label,
    )
    db_session.add(grant)
    db_session.flush()
    db_session.add(
        GrantAction(grant_id=grant.id, kind=GrantActionKind.CREATE, at=now, by=actor.label)
    )
    record(
        db_session,
        actor=actor,
        action="sharing.grant.issue",
        object_type="grant",
        object_id=grant.id,
        details={
            "number": grant.number,
            "source": source.value,
            "resource": resource.code,
            "version": version.number,
            "consumer_id": consumer_id,
            "whole_resource": whole_resource,
            "fields": grant.fields,
            "row_filter": grant.row_filter,
            "masking": grant.masking,
            "endpoints": grant.endpoints,
            "rate_limit": grant.rate_limit,
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat() if valid_until else None,
            "application_id": application_id,
            "case_id": case_id,
        },
    )
    inbox.notify(
        db_session,
        user_ids=inbox.recipients(db_session, organization_ids=[consumer_id]),
        notice=inbox.Notice(
            "sharing.grant",
            f"已获得授权：{version.name}",
            f"授权编号 {grant.number}（{source.label}），请在授权范围内使用并遵守使用约定。",
            link(grant),
        ),
    )
    return grant


def request_direct_access(
    db_session: Session, *, actor: Actor, rules: Rules, data: DirectAccessIn
) -> Grant:
    """An unconditional resource, on request, without review (SHR-1): the whole resource."""
    require(actor, *CONSUMERS, action="获取共享资源")
    org_id = own_organization(actor)
    resource, version = shared_version(db_session, actor, data.resource_id)
    if version.share_type is not ShareType.UNCONDITIONAL:
        raise Conflict(
            f"“{version.name}”为{version.share_type.label}资源，须提出申请", field="resource_id"
        )
    if resource.provider_id == org_id:
        raise Invalid("这是本单位提供的资源，无需获取授权", field="resource_id")
    if not data.accept_restrictions:
        raise Invalid("请阅读并接受共享数据使用约定", field="accept_restrictions")
    existing = db_session.execute(
        select(Grant).where(
            Grant.resource_id == resource.id,
            Grant.consumer_id == org_id,
            Grant.source == GrantSource.DIRECT,
            Grant.state != GrantState.ENDED,
        )
    ).scalar()
    if existing is not None:
        raise Conflict(
            f"本单位已有该资源的授权 {existing.number}（{status_label(existing, clock.today())}）",
            field="resource_id",
            grant_id=existing.id,
        )
    now = clock.now()
    return issue(
        db_session,
        actor=actor,
        rules=rules,
        source=GrantSource.DIRECT,
        resource=resource,
        version=version,
        consumer_id=org_id,
        whole_resource=True,
        fields=item_names(db_session, version.id),
        purpose=data.purpose,
        system_name=data.system_name,
        valid_from=clock.today(),
        valid_until=None,
        accepted_at=now,
        accepted_by=actor.label,
    )


def _visible(db_session: Session, actor: Actor, grant_id: int) -> Grant:
    require(actor, *READERS, Role.SYSTEM, action="查看授权")
    grant = db_session.get(Grant, grant_id)
    if grant is None or not (oversees(actor) or party_to(actor, grant)):
        raise NotFound(f"授权 {grant_id} 不存在", field="grant_id")
    return grant


def get_grant(db_session: Session, *, actor: Actor, grant_id: int) -> Grant:
    """A grant, for its consumer, its provider and those who oversee sharing."""
    return _visible(db_session, actor, grant_id)


def _manage(db_session: Session, actor: Actor, grant_id: int, action: str) -> Grant:
    require(actor, *ANSWERERS, Role.PLATFORM_OPERATOR, action=action)
    grant = _visible(db_session, actor, grant_id)
    if not (actor.has(Role.PLATFORM_OPERATOR) or actor.organization_id == grant.provider_id):
        raise Forbidden(f"只有资源提供部门或平台管理单位可以{action}")
    return grant


def _act(
    db_session: Session,
    actor: Actor,
    grant: Grant,
    kind: GrantActionKind,
    data: GrantActionIn,
    **details: Any,
) -> None:
    db_session.add(
        GrantAction(
            grant_id=grant.id,
            kind=kind,
            reason=data.reason,
            reported_to_authority=data.report_to_authority,
            at=clock.now(),
            by=actor.label,
            details=details,
        )
    )
    db_session.flush()
    db_session.expire(grant, ["actions"])
    record(
        db_session,
        actor=actor,
        action=f"sharing.grant.{kind.value}",
        object_type="grant",
        object_id=grant.id,
        details={
            "number": grant.number,
            "reason": data.reason,
            "reported_to_authority": data.report_to_authority,
            **details,
        },
    )
    title = f"{kind.label}：{grant.version.name}（{grant.number}）"
    body = f"原因：{data.reason}"
    inbox.notify(
        db_session,
        user_ids=inbox.recipients(db_session, organization_ids=[grant.consumer_id]),
        notice=inbox.Notice("sharing.grant", title, body, link(grant)),
    )
    if data.report_to_authority:
        inbox.notify(
            db_session,
            user_ids=_authority_users(db_session),
            notice=inbox.Notice(
                "sharing.report",
                f"违规使用报告：{grant.consumer.name} — {title}",
                f"{grant.provider.name}报告。{body}",
                link(grant),
            ),
        )


def suspend_grant(
    db_session: Session, *, actor: Actor, grant_id: int, data: GrantActionIn
) -> Grant:
    """Stops use at once for misuse (SHR-5, SY§22), with the reason; reported to the authority."""
    grant = _manage(db_session, actor, grant_id, "暂停授权")
    if grant.state is not GrantState.ACTIVE:
        raise Conflict(f"授权{grant.state.label}，不能暂停", field="grant_id")
    grant.state, grant.state_reason = GrantState.SUSPENDED, data.reason
    _act(db_session, actor, grant, GrantActionKind.SUSPEND, data)
    return grant


def resume_grant(db_session: Session, *, actor: Actor, grant_id: int, data: GrantActionIn) -> Grant:
    """Lets a suspended grant be used again, recording why."""
    grant = _manage(db_session, actor, grant_id, "恢复授权")
    if grant.state is not GrantState.SUSPENDED:
        raise Conflict(f"授权{grant.state.label}，无需恢复", field="grant_id")
    grant.state, grant.state_reason = GrantState.ACTIVE, None
    _act(db_session, actor, grant, GrantActionKind.RESUME, data)
    return grant


def end_grant(db_session: Session, *, actor: Actor, grant_id: int, data: GrantActionIn) -> Grant:
    """Ends a grant for good (misuse, or the need has gone); it cannot be resumed."""
    require(actor, *ANSWERERS, Role.PLATFORM_OPERATOR, action="终止授权")
    grant = _visible(db_session, actor, grant_id)
    if not (actor.has(Role.PLATFORM_OPERATOR) or party_to(actor, grant)):
        raise Forbidden("只有授权双方或平台管理单位可以终止授权")
    if grant.state is GrantState.ENDED:
        raise Conflict("授权已终止", field="grant_id")
    grant.state, grant.state_reason = GrantState.ENDED, data.reason
    _act(db_session, actor, grant, GrantActionKind.END, data)
    return grant


def end_for_retirement(db_session: Session, *, actor: Actor, resource: Resource) -> list[Grant]:
    """Ends every grant on a resource whose retirement takes effect (CAT-6, SR§9), the
    retirement's reason recorded on each and its consumer told (the catalog's daily job, or
    the operator approving a retirement without notice period)."""
    require(actor, Role.PLATFORM_OPERATOR, Role.SYSTEM, action="下架资源时终止授权")
    reason = retired_reason(resource.retirement_reason)
    held = db_session.execute(
        select(Grant)
        .where(Grant.resource_id == resource.id, Grant.state != GrantState.ENDED)
        .order_by(Grant.id)
    ).scalars()
    ended = list(held)
    for grant in ended:
        grant.state, grant.state_reason = GrantState.ENDED, reason
        _act(
            db_session,
            actor,
            grant,
            GrantActionKind.END,
            GrantActionIn(reason=reason, report_to_authority=False),
            retirement=True,
        )
    return ended


def extend(db_session: Session, *, actor: Actor, grant: Grant, valid_until: date) -> None:
    """An approved renewal moves the grant's end date (called by the application's decision)."""
    previous = grant.valid_until
    grant.valid_until, grant.expiry_notified_on = valid_until, None
    db_session.add(
        GrantAction(
            grant_id=grant.id,
            kind=GrantActionKind.RENEW,
            reason="续期申请获批",
            at=clock.now(),
            by=actor.label,
            details={
                "previous_until": previous.isoformat() if previous else None,
                "valid_until": valid_until.isoformat(),
            },
        )
    )
    db_session.flush()
    db_session.expire(grant, ["actions"])
    record(
        db_session,
        actor=actor,
        action="sharing.grant.renew",
        object_type="grant",
        object_id=grant.id,
        details={
            "number": grant.number,
            "previous_until": previous.isoformat() if previous else None,
            "valid_until": valid_until.isoformat(),
        },
    )


@dataclass(frozen=True)
class AccessDecision:
    """The answer every data path asks for: may this department use this resource now?"""

    allowed: bool
    grant: Grant | None
    reason: str


@dataclass(frozen=True)
class GrantTerms:
    """The columns of a grant a single data call needs, as plain values: what
    `check_call_access` reads instead of loading the ORM grant. The rules are the model's."""

    id: int
    number: str
    state: GrantState
    state_reason: str | None
    valid_from: date
    valid_until: date | None
    endpoints: list[str]
    rate_limit: int | None

    expired = Grant.expired
    usable = Grant.usable


@dataclass(frozen=True)
class CallAccess:
    """`check_call_access`'s answer: an `AccessDecision` that carries the grant's terms."""

    allowed: bool
    grant: GrantTerms | None
    reason: str


_Held = TypeVar("_Held", Grant, GrantTerms)


def _decide_access(grants: Sequence[_Held], today: date) -> tuple[bool, _Held | None, str]:
    """The usable grant among the consumer's grants (newest first), else why there is none."""
    usable = next((g for g in grants if g.usable(today)), None)
    if usable is not None:
        return True, usable, "授权有效"
    if not grants:
        return False, None, "本单位没有该资源的共享授权，请先申请"
    latest = grants[0]
    if latest.state is GrantState.SUSPENDED:
        reason = f"授权 {latest.number} 已被暂停使用：{latest.state_reason}"
    elif latest.state is GrantState.ENDED:
        reason = f"授权 {latest.number} 已终止：{latest.state_reason}"
    elif latest.expired(today):
        reason = f"授权 {latest.number} 已于 {latest.valid_until} 到期，请申请续期"
    else:
        reason = f"授权 {latest.number} 自 {latest.valid_from} 起生效"
    return False, latest, reason


def _record_access(
    db_session: Session,
    actor: Actor,
    resource_id: int,
    decision: AccessDecision | CallAccess,
) -> None:
    record(
        db_session,
        actor=actor,
        action="sharing.grant.access",
        object_type="resource",
        object_id=resource_id,
        details={
            "allowed": decision.allowed,
            "grant": decision.grant.number if decision.grant else None,
            "reason": decision.reason,
        },
    )


def check_access(db_session: Session, *, actor: Actor, resource_id: int) -> AccessDecision:
    """The consumer's usable grant for the resource, or why there is none; logged either way.
    The caller refuses the data when `allowed` is false, after this entry is committed."""
    require(actor, *CONSUMERS, action="使用共享数据")
    org_id = own_organization(actor)
    grants = list(
        db_session.execute(
            select(Grant)
            .where(Grant.resource_id == resource_id, Grant.consumer_id == org_id)
            .order_by(Grant.id.desc())
            # On every data call: load a relationship only if the caller touches it (the
            # model's eager loads serve the pages and would cost more than the check).
            .options(lazyload("*"))
        ).scalars()
    )
    retired = db_session.execute(
        select(Resource.retirement_reason).where(
            Resource.id == resource_id, Resource.status == ResourceStatus.RETIRED
        )
    ).first()
    if retired is not None:  # whatever a grant says: its resource is gone (CAT-6)
        decision = AccessDecision(False, grants[0] if grants else None, retired_reason(retired[0]))
    else:
        decision = AccessDecision(*_decide_access(grants, clock.today()))
    _record_access(db_session, actor, resource_id, decision)
    return decision


_GRANT = Grant.__table__.c
# Built once: a statement object keeps its compiled form's cache key between calls.
_TERMS = (
    select(*(_GRANT[name] for name in GrantTerms.__dataclass_fields__))
    .where(
        _GRANT.resource_id == bindparam("resource_id"),
        _GRANT.consumer_id == bindparam("consumer_id"),
    )
    .order_by(_GRANT.id.desc())
)


def check_call_access(db_session: Session, *, actor: Actor, resource_id: int) -> CallAccess:
    """`check_access` for a path that asks on every call (the gateway): the same rules, the
    same audit entry, read with one Core query; the grant comes back as its terms."""
    require(actor, *CONSUMERS, action="使用共享数据")
    org_id = own_organization(actor)
    # On the session's connection: Session.execute's hooks would cost more than the query.
    rows = db_session.connection().execute(
        _TERMS, {"resource_id": resource_id, "consumer_id": org_id}
    )
    grants = [GrantTerms(*row) for row in rows]
    decision = CallAccess(*_decide_access(grants, clock.today()))
    _record_access(db_session, actor, resource_id, decision)
    return decision


def my_grants(db_session: Session, *, actor: Actor) -> list[Grant]:
    """The grants the actor's department holds, newest first."""
    require(actor, *READERS, Role.SYSTEM, action="查看授权")
    org_id = own_organization(actor)
    return list(
        db_session.execute(
            select(Grant).where(Grant.consumer_id == org_id).order_by(Grant.id.desc())
        ).scalars()
    )


def all_grants(db_session: Session, *, actor: Actor) -> list[Grant]:
    """Every grant on the platform, newest first, for those who oversee sharing."""
    require(actor, *OVERSEERS, action="查看全部授权")
    return list(db_session.execute(select(Grant).order_by(Grant.id.desc())).scalars())


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


def _endpoints_label(grant: Grant) -> str:
    return "、".join(grant.endpoints) if grant.endpoints else "全部"


def _rate_limit_label(grant: Grant, default: int | None) -> str:
    if grant.rate_limit is not None:
        return f"每分钟 {grant.rate_limit} 次"
    return f"每分钟 {default} 次（平台默认）" if default is not None else "平台默认"


def grant_out(grant: Grant, *, default_rate_limit: int | None = None) -> GrantOut:
    """The grant as the API and the pages show it; `default_rate_limit` is the platform's
    (settings.gateway_rate_limit), named where the grant sets none."""
    today = clock.today()
    return GrantOut(
        id=grant.id,
        number=grant.number,
        source=grant.source.value,
        state=grant.state.value,
        status_label=status_label(grant, today),
        usable=grant.usable(today),
        resource_id=grant.resource_id,
        resource_code=grant.resource.code,
        resource_name=grant.version.name,
        version=grant.version.number,
        consumer=grant.consumer.name,
        provider=grant.provider.name,
        whole_resource=grant.whole_resource,
        fields=grant.fields,
        row_filter=grant.row_filter,
        masking=grant.masking,
        endpoints=list(grant.endpoints),
        endpoints_label=_endpoints_label(grant),
        rate_limit=grant.rate_limit,
        rate_limit_label=_rate_limit_label(grant, default_rate_limit),
        purpose=grant.purpose,
        system_name=grant.system_name,
        conditions=grant.conditions,
        valid_from=grant.valid_from,
        valid_until=grant.valid_until,
        state_reason=grant.state_reason,
        restrictions=list(USE_RESTRICTIONS),
        restrictions_accepted_at=grant.restrictions_accepted_at,
        restrictions_accepted_by=grant.restrictions_accepted_by,
    )
