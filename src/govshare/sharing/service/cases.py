"""Coordination cases (协调, SHR-4: SY§21(3), BZ§17).

A consumer department opens a case for a not-shared (不予共享) resource, or after its
application was refused. Consumer and provider negotiate on the platform with the platform
operator mediating; a case they cannot settle the operator escalates to the authority
(主管部门). The operator — or, once escalated, the authority — records the outcome: no
agreement closes the case; an agreed provision is filed with the authority (备案, with a
filing number) and produces a grant with exactly the settled scope. The consumer accepts the
use restrictions when it opens the case, so the grant carries that acceptance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from govshare.catalog.models import ShareType
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.core.policy import Profile
from govshare.sharing.models import (
    ApplicationState,
    Case,
    CaseMessage,
    CaseOrigin,
    CaseParty,
    CaseState,
    Grant,
    GrantSource,
)
from govshare.sharing.schemas import (
    TEXT_MAX,
    CaseIn,
    CaseMessageOut,
    CaseOut,
    MessageIn,
    ScopeIn,
    SettlementIn,
)
from govshare.sharing.service import applications, grants
from govshare.sharing.service.common import (
    APPLICANTS,
    READERS,
    check_fields,
    check_filter,
    check_masking,
    check_period,
    dump_filter,
    dump_masking,
    item_names,
    next_number,
    oversees,
    party_to,
    shared_version,
)
from govshare.systems import service as systems_service

OPEN_STATES = (CaseState.NEGOTIATING, CaseState.ESCALATED)
NOTICE_KIND = "sharing.case"
TITLE_MAX = 200  # Notification.title


def link(case: Case) -> str:
    return f"/sharing/cases/{case.id}"


def _what(case: Case) -> str:
    return f"{case.number}（{case.consumer.name} 与 {case.provider.name}：{case.subject}）"


@dataclass(frozen=True)
class Permitted:
    """What the actor may do to a case now (the pages show only these forms)."""

    party: CaseParty | None  # the side the actor speaks for in the negotiation
    message: bool
    escalate: bool
    settle: bool


def permitted(actor: Actor, case: Case) -> Permitted:
    """The actor's part in `case` and what it allows in the case's current state."""
    party: CaseParty | None = None
    if actor.has(*APPLICANTS) and actor.organization_id == case.consumer_id:
        party = CaseParty.CONSUMER
    elif actor.has(*APPLICANTS) and actor.organization_id == case.provider_id:
        party = CaseParty.PROVIDER
    elif actor.has(Role.PLATFORM_OPERATOR):
        party = CaseParty.OPERATOR
    elif actor.has(Role.AUTHORITY) and case.state is CaseState.ESCALATED:
        party = CaseParty.AUTHORITY
    open_ = case.state in OPEN_STATES
    operator = actor.has(Role.PLATFORM_OPERATOR)
    authority = actor.has(Role.AUTHORITY) and case.state is CaseState.ESCALATED
    return Permitted(
        party=party,
        message=open_ and party is not None,
        escalate=operator and case.state is CaseState.NEGOTIATING,
        settle=open_ and (operator or authority),
    )


def _notify(
    db_session: Session,
    actor: Actor,
    case: Case,
    *,
    organization_ids: Iterable[int] = (),
    roles: Iterable[Role] = (),
    title: str,
    body: str = "",
) -> None:
    """Tells the departments' people and the role holders, never the actor themself."""
    users = inbox.recipients(db_session, organization_ids=organization_ids, roles=roles)
    users -= {actor.user_id}
    if len(title) > TITLE_MAX:  # a long subject must not break the notice
        title = title[: TITLE_MAX - 1] + "…"
    inbox.notify(
        db_session, user_ids=users, notice=inbox.Notice(NOTICE_KIND, title, body, link(case))
    )


def _visible(db_session: Session, actor: Actor, case_id: int) -> Case:
    require(actor, *READERS, action="查看协调事项")
    case = db_session.get(Case, case_id)
    if case is None or not (oversees(actor) or party_to(actor, case)):
        raise NotFound(f"协调事项 {case_id} 不存在", field="case_id")
    return case


def _require_open(case: Case, doing: str) -> None:
    if case.state not in OPEN_STATES:
        raise Conflict(f"协调事项{case.state.label}，不能{doing}", field="state")


def open_case(db_session: Session, *, actor: Actor, data: CaseIn) -> Case:
    """The consumer department opens a case for a not-shared resource or a refused
    application; the provider and the operator are told."""
    require(actor, *APPLICANTS, action="发起协调")
    org_id = own_organization(actor)
    application = None
    if data.application_id is not None:
        where = "application_id"
        application = applications.get_application(
            db_session, actor=actor, application_id=data.application_id
        )
        if application.consumer_id != org_id:
            raise Forbidden("只有申请部门可以就被拒绝的申请发起协调")
        if application.state is not ApplicationState.REFUSED:
            raise Conflict(
                f"申请 {application.number} {application.state.label}，"
                "只有被拒绝的申请可以发起协调",
                field=where,
            )
        resource, version = shared_version(db_session, actor, application.resource_id, where)
        origin = CaseOrigin.REFUSED
    else:
        where = "resource_id"
        assert data.resource_id is not None  # CaseIn asks for exactly one of the two
        resource, version = shared_version(db_session, actor, data.resource_id, where)
        if version.share_type is not ShareType.NOT_SHARED:
            how = (
                "可直接获取"
                if version.share_type is ShareType.UNCONDITIONAL
                else "请提出共享申请；申请被拒绝后可发起协调"
            )
            raise Conflict(f"“{version.name}”为{version.share_type.label}资源，{how}", field=where)
        if resource.provider_id == org_id:
            raise Invalid("这是本单位提供的资源，无需协调", field=where)
        origin = CaseOrigin.NOT_SHARED
    pending = db_session.execute(
        select(Case).where(
            Case.consumer_id == org_id,
            Case.resource_id == resource.id,
            Case.state.in_(OPEN_STATES),
        )
    ).scalar()
    if pending is not None:
        raise Conflict(
            f"本单位已有该资源的协调事项 {pending.number} 正在办理",
            field=where,
            case_id=pending.id,
        )
    if not data.accept_restrictions:
        raise Invalid("请阅读并接受共享数据使用约定", field="accept_restrictions")
    case = Case(
        number=next_number(db_session, "XT"),
        origin=origin,
        resource_id=resource.id,
        consumer_id=org_id,
        provider_id=resource.provider_id,
        application_id=application.id if application else None,
        state=CaseState.NEGOTIATING,
        subject=data.subject or version.name,
        request=data.request,
        opened_at=clock.now(),
        opened_by=actor.label,
    )
    db_session.add(case)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="sharing.case.open",
        object_type="case",
        object_id=case.id,
        details={
            "number": case.number,
            "origin": origin.value,
            "resource": resource.code,
            "version": version.number,
            "application": application.number if application else None,
            "subject": case.subject,
            "request": case.request,
            "restrictions_accepted": True,
        },
    )
    body = f"{case.origin.label}：{version.name}。诉求：{case.request}"
    _notify(
        db_session,
        actor,
        case,
        organization_ids=[case.provider_id],
        title=f"协调事项待协商：{_what(case)}",
        body=body,
    )
    _notify(
        db_session,
        actor,
        case,
        roles=[Role.PLATFORM_OPERATOR],
        title=f"新的协调事项待组织协商：{_what(case)}",
        body=body,
    )
    return case


def post_message(
    db_session: Session, *, actor: Actor, case_id: int, data: MessageIn
) -> CaseMessage:
    """A contribution to the negotiation, by a party to it; the other parties are told."""
    require(
        actor, *APPLICANTS, Role.PLATFORM_OPERATOR, Role.AUTHORITY, action="在协调事项中发表意见"
    )
    case = _visible(db_session, actor, case_id)
    _require_open(case, "再发表意见")
    party = permitted(actor, case).party
    if party is None:
        if actor.has(Role.AUTHORITY):
            raise Forbidden("协调事项提请主管部门协调后，主管部门方可发表意见")
        raise Forbidden("只有协调双方和平台管理单位可以发表意见")
    message = CaseMessage(
        case_id=case.id,
        party=party,
        body=data.body,
        created_at=clock.now(),
        created_by=actor.label,
    )
    db_session.add(message)
    db_session.flush()
    db_session.refresh(case, ["messages"])
    record(
        db_session,
        actor=actor,
        action="sharing.case.message",
        object_type="case",
        object_id=case.id,
        details={"number": case.number, "party": party.value, "body": data.body},
    )
    others = [
        org_id
        for org_id, side in (
            (case.consumer_id, CaseParty.CONSUMER),
            (case.provider_id, CaseParty.PROVIDER),
        )
        if side is not party
    ]
    roles = [Role.PLATFORM_OPERATOR] if party is not CaseParty.OPERATOR else []
    if case.state is CaseState.ESCALATED and party is not CaseParty.AUTHORITY:
        roles.append(Role.AUTHORITY)
    _notify(
        db_session,
        actor,
        case,
        organization_ids=others,
        roles=roles,
        title=f"协调事项有新意见：{case.number}",
        body=f"{party.label}：{data.body}",
    )
    return message


def escalate_case(db_session: Session, *, actor: Actor, case_id: int, reason: str) -> Case:
    """The operator refers a case the parties cannot settle to the authority, saying why;
    the reason joins the negotiation thread."""
    require(actor, Role.PLATFORM_OPERATOR, action="提请主管部门协调")
    case = _visible(db_session, actor, case_id)
    if case.state is not CaseState.NEGOTIATING:
        raise Conflict(f"协调事项{case.state.label}，不能提请主管部门协调", field="state")
    reason = reason.strip()
    if not reason:
        raise Invalid("请说明提请主管部门协调的理由（双方分歧所在）", field="reason")
    if len(reason) > TEXT_MAX:
        raise Invalid(f"理由不能超过 {TEXT_MAX} 字", field="reason")
    now = clock.now()
    case.state, case.escalated_at, case.escalated_by = CaseState.ESCALATED, now, actor.label
    db_session.add(
        CaseMessage(
            case_id=case.id,
            party=CaseParty.OPERATOR,
            body=f"提请主管部门协调。理由：{reason}",
            created_at=now,
            created_by=actor.label,
        )
    )
    db_session.flush()
    db_session.refresh(case, ["messages"])
    record(
        db_session,
        actor=actor,
        action="sharing.case.escalate",
        object_type="case",
        object_id=case.id,
        details={"number": case.number, "reason": reason},
    )
    _notify(
        db_session,
        actor,
        case,
        roles=[Role.AUTHORITY],
        title=f"协调事项提请主管部门协调：{_what(case)}",
        body=f"平台管理单位意见：{reason}",
    )
    _notify(
        db_session,
        actor,
        case,
        organization_ids=[case.consumer_id, case.provider_id],
        title=f"协调事项已提请主管部门协调：{case.number}",
        body=f"理由：{reason}",
    )
    return case


def _provide(
    db_session: Session, actor: Actor, profile: Profile, case: Case, scope: ScopeIn
) -> Grant:
    """Checks the agreed scope against the resource as published now, files the provision
    (备案) and issues its grant with exactly this scope."""
    resource, version = shared_version(db_session, actor, case.resource_id)
    available = item_names(db_session, version.id)
    fields = check_fields(scope.fields, available, "scope.fields")
    check_filter(scope.row_filter, available, "scope.row_filter")
    check_masking(scope.masking, fields, "scope.masking")
    check_period(scope.valid_from, scope.valid_until, "scope.valid_until")
    system = systems_service.system_for_use(
        db_session,
        actor=actor,
        organization_id=case.consumer_id,
        system_id=scope.system_id,
        field="scope.system_id",
    )
    case.filing_number = next_number(db_session, "BA")
    return grants.issue(
        db_session,
        actor=actor,
        rules=profile.rules,
        source=GrantSource.COORDINATION,
        resource=resource,
        version=version,
        consumer_id=case.consumer_id,
        fields=fields,
        row_filter=scope.row_filter,
        masking=scope.masking,
        purpose=scope.purpose,
        system_id=system.id,
        system_name=system.name,
        conditions=scope.conditions,
        valid_from=scope.valid_from,
        valid_until=scope.valid_until,
        accepted_at=case.opened_at,
        accepted_by=case.opened_by,
        case_id=case.id,
    )


def settle_case(
    db_session: Session, *, actor: Actor, profile: Profile, case_id: int, data: SettlementIn
) -> Case:
    """Records the outcome: no agreement closes the case; an agreed provision is filed with
    the authority and produces the grant. The operator settles, or the authority once the
    case is escalated to it."""
    require(actor, Role.PLATFORM_OPERATOR, Role.AUTHORITY, action="协调事项结案")
    case = _visible(db_session, actor, case_id)
    _require_open(case, "再次结案")
    if not permitted(actor, case).settle:
        raise Forbidden("协调事项尚未提请主管部门协调，由平台管理单位结案")
    grant = None
    if data.agreed:
        assert data.scope is not None  # SettlementIn asks for it
        grant = _provide(db_session, actor, profile, case, data.scope)
        case.state, case.grant_id = CaseState.AGREED, grant.id
    else:
        if data.scope is not None:
            raise Invalid("未达成一致的，不填写提供范围", field="scope")
        case.state = CaseState.CLOSED
    case.outcome, case.closed_at, case.closed_by = data.outcome, clock.now(), actor.label
    db_session.flush()
    scope = data.scope
    record(
        db_session,
        actor=actor,
        action="sharing.case.settle",
        object_type="case",
        object_id=case.id,
        details={
            "number": case.number,
            "agreed": data.agreed,
            "outcome": data.outcome,
            "filing_number": case.filing_number,
            "grant": grant.number if grant else None,
            "grant_id": grant.id if grant else None,
            "fields": grant.fields if grant else None,
            "row_filter": dump_filter(scope.row_filter) if scope else None,
            "masking": dump_masking(scope.masking) if scope else None,
            "valid_from": scope.valid_from.isoformat() if scope else None,
            "valid_until": scope.valid_until.isoformat() if scope else None,
            "escalated": case.escalated_at is not None,
        },
    )
    if grant is not None:
        _notify(
            db_session,
            actor,
            case,
            roles=[Role.AUTHORITY],
            title=f"协调达成一致备案：{case.filing_number}",
            body=(
                f"{_what(case)}达成一致，备案号 {case.filing_number}，"
                f"生成授权 {grant.number}。结果：{data.outcome}"
            ),
        )
        title = f"协调事项已达成一致并备案：{case.number}"
        body = f"备案号 {case.filing_number}，授权编号 {grant.number}。{data.outcome}"
    else:
        if case.escalated_at is not None:
            _notify(
                db_session,
                actor,
                case,
                roles=[Role.AUTHORITY],
                title=f"协调事项未达成一致，已结案：{case.number}",
                body=data.outcome,
            )
        title, body = f"协调事项未达成一致，已结案：{case.number}", data.outcome
    _notify(
        db_session,
        actor,
        case,
        organization_ids=[case.consumer_id, case.provider_id],
        roles=[] if actor.has(Role.PLATFORM_OPERATOR) else [Role.PLATFORM_OPERATOR],
        title=title,
        body=body,
    )
    return case


def get_case(db_session: Session, *, actor: Actor, case_id: int) -> Case:
    """A case, for its two departments and those who oversee sharing."""
    return _visible(db_session, actor, case_id)


def list_cases(db_session: Session, *, actor: Actor, open_only: bool = False) -> list[Case]:
    """Every case for those who oversee sharing; a department's own, as consumer or
    provider, for its people. Newest first."""
    require(actor, *READERS, action="查看协调事项")
    stmt = select(Case)
    if not oversees(actor):
        org_id = own_organization(actor)
        stmt = stmt.where(or_(Case.consumer_id == org_id, Case.provider_id == org_id))
    if open_only:
        stmt = stmt.where(Case.state.in_(OPEN_STATES))
    return list(db_session.execute(stmt.order_by(Case.id.desc())).scalars())


def case_out(case: Case) -> CaseOut:
    version = case.resource.current_version
    return CaseOut(
        id=case.id,
        number=case.number,
        origin=case.origin.value,
        origin_label=case.origin.label,
        state=case.state.value,
        state_label=case.state.label,
        resource_id=case.resource_id,
        resource_code=case.resource.code,
        resource_name=version.name if version else case.subject,
        consumer_id=case.consumer_id,
        consumer=case.consumer.name,
        provider_id=case.provider_id,
        provider=case.provider.name,
        application_id=case.application_id,
        subject=case.subject,
        request=case.request,
        opened_at=case.opened_at,
        opened_by=case.opened_by,
        escalated_at=case.escalated_at,
        escalated_by=case.escalated_by,
        outcome=case.outcome,
        closed_at=case.closed_at,
        closed_by=case.closed_by,
        filing_number=case.filing_number,
        grant_id=case.grant_id,
        messages=[message_out(m) for m in case.messages],
    )


def message_out(message: CaseMessage) -> CaseMessageOut:
    return CaseMessageOut(
        party=message.party,
        party_label=message.party.label,
        body=message.body,
        created_at=message.created_at,
        created_by=message.created_by,
    )
