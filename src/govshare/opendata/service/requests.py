"""The public's requests for data that is not open yet (数据开放需求, SR§7, CAT-10).

A signed-in member of the public asks on the portal for data the portal does not have. The
platform reads the submitted requests inward (`receive_requests`, as a gatekeeper carries them),
numbers them (KX<year><seq>) and asks the operator to assign each. The operator assigns it to
the department expected to hold the data (`assign_request`); from then it stands on that
department's responsibility list (责任清单, SR§7: "形成政务信息资源共享和开放责任清单") with a
deadline. The department's data officer or head answers (`answer_request`): it will open the
data by a planned date, or cannot, with its reasons. `deliver_requests` writes the assignment
and the answer back to the portal, where everyone sees them.

The deadline: no seed regulation sets one for answering a public data request, so the answer
is due within the profile's `catalog_update_days` working days of the assignment — deciding
whether to catalogue and open data is a catalog update, and that is the catalog's own time
limit for one (CAT-5; Shangrao 15, a default of the profile).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from govshare.catalog.models import Domain
from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox.service import Notice, notify, recipients
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role, require
from govshare.core.policy import Rules
from govshare.identity.models import Organization
from govshare.opendata.models import PublicDataRequest, PublicRequestState
from govshare.opendata.service import inbound
from govshare.portal.db import PortalDatabase
from govshare.portal.models import PortalDataRequest

ANSWERERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD)
DEPARTMENT = (*ANSWERERS, Role.DEPARTMENT_STAFF)
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
MAX_PLAN_DAYS = 366 * 3
_DOMAINS = frozenset(d.value for d in Domain)


class RequestAssignmentIn(BaseModel):
    """The operator's assignment of a request to the department that owes the answer."""

    model_config = ConfigDict(str_strip_whitespace=True)

    organization_id: Id
    note: str = Field(default="", max_length=2000)


class RequestAnswerIn(BaseModel):
    """The department's answer: it will open the data by `planned_on`, or cannot (reasons)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    will_open: bool
    planned_on: date | None = Field(default=None, validate_default=True)
    answer: str = Field(default="", max_length=4000, validate_default=True)

    @field_validator("planned_on")
    @classmethod
    def _planned(cls, value: date | None, info: ValidationInfo) -> date | None:
        if info.data.get("will_open") and value is None:
            raise ValueError("计划开放的，须填写计划开放日期")
        return value

    @field_validator("answer")
    @classmethod
    def _reasons(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("will_open") is False and len(value) < 4:
            raise ValueError("无法开放的，须说明理由（至少 4 个字）")
        return value


def link(request: PublicDataRequest) -> str:
    """Where the request is shown on the platform."""
    return f"/opendata/requests/{request.id}"


@dataclass(frozen=True)
class Permitted:
    """What the actor may do with a request now (the page asks, so it cannot drift)."""

    assign: bool
    answer: bool


def permitted(actor: Actor, request: PublicDataRequest) -> Permitted:
    """Assign: the operator, until it is answered. Answer: the assigned department's data
    officer or head, while it waits for the answer."""
    return Permitted(
        assign=actor.has(Role.PLATFORM_OPERATOR)
        and request.state is not PublicRequestState.ANSWERED,
        answer=request.state is PublicRequestState.ASSIGNED
        and actor.has(*ANSWERERS)
        and actor.organization_id == request.organization_id,
    )


def is_overdue(request: PublicDataRequest, today: date | None = None) -> bool:
    """Assigned, unanswered after its last allowed day."""
    return (
        request.state is PublicRequestState.ASSIGNED
        and request.due_on is not None
        and (today or clock.today()) > request.due_on
    )


def receive_requests(
    db_session: Session, *, actor: Actor, portal: PortalDatabase
) -> list[PublicDataRequest]:
    """Read the portal's submitted requests into the platform, number them, mark them accepted
    on the portal and ask the operator to assign them. Idempotent: a request is read once."""
    require(actor, Role.PLATFORM_OPERATOR, Role.SYSTEM, action="受理数据开放需求")
    portal.ensure_schema()
    now = clock.now()
    received = []
    with portal.session() as ps:
        waiting = inbound.waiting(ps, PortalDataRequest)
        for submitted in waiting:
            existing = inbound.already_read(db_session, PublicDataRequest, submitted.id)
            if existing is None:
                existing = PublicDataRequest(
                    portal_id=submitted.id,
                    number=inbound.number(db_session, "KX", now),
                    title=submitted.title[:200],
                    description=submitted.description,
                    # The portal's value is kept only if the catalog knows it.
                    domain=submitted.domain if submitted.domain in _DOMAINS else None,
                    department=(submitted.department or "")[:100],
                    requester_kind=submitted.account.kind,
                    requester_name=submitted.account.name,
                    submitted_at=submitted.submitted_at,
                    received_at=now,
                    state=PublicRequestState.RECEIVED,
                    assignment_note="",
                    due_provisional=False,
                    answer="",
                    delivered_state=PublicRequestState.RECEIVED.value,
                )
                db_session.add(existing)
                db_session.flush()
                record(
                    db_session,
                    actor=actor,
                    action="opendata.request.receive",
                    object_type="public_data_request",
                    object_id=existing.id,
                    details={
                        "number": existing.number,
                        "title": existing.title,
                        "domain": existing.domain,
                        "department": existing.department,
                    },
                )
                notify(
                    db_session,
                    user_ids=recipients(db_session, roles=[Role.PLATFORM_OPERATOR]),
                    notice=Notice(
                        kind="opendata.request.received",
                        title=f"数据开放需求待分派：{existing.title}",
                        body=f"{existing.number}：{existing.description}",
                        link=link(existing),
                    ),
                )
                received.append(existing)
            if submitted.state == "accepted" and submitted.number == existing.number:
                continue
            submitted.state = "accepted"
            submitted.number = existing.number
            submitted.accepted_at = now
    return received


def _request(db_session: Session, actor: Actor, request_id: int) -> PublicDataRequest:
    require(actor, *OVERSEERS, *DEPARTMENT, action="查看数据开放需求")
    found = db_session.get(PublicDataRequest, request_id)
    if found is None or not (
        actor.has(*OVERSEERS)
        or (found.organization_id is not None and actor.organization_id == found.organization_id)
    ):
        raise NotFound(f"数据开放需求 {request_id} 不存在", field="request_id")
    return found


def assign_request(
    db_session: Session,
    *,
    actor: Actor,
    request_id: int,
    data: RequestAssignmentIn,
    rules: Rules,
) -> PublicDataRequest:
    """The operator assigns (or reassigns) an unanswered request to a department, which must
    answer within the profile's `catalog_update_days` working days from today."""
    require(actor, Role.PLATFORM_OPERATOR, action="分派数据开放需求")
    found = _request(db_session, actor, request_id)
    if found.state is PublicRequestState.ANSWERED:
        raise Conflict("数据开放需求已答复，不能再分派", field="request_id")
    org = db_session.get(Organization, data.organization_id)
    if org is None:
        raise NotFound(f"组织机构 {data.organization_id} 不存在", field="organization_id")
    if found.organization_id == org.id:
        raise Conflict(f"需求已分派给{org.name}", field="organization_id")
    days = rules.catalog_update_days.value
    due = working_days.load(db_session).add_working_days(clock.today(), days)
    previous = found.organization_id
    found.organization = org
    found.state = PublicRequestState.ASSIGNED
    found.assigned_at, found.assigned_by = clock.now(), actor.label
    found.assignment_note = data.note
    found.due_on, found.due_provisional = due.on, due.provisional
    found.delivered_state = None  # the portal is to learn who answers now
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="opendata.request.assign",
        object_type="public_data_request",
        object_id=found.id,
        details={
            "number": found.number,
            "organization_id": org.id,
            "previous_id": previous,
            "due_on": due.on.isoformat(),
            "working_days": days,
            "note": data.note,
        },
    )
    note = f"分派说明：{data.note}。" if data.note else ""
    notify(
        db_session,
        user_ids=recipients(db_session, organization_ids=[org.id]),
        notice=Notice(
            kind="opendata.request.assigned",
            title=f"公众数据开放需求待答复：{found.title}",
            body=f"{found.number}：{found.description}。{note}请于 {due.label} 前答复。",
            link=link(found),
        ),
    )
    return found


def answer_request(
    db_session: Session, *, actor: Actor, request_id: int, data: RequestAnswerIn
) -> PublicDataRequest:
    """The assigned department's data officer or head answers; the portal shows the answer at
    the next delivery (`deliver_requests`)."""
    found = _request(db_session, actor, request_id)
    if not (actor.has(*ANSWERERS) and actor.organization_id == found.organization_id):
        raise Forbidden("答复数据开放需求须由承办部门的数据专员或部门负责人办理")
    if found.state is not PublicRequestState.ASSIGNED:
        raise Conflict(f"数据开放需求{found.state.label}，不能答复", field="request_id")
    today = clock.today()
    if data.will_open:
        assert data.planned_on is not None
        if data.planned_on < today:
            raise Invalid("计划开放日期不能早于今天", field="planned_on")
        if (data.planned_on - today).days > MAX_PLAN_DAYS:
            raise Invalid("计划开放日期最晚为三年以内", field="planned_on")
    found.state = PublicRequestState.ANSWERED
    found.will_open = data.will_open
    found.planned_on = data.planned_on if data.will_open else None
    found.answer = data.answer
    found.answered_at, found.answered_by = clock.now(), actor.label
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="opendata.request.answer",
        object_type="public_data_request",
        object_id=found.id,
        details={
            "number": found.number,
            "will_open": data.will_open,
            "planned_on": found.planned_on.isoformat() if found.planned_on else None,
            "answer": data.answer,
            "on_time": found.due_on is None or today <= found.due_on,
        },
    )
    what = f"计划于 {found.planned_on} 前开放" if data.will_open else "无法开放"
    department = found.organization.name if found.organization else ""
    notify(
        db_session,
        user_ids=recipients(db_session, roles=[Role.PLATFORM_OPERATOR]),
        notice=Notice(
            kind="opendata.request.answered",
            title=f"数据开放需求已答复：{found.title}",
            body=f"{department}答复：{what}。{data.answer}".rstrip("。") + "。",
            link=link(found),
        ),
    )
    return found


def deliver_requests(db_session: Session, *, actor: Actor, portal: PortalDatabase) -> int:
    """Write assignments and answers the portal has not seen into it: the department now
    answering, then the answer."""
    require(actor, Role.PLATFORM_OPERATOR, Role.SYSTEM, action="送达数据开放需求答复")
    pending = db_session.scalars(
        select(PublicDataRequest)
        .where(
            PublicDataRequest.state != PublicRequestState.RECEIVED,
            PublicDataRequest.delivered_state.is_(None)
            | (PublicDataRequest.delivered_state != PublicDataRequest.state),
        )
        .order_by(PublicDataRequest.id)
    ).all()
    if not pending:
        return 0
    portal.ensure_schema()
    delivered = 0
    now = clock.now()
    with portal.session() as ps:
        for found in pending:
            on_portal = ps.get(PortalDataRequest, found.portal_id)
            if on_portal is not None:
                on_portal.assigned_department = (
                    found.organization.name if found.organization else ""
                )
                if found.state is PublicRequestState.ANSWERED:
                    on_portal.state = "answered"
                    on_portal.answered_at = found.answered_at
                    on_portal.will_open = found.will_open
                    on_portal.planned_on = found.planned_on
                    on_portal.answer = found.answer
                delivered += 1
            found.delivered_state = found.state.value
            found.delivered_at = now
    db_session.flush()
    for found in pending:
        record(
            db_session,
            actor=actor,
            action="opendata.request.deliver",
            object_type="public_data_request",
            object_id=found.id,
            details={"number": found.number, "state": found.state.value},
        )
    return delivered


def get_request(db_session: Session, *, actor: Actor, request_id: int) -> PublicDataRequest:
    """One request, for overseers and the department it is assigned to."""
    return _request(db_session, actor, request_id)


def list_requests(
    db_session: Session, *, actor: Actor, state: PublicRequestState | None = None
) -> list[PublicDataRequest]:
    """Requests the actor may see (those assigned to its department; all for the operator,
    authority and auditors): waiting for assignment first, then unanswered by deadline, then
    answered, newest first."""
    require(actor, *OVERSEERS, *DEPARTMENT, action="查看数据开放需求")
    stmt = select(PublicDataRequest)
    if not actor.has(*OVERSEERS):
        stmt = stmt.where(PublicDataRequest.organization_id == actor.organization_id)
    if state is not None:
        stmt = stmt.where(PublicDataRequest.state == state)
    order = case(
        (PublicDataRequest.state == PublicRequestState.RECEIVED, 0),
        (PublicDataRequest.state == PublicRequestState.ASSIGNED, 1),
        else_=2,
    )
    # Only the unanswered have a deadline to sort by; the others are newest first.
    due = case((PublicDataRequest.state == PublicRequestState.ASSIGNED, PublicDataRequest.due_on))
    stmt = stmt.order_by(order, due, PublicDataRequest.id.desc())
    return list(db_session.scalars(stmt))
