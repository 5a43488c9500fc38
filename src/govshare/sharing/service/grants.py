"""Grants (授权, SHR-1/3/5): the one record of what a consumer may use, from its issue to
its end; every data path enforces it through `access.check_access`.

A grant comes from direct access to an unconditional resource (the whole resource, no
review), an approved application, or an agreed coordination case. Its consumer accepts the
use restrictions when it is created. The provider or the operator can suspend it for misuse
(with a reason, reported to the authority) — access stops at once — resume it, or end it;
an approved renewal extends it. When a resource's retirement takes effect its grants end
with the retirement's reason (CAT-6). The feedback on a grant's use is `feedback`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceStatus, ResourceVersion, ShareType
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.core.policy import Rules
from govshare.sharing.models import (
    USE_RESTRICTIONS,
    Grant,
    GrantAction,
    GrantActionKind,
    GrantSource,
    GrantState,
)
from govshare.sharing.schemas import (
    Condition,
    DirectAccessIn,
    GrantActionIn,
    GrantOut,
    Mask,
)
from govshare.sharing.service import freshness
from govshare.sharing.service.common import (
    ANSWERERS,
    CONSUMERS,
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
from govshare.systems import service as systems_service


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
    system_id: int,
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
        system_id=system_id,
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
    system = systems_service.system_for_use(
        db_session, actor=actor, organization_id=org_id, system_id=data.system_id
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
        system_id=system.id,
        system_name=system.name,
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
        system_id=grant.system_id,
        system_name=grant.system_name,
        conditions=grant.conditions,
        valid_from=grant.valid_from,
        valid_until=grant.valid_until,
        state_reason=grant.state_reason,
        restrictions=list(USE_RESTRICTIONS),
        restrictions_accepted_at=grant.restrictions_accepted_at,
        restrictions_accepted_by=grant.restrictions_accepted_by,
    )
