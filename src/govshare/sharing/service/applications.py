"""Applications (共享申请, SHR-2/3) for conditional resources, and renewals of grants.

The consumer names the resource, purpose, system, fields, rows and period, attaches what its
profile requires, and accepts the use restrictions. The profile's day counts are copied onto
the application, so a later profile switch changes new applications only. The review chain
that follows — pre-review and the provider's decision — is in `decisions`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ShareType
from govshare.core import calendar as working_days
from govshare.core import clock, stored_documents
from govshare.core.audit.service import record
from govshare.core.documents import Document, check_document
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.core.policy import VALUE_LABELS, Profile
from govshare.core.policy import Attachment as AttachmentKind
from govshare.sharing.models import (
    Application,
    ApplicationKind,
    ApplicationState,
    ApplicationStep,
    Attachment,
    GrantState,
    StepKind,
    StepOutcome,
)
from govshare.sharing.schemas import (
    ApplicationIn,
    RenewalIn,
    Upload,
)
from govshare.sharing.service import deadlines, freshness, grants
from govshare.sharing.service.common import (
    ANSWERERS,
    APPLICANTS,
    READERS,
    check_fields,
    check_filter,
    check_period,
    dump_filter,
    item_names,
    next_number,
    oversees,
    party_to,
    shared_version,
)
from govshare.systems import service as systems_service

OPEN_STATES = (ApplicationState.PRE_REVIEW, ApplicationState.DECIDING, ApplicationState.RETURNED)


def link(application: Application) -> str:
    return f"/sharing/applications/{application.id}"


def _what(application: Application) -> str:
    return f"{application.number}（{application.consumer.name} 申请 {application.version.name}）"


def _notify_orgs(
    db_session: Session, org_ids: Sequence[int], kind: str, title: str, body: str, where: str
) -> None:
    inbox.notify(
        db_session,
        user_ids=inbox.recipients(db_session, organization_ids=org_ids),
        notice=inbox.Notice(kind, title, body, where),
    )


def _notify_operator(db_session: Session, title: str, body: str, where: str) -> None:
    inbox.notify(
        db_session,
        user_ids=inbox.recipients(db_session, roles=[Role.PLATFORM_OPERATOR]),
        notice=inbox.Notice("sharing.application", title, body, where),
    )


def check_uploads(uploads: Sequence[Upload], required: Sequence[str]) -> None:
    """Completeness (SHR-2): every attachment the profile requires, each a PDF or image."""
    for index, upload in enumerate(uploads):
        where = f"attachments[{index}]"
        if upload.kind not in {a.value for a in AttachmentKind}:
            raise Invalid(f"未知的附件类型“{upload.kind}”", field=where)
        document = Document(upload.filename, upload.content_type, upload.content)
        check_document(document, field=where, label=VALUE_LABELS[upload.kind])
    have = {u.kind for u in uploads}
    for kind in required:
        if kind not in have:
            raise Invalid(f"申请材料不完整：请上传{VALUE_LABELS[kind]}", field=f"attachment.{kind}")


def _store(
    db_session: Session, actor: Actor, application: Application, uploads: Sequence[Upload]
) -> None:
    for upload in uploads:
        db_session.add(
            Attachment(
                application_id=application.id,
                kind=upload.kind,
                **stored_documents.columns_of(upload, actor),
            )
        )


def _check_request(db_session: Session, available: list[str], data: ApplicationIn) -> list[str]:
    fields = check_fields(data.fields, available, "fields")
    check_filter(data.row_filter, available, "row_filter")
    check_period(data.valid_from, data.valid_until)
    return fields


def _start(
    db_session: Session,
    actor: Actor,
    application: Application,
    uploads: Sequence[Upload],
) -> None:
    """Stores attachments and plans the review steps from today."""
    _store(db_session, actor, application, uploads)
    calendar = working_days.load(db_session)
    first = len(application.steps) + 1
    for step in deadlines.plan(application, calendar, clock.today()):
        step.position += first - 1
        step.application_id = application.id
        db_session.add(step)
    db_session.flush()
    db_session.refresh(application, ["steps", "attachments"])


def _announce(db_session: Session, application: Application) -> None:
    step = deadlines.open_step(application)
    assert step is not None
    due = deadlines.deadline(step).label
    if step.kind is StepKind.PRE_REVIEW:
        _notify_operator(
            db_session,
            f"共享申请待预审：{application.number}",
            f"{_what(application)}，预审期限 {due}。",
            link(application),
        )
    else:
        _notify_orgs(
            db_session,
            [application.provider_id],
            "sharing.application",
            f"共享申请待答复：{application.number}",
            f"{_what(application)}，答复期限 {due}。",
            link(application),
        )


def _first_state(pre_review_days: int | None) -> ApplicationState:
    return ApplicationState.PRE_REVIEW if pre_review_days else ApplicationState.DECIDING


def _request_details(application: Application) -> dict[str, object]:
    """What was asked for and the deadlines it got: the audit entry of a (re)submission."""
    return {
        "purpose": application.purpose,
        "system_id": application.system_id,
        "system_name": application.system_name,
        "fields": application.fields,
        "row_filter": application.row_filter,
        "valid_from": application.valid_from.isoformat(),
        "valid_until": application.valid_until.isoformat(),
        "deadlines": {
            f"{s.position}.{s.kind.value}": s.due_on.isoformat()
            for s in application.steps
            if s.finished_at is None
        },
    }


def submit_application(
    db_session: Session,
    *,
    actor: Actor,
    profile: Profile,
    data: ApplicationIn,
    uploads: Sequence[Upload] = (),
) -> Application:
    """A consumer applies for a conditional resource; the application is checked for
    completeness and its review steps get their deadlines."""
    require(actor, *APPLICANTS, action="提出共享申请")
    org_id = own_organization(actor)
    resource, version = shared_version(db_session, actor, data.resource_id)
    if version.share_type is ShareType.UNCONDITIONAL:
        raise Conflict("无条件共享的资源无需申请，可直接获取", field="resource_id")
    if version.share_type is ShareType.NOT_SHARED:
        raise Conflict("不予共享的资源不能申请，可发起协调", field="resource_id")
    if resource.provider_id == org_id:
        raise Invalid("这是本单位提供的资源，无需申请", field="resource_id")
    rules = profile.rules
    freshness.require_not_restricted(db_session, rules, org_id)
    pending = db_session.execute(
        select(Application.number).where(
            Application.resource_id == resource.id,
            Application.consumer_id == org_id,
            Application.kind == ApplicationKind.NEW,
            Application.state.in_(OPEN_STATES),
        )
    ).scalar()
    if pending is not None:
        raise Conflict(f"本单位已有该资源的申请 {pending} 正在办理", field="resource_id")
    fields = _check_request(db_session, item_names(db_session, version.id), data)
    system = systems_service.system_for_use(
        db_session, actor=actor, organization_id=org_id, system_id=data.system_id
    )
    if not data.accept_restrictions:
        raise Invalid("请阅读并接受共享数据使用约定", field="accept_restrictions")
    required = [a.value for a in rules.application_attachments.value]
    check_uploads(uploads, required)
    application = Application(
        number=next_number(db_session, "SQ"),
        kind=ApplicationKind.NEW,
        resource_id=resource.id,
        version_id=version.id,
        consumer_id=org_id,
        provider_id=resource.provider_id,
        state=_first_state(rules.application_pre_review_days.value),
        purpose=data.purpose,
        system_id=system.id,
        system_name=system.name,
        fields=fields,
        row_filter=dump_filter(data.row_filter),
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        contact=data.contact,
        profile_code=profile.code,
        pre_review_days=rules.application_pre_review_days.value,
        decision_days=rules.application_decision_days.value,
        required_attachments=required,
        submitted_at=clock.now(),
        submitted_by=actor.label,
        submitted_by_user_id=actor.user_id,
    )
    db_session.add(application)
    db_session.flush()
    _start(db_session, actor, application, uploads)
    record(
        db_session,
        actor=actor,
        action="sharing.application.submit",
        object_type="application",
        object_id=application.id,
        details={
            "number": application.number,
            "resource": resource.code,
            "version": version.number,
            **_request_details(application),
            "profile": profile.code,
            "attachments": [a.sha256 for a in application.attachments],
        },
    )
    _announce(db_session, application)
    return application


def _visible(db_session: Session, actor: Actor, application_id: int) -> Application:
    require(actor, *READERS, action="查看共享申请")
    application = db_session.get(Application, application_id)
    if application is None or not (oversees(actor) or party_to(actor, application)):
        raise NotFound(f"共享申请 {application_id} 不存在", field="application_id")
    return application


def get_application(db_session: Session, *, actor: Actor, application_id: int) -> Application:
    """An application, for its two departments and those who oversee sharing."""
    return _visible(db_session, actor, application_id)


@dataclass(frozen=True)
class Permitted:
    """What the actor may do to an application now (the pages show only these forms); the
    functions below refuse the rest with the reason."""

    pre_review: bool
    decide: bool
    withdraw: bool
    resubmit: bool


def permitted(actor: Actor, application: Application) -> Permitted:
    step = deadlines.open_step(application)
    consumer = actor.has(*APPLICANTS) and actor.organization_id == application.consumer_id
    return Permitted(
        pre_review=step is not None
        and step.kind is StepKind.PRE_REVIEW
        and actor.has(Role.PLATFORM_OPERATOR),
        decide=step is not None
        and step.kind is StepKind.DECISION
        and actor.has(*ANSWERERS)
        and actor.organization_id == application.provider_id,
        withdraw=consumer and application.state in OPEN_STATES,
        resubmit=consumer and application.state is ApplicationState.RETURNED,
    )


def _finish(step: ApplicationStep, actor: Actor, outcome: StepOutcome, comment: str) -> None:
    step.finished_at, step.finished_on = clock.now(), clock.today()
    step.finished_by, step.outcome, step.comment = actor.label, outcome, comment or None


def _open_step(application: Application, kind: StepKind) -> ApplicationStep:
    step = deadlines.open_step(application)
    if step is None or step.kind is not kind:
        raise Conflict(f"申请{application.state.label}，当前不在{kind.label}环节", field="state")
    return step


def resubmit_application(
    db_session: Session,
    *,
    actor: Actor,
    application_id: int,
    data: ApplicationIn,
    uploads: Sequence[Upload] = (),
) -> Application:
    """The consumer corrects a returned application and submits it again; the review steps
    start anew from today with the day counts the application was submitted under."""
    require(actor, *APPLICANTS, action="重新提交共享申请")
    application = _visible(db_session, actor, application_id)
    if actor.organization_id != application.consumer_id:
        raise Forbidden("只有申请部门可以重新提交")
    if application.state is not ApplicationState.RETURNED:
        raise Conflict(f"申请{application.state.label}，不能重新提交", field="state")
    if data.resource_id != application.resource_id:
        raise Invalid("重新提交不能更换资源", field="resource_id")
    fields = _check_request(db_session, item_names(db_session, application.version_id), data)
    system = systems_service.system_for_use(
        db_session, actor=actor, organization_id=application.consumer_id, system_id=data.system_id
    )
    if not data.accept_restrictions:
        raise Invalid("请阅读并接受共享数据使用约定", field="accept_restrictions")
    stored = {a.kind for a in application.attachments}
    check_uploads(uploads, [k for k in application.required_attachments if k not in stored])
    application.purpose = data.purpose
    application.system_id, application.system_name = system.id, system.name
    application.fields, application.row_filter = fields, dump_filter(data.row_filter)
    application.valid_from, application.valid_until = data.valid_from, data.valid_until
    application.contact = data.contact
    application.state = _first_state(application.pre_review_days)
    application.submitted_at, application.submitted_by = clock.now(), actor.label
    _start(db_session, actor, application, uploads)
    record(
        db_session,
        actor=actor,
        action="sharing.application.resubmit",
        object_type="application",
        object_id=application.id,
        details={
            "number": application.number,
            **_request_details(application),
            "new_attachments": [hashlib.sha256(u.content).hexdigest() for u in uploads],
        },
    )
    _announce(db_session, application)
    return application


# How an open application ends without an answer: its state, its open steps' outcome, and
# the audited action.
_ENDINGS = {
    ApplicationState.WITHDRAWN: (StepOutcome.WITHDRAWN, "sharing.application.withdraw"),
    ApplicationState.CLOSED: (StepOutcome.CLOSED, "sharing.application.close"),
}


def _close(
    db_session: Session,
    actor: Actor,
    application: Application,
    state: ApplicationState,
    reason: str,
    *,
    told: Sequence[int],
    title: str,
) -> None:
    """Ends an open application without an answer (withdrawn, or closed by a retirement):
    its open steps finish with the reason, audited, the departments `told` notified."""
    outcome, action = _ENDINGS[state]
    for step in application.steps:
        if step.finished_at is None:
            _finish(step, actor, outcome, reason)
    application.state, application.closed_at = state, clock.now()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=action,
        object_type="application",
        object_id=application.id,
        details={"number": application.number, "reason": reason},
    )
    _notify_orgs(db_session, told, "sharing.application", title, reason, link(application))


def withdraw_application(
    db_session: Session, *, actor: Actor, application_id: int, reason: str = ""
) -> Application:
    """The consumer withdraws an application not yet answered."""
    require(actor, *APPLICANTS, action="撤回共享申请")
    application = _visible(db_session, actor, application_id)
    if actor.organization_id != application.consumer_id:
        raise Forbidden("只有申请部门可以撤回申请")
    if application.state not in OPEN_STATES:
        raise Conflict(f"申请{application.state.label}，不能撤回", field="state")
    _close(
        db_session,
        actor,
        application,
        ApplicationState.WITHDRAWN,
        reason,
        told=[application.provider_id],
        title=f"共享申请已撤回：{application.number}",
    )
    return application


def close_for_retirement(
    db_session: Session, *, actor: Actor, resource: Resource, reason: str
) -> list[Application]:
    """Closes (终止) every application still open on a resource whose retirement takes effect:
    nothing is left to grant (CAT-6), so none stays on a provider's list or runs to a deadline.
    Both departments are told why."""
    require(actor, Role.PLATFORM_OPERATOR, Role.SYSTEM, action="下架资源时终止共享申请")
    still_open = db_session.execute(
        select(Application)
        .where(Application.resource_id == resource.id, Application.state.in_(OPEN_STATES))
        .order_by(Application.id)
    ).scalars()
    closed = list(still_open)
    for application in closed:
        _close(
            db_session,
            actor,
            application,
            ApplicationState.CLOSED,
            reason,
            told=[application.consumer_id, application.provider_id],
            title=f"共享申请已终止：{application.number}",
        )
    return closed


def request_renewal(
    db_session: Session, *, actor: Actor, profile: Profile, grant_id: int, data: RenewalIn
) -> Application:
    """The consumer asks to extend a grant; the provider answers it like an application,
    within the same profile deadlines. The scope stays the grant's."""
    require(actor, *APPLICANTS, action="申请授权续期")
    grant = grants.get_grant(db_session, actor=actor, grant_id=grant_id)
    if actor.organization_id != grant.consumer_id:
        raise Forbidden("只有使用部门可以申请续期")
    if grant.state is GrantState.ENDED:
        raise Conflict("授权已终止，请重新申请", field="grant_id")
    if grant.valid_until is None:
        raise Conflict("该授权长期有效，无需续期", field="grant_id")
    if data.valid_until <= grant.valid_until:
        raise Invalid(f"续期后的截止日期须晚于现在的 {grant.valid_until}", field="valid_until")
    rules = profile.rules
    freshness.require_not_restricted(db_session, rules, grant.consumer_id)
    pending = db_session.execute(
        select(Application.number).where(
            Application.renews_grant_id == grant.id, Application.state.in_(OPEN_STATES)
        )
    ).scalar()
    if pending is not None:
        raise Conflict(f"该授权的续期申请 {pending} 正在办理", field="grant_id")
    application = Application(
        number=next_number(db_session, "SQ"),
        kind=ApplicationKind.RENEWAL,
        resource_id=grant.resource_id,
        version_id=grant.version_id,
        consumer_id=grant.consumer_id,
        provider_id=grant.provider_id,
        renews_grant_id=grant.id,
        state=_first_state(rules.application_pre_review_days.value),
        purpose=f"{grant.purpose}\n续期理由：{data.reason}",
        system_id=grant.system_id,
        system_name=grant.system_name,
        fields=grant.fields,
        row_filter=grant.row_filter,
        valid_from=grant.valid_from,
        valid_until=data.valid_until,
        profile_code=profile.code,
        pre_review_days=rules.application_pre_review_days.value,
        decision_days=rules.application_decision_days.value,
        required_attachments=[],  # the grant's own application carried them
        submitted_at=clock.now(),
        submitted_by=actor.label,
        submitted_by_user_id=actor.user_id,
    )
    db_session.add(application)
    db_session.flush()
    _start(db_session, actor, application, ())
    record(
        db_session,
        actor=actor,
        action="sharing.application.renew",
        object_type="application",
        object_id=application.id,
        details={
            "number": application.number,
            "grant": grant.number,
            "valid_until": data.valid_until.isoformat(),
            "reason": data.reason,
            "profile": profile.code,
        },
    )
    _announce(db_session, application)
    return application


def get_attachment(db_session: Session, *, actor: Actor, attachment_id: int) -> Attachment:
    """An attached document with its content; reading it is logged."""
    attachment = db_session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(f"附件 {attachment_id} 不存在", field="attachment_id")
    _visible(db_session, actor, attachment.application_id)
    record(
        db_session,
        actor=actor,
        action="sharing.attachment.read",
        object_type="application",
        object_id=attachment.application_id,
        details={"attachment_id": attachment.id, "sha256": attachment.sha256},
    )
    return attachment


def period_default(today: date | None = None) -> tuple[date, date]:
    """The period a new application form proposes: from today for one year."""
    start = today or clock.today()
    return start, date(start.year + 1, start.month, min(start.day, 28))
