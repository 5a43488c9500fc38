"""Needs and responsibility lists (需求清单, 责任清单; CAT-10, SR§7).

A department states a need: for a published resource in the catalog (what it lacks — more
fields, another share method, fresher data), or for data not catalogued yet, naming the
department it expects to hold it. The operator assigns each need to a department (for a
catalogued resource, normally its provider); the assignee's data officer or head answers
it: fulfilled (optionally naming the resource that now provides it) or declined with a
reason. Each department's responsibility list gathers what it owes the catalog and since
when: needs assigned to it, open update deadlines (CAT-5), versions returned to it for
fixes, IT projects whose catalog is not ready for their next step (CAT-9), and the public's
requests for data not open yet that the operator assigned to it (SR§7 共享和开放责任清单,
answered in `opendata.service.requests`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import (
    ChangeEvent,
    ItProject,
    Need,
    NeedState,
    ProjectStage,
    Resource,
    ResourceStatus,
    ResourceVersion,
    VersionState,
)
from govshare.catalog.service import changes, projects
from govshare.catalog.service.common import COMPILERS, SUBMITTERS
from govshare.catalog.service.resources import get_resource
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.calendar import Deadline
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.identity.models import Organization
from govshare.opendata.models import PublicDataRequest, PublicRequestState

READERS = (*COMPILERS, Role.PLATFORM_OPERATOR)
OPEN_STATES = (NeedState.OPEN, NeedState.ASSIGNED)
ANSWER_MAX = 2000


class NeedIn(BaseModel):
    """A stated need: a catalogued resource (by id or code), or title and expected provider."""

    model_config = ConfigDict(str_strip_whitespace=True)

    resource_id: Id | None = None
    resource_code: str | None = None
    title: str = Field(default="", max_length=200)
    description: str = Field(min_length=4, max_length=4000)  # what is needed, and for what
    expected_provider_id: Id | None = None


def link(need: Need) -> str:
    """Where the need is shown."""
    return f"/catalog/needs/{need.id}"


def _need(db_session: Session, actor: Actor, need_id: int) -> Need:
    require(actor, *READERS, action="查看数据需求")
    need = db_session.get(Need, need_id)
    if need is None or not (
        actor.has(Role.PLATFORM_OPERATOR)
        or actor.organization_id in (need.requester_id, need.assignee_id)
    ):
        raise NotFound(f"数据需求 {need_id} 不存在", field="need_id")
    return need


def _catalogued(db_session: Session, actor: Actor, data: NeedIn) -> Resource:
    if data.resource_id is not None:
        resource = get_resource(db_session, actor=actor, resource_id=data.resource_id)
        field_name = "resource_id"
    else:
        found = db_session.execute(
            select(Resource.id).where(Resource.code == data.resource_code)
        ).scalar()
        if found is None:
            raise NotFound(f"资源代码 {data.resource_code} 不存在", field="resource_code")
        resource = get_resource(db_session, actor=actor, resource_id=found)
        field_name = "resource_code"
    if resource.status is not ResourceStatus.PUBLISHED:
        raise Conflict("只能对已发布的资源提出需求", field=field_name)
    if resource.provider_id == actor.organization_id:
        raise Invalid("这是本单位提供的资源，无需提出需求", field=field_name)
    return resource


def state_need(db_session: Session, *, actor: Actor, data: NeedIn) -> Need:
    """A department states a need (for a published resource, or for data not catalogued
    yet); the operator is asked to assign it."""
    require(actor, *COMPILERS, action="提出数据需求")
    org_id = own_organization(actor)
    resource: Resource | None = None
    if data.resource_id is not None or data.resource_code:
        resource = _catalogued(db_session, actor, data)
        title = data.title or (
            resource.current_version.name if resource.current_version else resource.code
        )
        expected_id: int | None = resource.provider_id
    else:
        if len(data.title) < 2:
            raise Invalid("请填写需求名称（需要什么数据）", field="title")
        if data.expected_provider_id is None:
            raise Invalid("请选择预计掌握该数据的部门", field="expected_provider_id")
        if db_session.get(Organization, data.expected_provider_id) is None:
            raise NotFound(
                f"组织机构 {data.expected_provider_id} 不存在", field="expected_provider_id"
            )
        if data.expected_provider_id == org_id:
            raise Invalid("预计提供部门不能是本单位", field="expected_provider_id")
        title, expected_id = data.title, data.expected_provider_id
    need = Need(
        requester_id=org_id,
        resource_id=resource.id if resource else None,
        title=title,
        description=data.description,
        expected_provider_id=expected_id,
        state=NeedState.OPEN,
        created_at=clock.now(),
        created_by=actor.label,
    )
    db_session.add(need)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.need.create",
        object_type="need",
        object_id=need.id,
        details={
            "requester_id": org_id,
            "resource": resource.code if resource else None,
            "title": title,
            "description": data.description,
            "expected_provider_id": expected_id,
        },
    )
    inbox.notify(
        db_session,
        user_ids=inbox.recipients(db_session, roles=[Role.PLATFORM_OPERATOR]),
        notice=inbox.Notice(
            "catalog.need",
            f"数据需求待分派：{title}",
            f"{need.requester.name}：{data.description}",
            link(need),
        ),
    )
    return need


def assign_need(
    db_session: Session, *, actor: Actor, need_id: int, organization_id: int, note: str = ""
) -> Need:
    """The operator assigns (or reassigns) an unanswered need to the department that owes it."""
    require(actor, Role.PLATFORM_OPERATOR, action="分派数据需求")
    need = _need(db_session, actor, need_id)
    if need.state not in OPEN_STATES:
        raise Conflict(f"需求{need.state.label}，不能再分派", field="need_id")
    org = db_session.get(Organization, organization_id)
    if org is None:
        raise NotFound(f"组织机构 {organization_id} 不存在", field="organization_id")
    if org.id == need.requester_id:
        raise Invalid("不能分派给提出需求的部门本身", field="organization_id")
    if need.assignee_id == org.id:
        raise Conflict(f"需求已分派给{org.name}", field="organization_id")
    previous = need.assignee_id
    need.assignee, need.state = org, NeedState.ASSIGNED
    need.assigned_at, need.assigned_by = clock.now(), actor.label
    db_session.flush()
    note = note.strip()
    record(
        db_session,
        actor=actor,
        action="catalog.need.assign",
        object_type="need",
        object_id=need.id,
        details={"organization_id": org.id, "previous_id": previous, "note": note},
    )
    body = f"提出部门：{need.requester.name}。需求：{need.description}"
    inbox.notify(
        db_session,
        user_ids=inbox.recipients(db_session, organization_ids=[org.id]),
        notice=inbox.Notice(
            "catalog.need",
            f"数据需求已分派给本单位：{need.title}",
            body + (f"。分派说明：{note}" if note else ""),
            link(need),
        ),
    )
    inbox.notify(
        db_session,
        user_ids=inbox.recipients(db_session, organization_ids=[need.requester_id]),
        notice=inbox.Notice(
            "catalog.need", f"需求已分派给{org.name}：{need.title}", note, link(need)
        ),
    )
    return need


def answer_need(
    db_session: Session,
    *,
    actor: Actor,
    need_id: int,
    fulfilled: bool,
    answer: str = "",
    resource_code: str | None = None,
) -> Need:
    """The assignee's data officer or head answers: fulfilled (optionally naming its
    published resource that now provides it) or declined with a reason."""
    need = _need(db_session, actor, need_id)
    if not (actor.has(*SUBMITTERS) and actor.organization_id == need.assignee_id):
        raise Forbidden("答复数据需求须由承接部门的数据专员或部门负责人办理")
    if need.state is not NeedState.ASSIGNED:
        raise Conflict(f"需求{need.state.label}，不能答复", field="need_id")
    answer = (answer or "").strip()
    if len(answer) > ANSWER_MAX:
        raise Invalid(f"答复不得超过 {ANSWER_MAX} 个字", field="answer")
    code = (resource_code or "").strip()
    if fulfilled:
        if code:
            resource = db_session.execute(
                select(Resource).where(Resource.code == code)
            ).scalar_one_or_none()
            if resource is None:
                raise Invalid(f"资源代码“{code}”不存在", field="resource_code")
            if resource.provider_id != need.assignee_id:
                raise Invalid(f"资源“{code}”不是本单位提供的资源", field="resource_code")
            if resource.status is not ResourceStatus.PUBLISHED:
                raise Invalid(f"资源“{code}”尚未发布，发布后再答复", field="resource_code")
            need.fulfilled_by = resource
        need.state = NeedState.FULFILLED
    else:
        if not answer:
            raise Invalid("无法满足的，须说明理由", field="answer")
        if code:
            raise Invalid("无法满足的需求不必填写资源代码", field="resource_code")
        need.state = NeedState.DECLINED
    need.answer, need.answered_at = answer or None, clock.now()
    db_session.flush()
    if fulfilled:
        record(
            db_session,
            actor=actor,
            action="catalog.need.fulfil",
            object_type="need",
            object_id=need.id,
            details={"answer": answer, "resource": code or None},
        )
    else:
        record(
            db_session,
            actor=actor,
            action="catalog.need.decline",
            object_type="need",
            object_id=need.id,
            details={"answer": answer},
        )
    assignee = need.assignee.name if need.assignee else ""
    body = f"{assignee}答复：{answer or '已满足'}" + (f"。提供资源：{code}" if code else "")
    recipients = inbox.recipients(db_session, organization_ids=[need.requester_id])
    if not fulfilled:  # the operator may reassign or mediate
        recipients |= inbox.recipients(db_session, roles=[Role.PLATFORM_OPERATOR])
    inbox.notify(
        db_session,
        user_ids=recipients,
        notice=inbox.Notice(
            "catalog.need",
            f"需求{need.state.label}：{need.title}",
            body,
            link(need),
        ),
    )
    return need


def get_need(db_session: Session, *, actor: Actor, need_id: int) -> Need:
    """One need, for the department that stated it, its assignee and the operator."""
    return _need(db_session, actor, need_id)


def list_needs(
    db_session: Session, *, actor: Actor, assigned: bool = False, open_only: bool = False
) -> list[Need]:
    """The needs the actor's department stated (`assigned`: those assigned to it); the
    operator sees every need. Newest first."""
    require(actor, *READERS, action="查看数据需求")
    stmt = select(Need)
    if not actor.has(Role.PLATFORM_OPERATOR) or assigned:
        org_id = own_organization(actor)
        column = Need.assignee_id if assigned else Need.requester_id
        stmt = stmt.where(column == org_id)
    if open_only:
        stmt = stmt.where(Need.state.in_(OPEN_STATES))
    return list(db_session.execute(stmt.order_by(Need.id.desc())).scalars())


@dataclass(frozen=True)
class Responsibility:
    """One line of a department's responsibility list (责任清单)."""

    kind: str  # need / change / returned / project / open_request
    kind_label: str
    title: str
    since: date
    due: Deadline | None
    overdue: bool
    link: str


def _city_date(moment: datetime) -> date:
    return clock.to_city(moment).date()


def responsibility_list(
    db_session: Session, *, actor: Actor, organization_id: int | None = None
) -> list[Responsibility]:
    """What a department owes the catalog and since when, deadlines first (its own people;
    the operator and the authority for any department)."""
    require(actor, *COMPILERS, Role.PLATFORM_OPERATOR, Role.AUTHORITY, action="查看责任清单")
    if actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY):
        org_id = organization_id or actor.organization_id
    elif organization_id not in (None, actor.organization_id):
        raise Forbidden("只能查看本单位的责任清单", field="organization_id")
    else:
        org_id = actor.organization_id
    if org_id is None:
        raise Invalid("请选择部门", field="organization_id")
    today = clock.today()
    rows: list[Responsibility] = []
    needs = db_session.execute(
        select(Need).where(Need.assignee_id == org_id, Need.state == NeedState.ASSIGNED)
    ).scalars()
    for need in needs:
        requester = need.requester.short_name or need.requester.name
        rows.append(
            Responsibility(
                "need",
                "数据需求",
                f"{need.title}（{requester}提出）",
                _city_date(need.assigned_at or need.created_at),
                None,
                False,
                link(need),
            )
        )
    events = db_session.execute(
        select(ChangeEvent).where(
            ChangeEvent.organization_id == org_id, ChangeEvent.closed_at.is_(None)
        )
    ).scalars()
    for event in events:
        rows.append(
            Responsibility(
                "change",
                "目录更新",
                f"{event.cause.label}：{event.description}",
                event.occurred_on,
                changes.deadline(event),
                changes.is_overdue(event, today),
                changes.link(event),
            )
        )
    returned = db_session.execute(
        select(ResourceVersion)
        .join(Resource, Resource.id == ResourceVersion.resource_id)
        .where(Resource.provider_id == org_id, ResourceVersion.state == VersionState.RETURNED)
    ).scalars()
    for version in returned:
        reason = f"：{version.review_comment}" if version.review_comment else ""
        rows.append(
            Responsibility(
                "returned",
                "退回待修改",
                f"{version.name}（第 {version.number} 版）{reason}",
                _city_date(version.reviewed_at or version.updated_at),
                None,
                False,
                f"/catalog/resources/{version.resource_id}/versions/{version.number}",
            )
        )
    pending = db_session.execute(
        select(ItProject).where(
            ItProject.organization_id == org_id,
            ItProject.stage.in_([ProjectStage.PLANNING, ProjectStage.BUILDING]),
        )
    ).scalars()
    for project in pending:
        readiness = projects.project_readiness(project)
        if project.stage is ProjectStage.PLANNING and not readiness.may_approve:
            task = "立项前须预编项目信息资源目录"
        elif project.stage is ProjectStage.BUILDING and not readiness.may_accept:
            task = "验收前须在平台发布项目信息资源目录"
        else:
            continue
        rows.append(
            Responsibility(
                "project",
                "项目目录",
                f"{project.name}：{task}",
                _city_date(project.created_at),
                None,
                False,
                projects.link(project),
            )
        )
    asked = db_session.execute(
        select(PublicDataRequest).where(
            PublicDataRequest.organization_id == org_id,
            PublicDataRequest.state == PublicRequestState.ASSIGNED,
        )
    ).scalars()
    for request in asked:
        assert request.assigned_at is not None and request.due_on is not None  # assigned
        rows.append(
            Responsibility(
                "open_request",
                "公众数据开放需求",
                f"{request.title}（{request.number}）",
                _city_date(request.assigned_at),
                Deadline(on=request.due_on, provisional=request.due_provisional),
                today > request.due_on,
                f"/opendata/requests/{request.id}",
            )
        )
    return sorted(
        rows,
        key=lambda r: (r.due is None, r.due.on if r.due else r.since, r.since, r.kind),
    )
