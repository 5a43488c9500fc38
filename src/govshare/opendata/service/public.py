"""The public's applications for conditional open data (有条件开放申请, OPN-2, SR§22), on
the platform's side.

Citizens and organisations apply on the portal; the platform reads the submitted
applications from the portal database (`receive`, as a gatekeeper carries requests inward),
numbers them, sets the answer deadline — the profile's working days from the day of
submission (Shangrao: 20, SR§22 "自收到申请之日起 20 个工作日内") — writes that back for the
applicant to see, and tells the provider. The provider answers (`answer`): an approval names
the fields and how long the applicant may use them; a refusal gives its reasons and the legal
and policy basis (法律政策依据), without which it is refused. `deliver` writes answers back to
the portal, with the entitlement an approval gives that applicant alone. Overdue applications
are listed for the operator (`list_applications(overdue=True)`).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource
from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox.service import Notice, notify, recipients
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import Rules
from govshare.opendata.models import PublicApplication, PublicApplicationState
from govshare.opendata.service import inbound
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalApplication, PortalEntitlement

PROVIDERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD)
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
MAX_VALIDITY_DAYS = 366 * 3


class PublicAnswerIn(BaseModel):
    """The provider's answer to an application for conditional open data. A missing part is
    an error on its own field (`valid_until`, `answer`, `legal_basis`), as forms show it."""

    model_config = ConfigDict(str_strip_whitespace=True)

    approve: bool
    answer: str = Field(default="", max_length=4000, validate_default=True)  # terms, or reasons
    legal_basis: str = Field(default="", max_length=2000, validate_default=True)  # 法律政策依据
    fields: list[str] = Field(default_factory=list, max_length=500)  # approval: fields given
    valid_until: date | None = Field(default=None, validate_default=True)

    @field_validator("answer")
    @classmethod
    def _reasons(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("approve") is False and len(value) < 4:
            raise ValueError("不同意开放须说明理由（至少 4 个字）")
        return value

    @field_validator("legal_basis")
    @classmethod
    def _basis(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("approve") is False and len(value) < 4:
            raise ValueError("不同意开放须写明法律政策依据（至少 4 个字）")
        return value

    @field_validator("valid_until")
    @classmethod
    def _validity(cls, value: date | None, info: ValidationInfo) -> date | None:
        if info.data.get("approve") and value is None:
            raise ValueError("同意开放须填写使用期限")
        return value


def _link(application: PublicApplication) -> str:
    return f"/opendata/applications/{application.id}"


def receive(
    db_session: Session, *, actor: Actor, portal: PortalDatabase, rules: Rules
) -> list[PublicApplication]:
    """Read the portal's submitted applications into the platform, set their deadlines, and
    mark them accepted on the portal. Idempotent: an application is read once."""
    # Deliberately a scan of the portal's unanswered applications: a handful a day.
    require(actor, Role.PLATFORM_OPERATOR, Role.SYSTEM, action="受理开放申请")
    portal.ensure_schema()
    days = rules.open_application_answer_days.value
    calendar = working_days.load(db_session)
    now = clock.now()
    received = []
    with portal.session() as ps:
        waiting = inbound.waiting(ps, PortalApplication)
        for submitted in waiting:
            existing = inbound.already_read(db_session, PublicApplication, submitted.id)
            if existing is None:
                resource = db_session.get(Resource, submitted.dataset_id)
                if resource is None:
                    continue  # a dataset the platform no longer knows; removed at publication
                due = calendar.add_working_days(clock.to_city(submitted.submitted_at).date(), days)
                account = submitted.account
                existing = PublicApplication(
                    portal_id=submitted.id,
                    number=inbound.number(db_session, "KF", now),
                    resource_id=resource.id,
                    applicant_kind=account.kind,
                    applicant_name=account.name,
                    applicant_code=account.id_number or account.credit_code or "",
                    applicant_mobile=account.mobile,
                    purpose=submitted.purpose,
                    usage=submitted.usage,
                    fields=list(submitted.fields),
                    submitted_at=submitted.submitted_at,
                    received_at=now,
                    due_on=due.on,
                    due_provisional=due.provisional,
                    state=PublicApplicationState.PENDING,
                    granted_fields=[],
                )
                db_session.add(existing)
                db_session.flush()
                record(
                    db_session,
                    actor=actor,
                    action="opendata.application.receive",
                    object_type="public_application",
                    object_id=existing.id,
                    details={
                        "number": existing.number,
                        "resource": resource.code,
                        "due_on": due.on.isoformat(),
                        "working_days": days,
                    },
                )
                notify(
                    db_session,
                    user_ids=recipients(db_session, organization_ids=[resource.provider_id]),
                    notice=Notice(
                        kind="opendata.application.received",
                        title=f"开放申请待答复：{existing.number}",
                        body=f"{existing.applicant_name}申请有条件开放数据，"
                        f"请于 {due.label} 前答复。",
                        link=_link(existing),
                    ),
                )
                received.append(existing)
            if submitted.state == "accepted" and submitted.number == existing.number:
                continue
            submitted.state = "accepted"
            submitted.number = existing.number
            submitted.accepted_at = now
            submitted.due_on = existing.due_on
            submitted.due_provisional = existing.due_provisional
            submitted.due_working_days = days
    return received


def may_answer(actor: Actor, application: PublicApplication) -> bool:
    """Whether the actor may answer the application now: the provider's data officer or
    head, while it waits for its answer (the page asks, so it cannot drift from `answer`)."""
    return (
        application.state is PublicApplicationState.PENDING
        and actor.has(*PROVIDERS)
        and actor.organization_id == application.resource.provider_id
    )


def is_overdue(application: PublicApplication, today: date | None = None) -> bool:
    """Unanswered after its last allowed day (as `list_applications(overdue=True)` selects)."""
    return application.state is PublicApplicationState.PENDING and application.due_on < (
        today or clock.today()
    )


def _application(db_session: Session, actor: Actor, application_id: int) -> PublicApplication:
    require(actor, *PROVIDERS, *OVERSEERS, Role.DEPARTMENT_STAFF, action="查看开放申请")
    application = db_session.get(PublicApplication, application_id)
    if application is None or not (
        actor.has(*OVERSEERS) or actor.organization_id == application.resource.provider_id
    ):
        raise NotFound(f"开放申请 {application_id} 不存在", field="application_id")
    return application


def answer(
    db_session: Session, *, actor: Actor, application_id: int, data: PublicAnswerIn
) -> PublicApplication:
    """The provider's answer; the portal shows it at the next delivery (`deliver`)."""
    application = _application(db_session, actor, application_id)
    if not (actor.has(*PROVIDERS) and actor.organization_id == application.resource.provider_id):
        raise Forbidden("只有资源提供部门的数据专员或负责人可以答复开放申请")
    if application.state is not PublicApplicationState.PENDING:
        raise Conflict(f"开放申请已答复（{application.state.label}）", field="application_id")
    if data.approve:
        granted = data.fields or list(application.fields)
        if extra := [f for f in granted if f not in application.fields]:
            raise Invalid(f"同意开放的信息项“{extra[0]}”不在申请范围内", field="fields")
        assert data.valid_until is not None
        if data.valid_until < clock.today():
            raise Invalid("使用期限不能早于今天", field="valid_until")
        if (data.valid_until - clock.today()).days > MAX_VALIDITY_DAYS:
            raise Invalid("使用期限最长三年", field="valid_until")
        application.state = PublicApplicationState.APPROVED
        application.granted_fields = granted
        application.valid_until = data.valid_until
    else:
        application.state = PublicApplicationState.REFUSED
        application.legal_basis = data.legal_basis
    application.answer = data.answer
    application.answered_at = clock.now()
    application.answered_by = actor.label
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="opendata.application.answer",
        object_type="public_application",
        object_id=application.id,
        details={
            "number": application.number,
            "approve": data.approve,
            "fields": application.granted_fields,
            "valid_until": data.valid_until.isoformat() if data.valid_until else None,
            "legal_basis": application.legal_basis,
            "on_time": application.answered_at.date() <= application.due_on,
        },
    )
    return application


def deliver(db_session: Session, *, actor: Actor, portal: PortalDatabase) -> int:
    """Write answers not yet on the portal into it, with an approval's entitlement."""
    require(actor, Role.PLATFORM_OPERATOR, Role.SYSTEM, action="送达开放申请答复")
    pending = db_session.scalars(
        select(PublicApplication).where(
            PublicApplication.state != PublicApplicationState.PENDING,
            PublicApplication.delivered_at.is_(None),
        )
    ).all()
    if not pending:
        return 0
    portal.ensure_schema()
    delivered = 0
    with portal.session() as ps:
        for application in pending:
            on_portal = ps.get(PortalApplication, application.portal_id)
            if on_portal is not None:
                on_portal.state = application.state.value
                on_portal.answered_at = application.answered_at
                on_portal.answer = application.answer
                on_portal.legal_basis = application.legal_basis
                if application.state is PublicApplicationState.APPROVED:
                    assert application.valid_until is not None
                    ps.merge(
                        PortalEntitlement(
                            application_id=on_portal.id,
                            account_id=on_portal.account_id,
                            dataset_id=on_portal.dataset_id,
                            fields=list(application.granted_fields),
                            valid_until=application.valid_until,
                        )
                    )
                delivered += 1
            application.delivered_at = clock.now()
    db_session.flush()
    for application in pending:
        record(
            db_session,
            actor=actor,
            action="opendata.application.deliver",
            object_type="public_application",
            object_id=application.id,
            details={"number": application.number, "state": application.state.value},
        )
    return delivered


def get_application(db_session: Session, *, actor: Actor, application_id: int) -> PublicApplication:
    return _application(db_session, actor, application_id)


def list_applications(
    db_session: Session, *, actor: Actor, overdue: bool = False
) -> list[PublicApplication]:
    """Applications the actor may see (its department's; all for the operator, authority and
    auditors), pending first by deadline; `overdue`: pending past their deadline only."""
    require(actor, *PROVIDERS, *OVERSEERS, Role.DEPARTMENT_STAFF, action="查看开放申请")
    stmt = select(PublicApplication).join(Resource, Resource.id == PublicApplication.resource_id)
    if not actor.has(*OVERSEERS):
        stmt = stmt.where(Resource.provider_id == actor.organization_id)
    if overdue:
        stmt = stmt.where(
            PublicApplication.state == PublicApplicationState.PENDING,
            PublicApplication.due_on < clock.today(),
        )
    stmt = stmt.order_by(
        (PublicApplication.state != PublicApplicationState.PENDING),
        PublicApplication.due_on,
        PublicApplication.id,
    )
    return list(db_session.scalars(stmt))
