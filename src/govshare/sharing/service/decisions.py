"""The review chain of an application (SHR-2/3): the operator's pre-review where the profile
has one (SR§14), forwarding or returning it; the provider's decision — a refusal with reason
and legal or policy basis, or an approval that may narrow fields, rows and period, mask
fields, state conditions and, for a resource with a registered service interface, name the
endpoints the consumer may call and a rate limit. An approval produces the grant (or extends
the grant being renewed).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import Profile
from govshare.exchange.service import interfaces
from govshare.sharing.models import (
    Application,
    ApplicationKind,
    ApplicationState,
    Grant,
    GrantSource,
    GrantState,
    StepKind,
    StepOutcome,
)
from govshare.sharing.schemas import (
    DecisionIn,
    PreReviewIn,
)
from govshare.sharing.service import deadlines, freshness, grants
from govshare.sharing.service.applications import (
    _announce,
    _finish,
    _notify_orgs,
    _open_step,
    _visible,
    link,
)
from govshare.sharing.service.common import (
    ANSWERERS,
    check_fields,
    check_filter,
    check_masking,
    check_narrower_filter,
    check_period,
    item_names,
    load_filter,
)


def pre_review(
    db_session: Session, *, actor: Actor, application_id: int, data: PreReviewIn
) -> Application:
    """The operator's pre-review (SR§14): forward to the provider, whose deadline starts
    today, or return to the consumer with what to correct."""
    require(actor, Role.PLATFORM_OPERATOR, action="预审共享申请")
    application = _visible(db_session, actor, application_id)
    step = _open_step(application, StepKind.PRE_REVIEW)
    if not data.forward and not data.comment:
        raise Invalid("退回补正须说明需要补正的内容", field="comment")
    if data.forward:
        _finish(step, actor, StepOutcome.FORWARDED, data.comment)
        decision = next(s for s in application.steps if s.position == step.position + 1)
        deadlines.start(decision, working_days.load(db_session), clock.today())
        application.state = ApplicationState.DECIDING
    else:
        _finish(step, actor, StepOutcome.RETURNED, data.comment)
        for later in application.steps:
            if later.position > step.position and later.finished_at is None:
                _finish(later, actor, StepOutcome.RETURNED, "")
        application.state = ApplicationState.RETURNED
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="sharing.application.pre_review",
        object_type="application",
        object_id=application.id,
        details={
            "number": application.number,
            "forward": data.forward,
            "comment": data.comment,
            "late": step.finished_on > step.due_on if step.finished_on else False,
        },
    )
    if data.forward:
        _announce(db_session, application)
    else:
        _notify_orgs(
            db_session,
            [application.consumer_id],
            "sharing.application",
            f"共享申请被退回补正：{application.number}",
            f"平台管理单位预审意见：{data.comment}",
            link(application),
        )
    return application


def _gateway_terms(
    db_session: Session, actor: Actor, application: Application, data: DecisionIn
) -> tuple[list[str], int | None]:
    """The endpoints (in the interface's order) and rate limit an approval grants; both need
    the resource's registered service interface, and the endpoints must be its own."""
    if not data.endpoints and data.rate_limit is None:
        return [], None
    offered = interfaces.endpoints_of_resource(
        db_session, actor=actor, resource_id=application.resource_id
    )
    if offered is None:
        if data.endpoints:
            raise Invalid("该资源没有登记服务接口，不能选择可调用的接口", field="endpoints")
        raise Invalid("该资源没有登记服务接口，不能设置调用频率上限", field="rate_limit")
    signatures = [e.signature for e in offered]
    unknown = [s for s in data.endpoints if s not in signatures]
    if unknown:
        raise Invalid(
            f"可调用的接口不在该资源登记的服务接口中：{'、'.join(unknown)}", field="endpoints"
        )
    return [s for s in signatures if s in data.endpoints], data.rate_limit


def _approve(
    db_session: Session, actor: Actor, profile: Profile, application: Application, data: DecisionIn
) -> Grant:
    available = item_names(db_session, application.version_id)
    asked = application.fields if data.fields is None else data.fields
    fields = check_fields(asked, available, "fields")
    beyond = [f for f in fields if f not in application.fields]
    if beyond:
        raise Invalid(f"批准的信息项不能超出申请：{'、'.join(beyond)}", field="fields")
    requested_filter = load_filter(application.row_filter)
    row_filter = requested_filter if data.row_filter is None else data.row_filter
    check_filter(row_filter, available, "row_filter")
    check_narrower_filter(row_filter, requested_filter, "row_filter")
    check_masking(data.masking, fields, "masking")
    valid_from = data.valid_from or application.valid_from
    valid_until = data.valid_until or application.valid_until
    if valid_from < application.valid_from:
        raise Invalid(f"使用期限不能早于申请的 {application.valid_from}", field="valid_from")
    if valid_until > application.valid_until:
        raise Invalid(f"使用期限不能晚于申请的 {application.valid_until}", field="valid_until")
    check_period(valid_from, valid_until)
    if application.kind is ApplicationKind.RENEWAL:  # the grant's scope stays as it is
        grant = db_session.get(Grant, application.renews_grant_id)
        assert grant is not None
        if grant.state is GrantState.ENDED:
            raise Conflict("原授权已终止，不能续期", field="application_id")
        freshness.require_not_restricted(db_session, profile.rules, application.consumer_id)
        grants.extend(db_session, actor=actor, grant=grant, valid_until=valid_until)
    else:
        endpoints, rate_limit = _gateway_terms(db_session, actor, application, data)
        grant = grants.issue(
            db_session,
            actor=actor,
            rules=profile.rules,
            source=GrantSource.APPLICATION,
            resource=application.resource,
            version=application.version,
            consumer_id=application.consumer_id,
            fields=fields,
            row_filter=row_filter,
            masking=data.masking,
            purpose=application.purpose,
            system_id=application.system_id,
            system_name=application.system_name,
            conditions=data.conditions,
            valid_from=valid_from,
            valid_until=valid_until,
            accepted_at=application.submitted_at,
            accepted_by=application.submitted_by,
            application_id=application.id,
            endpoints=endpoints,
            rate_limit=rate_limit,
        )
    application.grant_id = grant.id
    application.conditions = data.conditions or None
    return grant


def decide(
    db_session: Session, *, actor: Actor, profile: Profile, application_id: int, data: DecisionIn
) -> Application:
    """The provider's answer (答复). A refusal without reason or basis is refused (SHR-2)."""
    require(actor, *ANSWERERS, action="答复共享申请")
    application = _visible(db_session, actor, application_id)
    if actor.organization_id != application.provider_id:
        raise Forbidden("只有资源提供部门可以答复共享申请")
    step = _open_step(application, StepKind.DECISION)
    grant: Grant | None = None
    if not data.approve:
        if not data.reason:
            raise Invalid("不予共享须说明理由", field="reason")
        if not data.basis:
            raise Invalid("不予共享须写明法律或政策依据", field="basis")
        application.state = ApplicationState.REFUSED
        _finish(step, actor, StepOutcome.REFUSED, data.reason)
    else:
        grant = _approve(db_session, actor, profile, application, data)
        application.state = ApplicationState.APPROVED
        _finish(step, actor, StepOutcome.APPROVED, data.conditions)
    application.decided_by, application.closed_at = actor.label, clock.now()
    application.decision_reason, application.decision_basis = (
        data.reason or None,
        data.basis or None,
    )
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="sharing.application.decide",
        object_type="application",
        object_id=application.id,
        details={
            "number": application.number,
            "approve": data.approve,
            "reason": data.reason,
            "basis": data.basis,
            "conditions": data.conditions,
            "grant_id": application.grant_id,
            "endpoints": grant.endpoints if grant else None,
            "rate_limit": grant.rate_limit if grant else None,
            "late": bool(step.finished_on and step.finished_on > step.due_on),
        },
    )
    if data.approve:
        title = f"共享申请已同意：{application.number}"
        body = f"{application.version.name}已授权" + (
            f"，附加条件：{data.conditions}" if data.conditions else ""
        )
    else:
        title = f"共享申请不予同意：{application.number}"
        body = f"理由：{data.reason}；依据：{data.basis}。如有异议，可发起协调。"
    _notify_orgs(
        db_session, [application.consumer_id], "sharing.application", title, body, link(application)
    )
    return application
