"""Budget-funded IT projects and their resource catalogs (CAT-9).

SY§10, BZ§28, WH§16: a government IT project funded by the budget pre-compiles its project
resource catalog (项目信息资源目录) before approval (立项), and has it on the platform at
acceptance (验收). A project moves planning → approved → building → accepted; the project
page shows whether it may go to approval (every resource in the catalog compiled) and to
acceptance (every resource published with its data on the platform: WH§16 does not accept a
project whose data is not aggregated, 未数据归集 — a table resource bound and synced into
the data resource center, a file resource with a file uploaded, an interface resource
registered at the gateway).

Who does what: the department's data officer or head registers its projects, keeps their
details and their resource catalog, and records the start of construction; the operator may
do the same on a department's behalf. Approval and acceptance are decisions taken outside
the platform (the approving department, the acceptance panel); the authority records them
here, because the catalog check is its part of the decision, and the operator may record
them on its behalf. The operator and the authority see every project; a department sees
its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from govshare.catalog.models import (
    ItProject,
    ProjectResource,
    ProjectStage,
    Resource,
    ResourceStatus,
    ResourceVersion,
    VersionState,
)
from govshare.catalog.service.common import COMPILERS, SUBMITTERS
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role, require
from govshare.exchange.models import FileVersion, RunState, ServiceInterface, SyncRun, TableBinding
from govshare.exchange.service.bindings import is_table_version
from govshare.exchange.service.files import is_file_resource
from govshare.exchange.service.interfaces import offers_service
from govshare.identity.models import Organization

SUPERVISORS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY)
READERS = (*COMPILERS, *SUPERVISORS)
NEXT_STAGE = {
    ProjectStage.PLANNING: ProjectStage.APPROVED,
    ProjectStage.APPROVED: ProjectStage.BUILDING,
    ProjectStage.BUILDING: ProjectStage.ACCEPTED,
}
STAGE_ACTIONS = {
    ProjectStage.APPROVED: "catalog.project.approve",
    ProjectStage.BUILDING: "catalog.project.build",
    ProjectStage.ACCEPTED: "catalog.project.accept",
}
STAGE_VERBS = {
    ProjectStage.APPROVED: "立项",
    ProjectStage.BUILDING: "开始建设",
    ProjectStage.ACCEPTED: "验收",
}


class ProjectIn(BaseModel):
    """An IT project's details (政务信息化项目)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    organization_id: Id | None = None  # the operator registers for a department
    name: str = Field(min_length=2, max_length=200)
    project_number: str = Field(min_length=2, max_length=60)
    budget: Decimal = Field(gt=0, max_digits=14, decimal_places=2)  # 元
    description: str = Field(default="", max_length=4000)


def link(project: ItProject) -> str:
    """Where the project is shown."""
    return f"/catalog/projects/{project.id}"


def _is_manager(actor: Actor, organization_id: int) -> bool:
    return actor.has(Role.PLATFORM_OPERATOR) or (
        actor.has(*SUBMITTERS) and actor.organization_id == organization_id
    )


def can_manage(actor: Actor, project: ItProject) -> bool:
    """Whether the actor keeps this project's details and catalog."""
    return _is_manager(actor, project.organization_id)


def _project(db_session: Session, actor: Actor, project_id: int) -> ItProject:
    require(actor, *READERS, action="查看信息化项目")
    project = db_session.get(ItProject, project_id)
    if project is None or not (
        actor.has(*SUPERVISORS) or actor.organization_id == project.organization_id
    ):
        raise NotFound(f"信息化项目 {project_id} 不存在", field="project_id")
    return project


def _managed(db_session: Session, actor: Actor, project_id: int, action: str) -> ItProject:
    project = _project(db_session, actor, project_id)
    if not can_manage(actor, project):
        raise Forbidden(f"只有项目建设部门的数据专员、部门负责人或平台管理单位可以{action}")
    if project.stage is ProjectStage.ACCEPTED:
        raise Conflict("项目已验收，不能再修改", field="project_id")
    return project


def _check_number(db_session: Session, number: str, exclude_id: int | None = None) -> None:
    stmt = select(ItProject.id).where(ItProject.project_number == number)
    if exclude_id is not None:
        stmt = stmt.where(ItProject.id != exclude_id)
    if db_session.execute(stmt).first() is not None:
        raise Conflict(f"项目编号“{number}”已登记", field="project_number")


def _fields(data: ProjectIn) -> dict[str, object]:
    return {
        "name": data.name,
        "project_number": data.project_number,
        "budget": str(data.budget),
        "description": data.description,
    }


def create_project(db_session: Session, *, actor: Actor, data: ProjectIn) -> ItProject:
    """Registers a project in planning (the department's data officer or head; the operator
    for any department)."""
    require(actor, *SUBMITTERS, Role.PLATFORM_OPERATOR, action="登记信息化项目")
    if actor.has(Role.PLATFORM_OPERATOR):
        org_id = data.organization_id or actor.organization_id
    elif data.organization_id not in (None, actor.organization_id):
        raise Forbidden("只能登记本单位的信息化项目", field="organization_id")
    else:
        org_id = actor.organization_id
    if org_id is None:
        raise Invalid("请选择项目建设部门", field="organization_id")
    if db_session.get(Organization, org_id) is None:
        raise NotFound(f"组织机构 {org_id} 不存在", field="organization_id")
    _check_number(db_session, data.project_number)
    project = ItProject(
        organization_id=org_id,
        name=data.name,
        project_number=data.project_number,
        budget=data.budget,
        description=data.description,
        stage=ProjectStage.PLANNING,
        created_at=clock.now(),
        created_by=actor.label,
    )
    db_session.add(project)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.project.create",
        object_type="project",
        object_id=project.id,
        details={"organization_id": org_id, **_fields(data)},
    )
    return project


def update_project(
    db_session: Session, *, actor: Actor, project_id: int, data: ProjectIn
) -> ItProject:
    """Changes a project's name, number, budget or description until it is accepted."""
    project = _managed(db_session, actor, project_id, "修改项目")
    if data.organization_id not in (None, project.organization_id):
        raise Invalid("项目建设部门不能更改", field="organization_id")
    _check_number(db_session, data.project_number, exclude_id=project.id)
    before = {
        "name": project.name,
        "project_number": project.project_number,
        "budget": str(project.budget),
        "description": project.description,
    }
    after = _fields(data)
    project.name, project.project_number = data.name, data.project_number
    project.budget, project.description = data.budget, data.description
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.project.update",
        object_type="project",
        object_id=project.id,
        details={"changed": {k: [before[k], v] for k, v in after.items() if before[k] != v}},
    )
    return project


def add_project_resource(
    db_session: Session, *, actor: Actor, project_id: int, resource_id: int
) -> ItProject:
    """Puts one of the department's resources, drafts included, into the project catalog."""
    project = _managed(db_session, actor, project_id, "编制项目信息资源目录")
    resource = db_session.get(Resource, resource_id)
    if resource is None or resource.provider_id != project.organization_id:
        raise NotFound(f"本单位没有资源 {resource_id}", field="resource_id")
    if resource.status is ResourceStatus.RETIRED:
        raise Conflict(f"资源 {resource.code} 已下架", field="resource_id")
    if any(row.resource_id == resource.id for row in project.resource_rows):
        raise Conflict(f"资源 {resource.code} 已在项目目录中", field="resource_id")
    project.resource_rows.append(ProjectResource(resource=resource))
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.project.resource_add",
        object_type="project",
        object_id=project.id,
        details={"resource": resource.code},
    )
    return project


def remove_project_resource(
    db_session: Session, *, actor: Actor, project_id: int, resource_id: int
) -> ItProject:
    """Takes a resource out of the project catalog."""
    project = _managed(db_session, actor, project_id, "编制项目信息资源目录")
    row = next((r for r in project.resource_rows if r.resource_id == resource_id), None)
    if row is None:
        raise NotFound(f"资源 {resource_id} 不在项目目录中", field="resource_id")
    code = row.resource.code
    project.resource_rows.remove(row)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="catalog.project.resource_remove",
        object_type="project",
        object_id=project.id,
        details={"resource": code},
    )
    return project


def get_project(db_session: Session, *, actor: Actor, project_id: int) -> ItProject:
    """One project, for its department, the operator and the authority."""
    return _project(db_session, actor, project_id)


def list_projects(
    db_session: Session,
    *,
    actor: Actor,
    organization_id: int | None = None,
    stage: ProjectStage | None = None,
) -> list[ItProject]:
    """The department's projects (the operator and the authority: any or every
    department's), newest first."""
    require(actor, *READERS, action="查看信息化项目")
    stmt = select(ItProject)
    if actor.has(*SUPERVISORS):
        if organization_id is not None:
            stmt = stmt.where(ItProject.organization_id == organization_id)
    else:
        if organization_id not in (None, actor.organization_id):
            raise Forbidden("只能查看本单位的信息化项目", field="organization_id")
        stmt = stmt.where(ItProject.organization_id == actor.organization_id)
    if stage is not None:
        stmt = stmt.where(ItProject.stage == stage)
    return list(db_session.execute(stmt.order_by(ItProject.id.desc())).scalars())


@dataclass(frozen=True)
class ResourceReadiness:
    """One resource of a project catalog, with where it stands."""

    resource: Resource
    name: str
    state: str  # in the interface's words
    compiled: bool  # a live version exists (pre-compiled)
    published: bool  # on the platform
    data: str = ""  # what is missing of its data on the platform ("" when it is there)

    @property
    def has_data(self) -> bool:
        return self.published and not self.data

    @property
    def title(self) -> str:
        return f"{self.name}（{self.resource.code}）"


@dataclass(frozen=True)
class Readiness:
    """Whether a project may go to approval and to acceptance, and what blocks it."""

    may_approve: bool
    may_accept: bool
    approve_blockers: list[str] = field(default_factory=list)
    accept_blockers: list[str] = field(default_factory=list)
    resources: list[ResourceReadiness] = field(default_factory=list)


@dataclass(frozen=True)
class _Data:
    """Which of the resources have their data on the platform, in each way."""

    bound: set[int] = field(default_factory=set)
    synced: set[int] = field(default_factory=set)
    files: set[int] = field(default_factory=set)
    interfaces: set[int] = field(default_factory=set)


def _data_on_platform(db_session: Session | None, ids: list[int]) -> _Data:
    """Three queries, whatever the size of the catalog."""
    if not ids or db_session is None:
        return _Data()
    bound = db_session.execute(
        select(TableBinding.id, TableBinding.resource_id).where(TableBinding.resource_id.in_(ids))
    ).all()
    synced = db_session.execute(
        select(TableBinding.resource_id)
        .join(SyncRun, SyncRun.binding_id == TableBinding.id)
        .where(TableBinding.resource_id.in_(ids), SyncRun.state == RunState.SUCCEEDED)
        .distinct()
    ).scalars()
    files = db_session.execute(
        select(FileVersion.resource_id).where(FileVersion.resource_id.in_(ids)).distinct()
    ).scalars()
    interfaces = db_session.execute(
        select(ServiceInterface.resource_id).where(ServiceInterface.resource_id.in_(ids))
    ).scalars()
    return _Data({r for _, r in bound}, set(synced), set(files), set(interfaces))


def _missing_data(found: _Data, resource: Resource) -> str:
    """What a published resource lacks of its data on the platform, in the interface's
    words ("" when it has it). A resource shared in several ways (a spreadsheet: a table or
    files) needs one of them; one that names none of the three needs any."""
    version = resource.current_version
    rid = resource.id
    missing: list[str] = []
    if version is None or is_table_version(version):
        if rid in found.synced:
            return ""
        missing.append("库表已绑定，尚无成功的同步" if rid in found.bound else "库表尚未绑定")
    if version is None or is_file_resource(version):
        if rid in found.files:
            return ""
        missing.append("尚未上传文件")
    if version is None or offers_service(version):
        if rid in found.interfaces:
            return ""
        missing.append("尚未注册服务接口")
    if missing:
        return "；".join(missing)
    # Shared only offline, or in a format none of the three carries: any of them will do.
    if rid in found.synced or rid in found.files or rid in found.interfaces:
        return ""
    return "没有同步的库表、上传的文件或注册的服务接口"


def project_readiness(project: ItProject) -> Readiness:
    """Approval needs at least one resource and every resource compiled (a version that was
    not withdrawn); acceptance needs every resource published, with its data on the platform."""
    db_session = object_session(project)
    ids = [row.resource_id for row in project.resource_rows]
    names: dict[int, str] = {}  # the latest version's name
    live: dict[int, VersionState] = {}  # the latest state that is not withdrawn
    if ids and db_session is not None:
        versions = db_session.execute(
            select(ResourceVersion.resource_id, ResourceVersion.name, ResourceVersion.state)
            .where(ResourceVersion.resource_id.in_(ids))
            .order_by(ResourceVersion.number)
        ).all()
        for rid, version_name, version_state in versions:
            names[rid] = version_name
            if version_state is not VersionState.WITHDRAWN:
                live[rid] = version_state
    found = _data_on_platform(db_session, ids)
    rows: list[ResourceReadiness] = []
    for row in sorted(project.resource_rows, key=lambda r: r.resource.code):
        resource = row.resource
        state = live.get(resource.id)
        current = resource.current_version
        name = current.name if current else names.get(resource.id, resource.code)
        if resource.status is ResourceStatus.RETIRED:
            words, compiled, published = "已下架", False, False
        elif resource.status is ResourceStatus.PUBLISHED:
            words, compiled, published = "已发布", True, True
        elif state is not None:
            words, compiled, published = f"已编制·{state.label}", True, False
        else:
            words, compiled, published = "仅有已撤回的版本", False, False
        missing = _missing_data(found, resource) if published else ""
        rows.append(ResourceReadiness(resource, name, words, compiled, published, missing))
    approve: list[str] = []
    accept: list[str] = []
    if not rows:
        approve.append("项目信息资源目录为空：立项前须预编至少一项资源")
        accept.append("项目信息资源目录为空：验收时须有已在平台发布的项目信息资源目录")
    for r in rows:
        if not r.compiled:
            approve.append(f"{r.title}：{r.state}，不算已编制")
        if not r.published:
            accept.append(f"{r.title}：{r.state}，尚未在平台发布")
        elif r.data:
            accept.append(f"{r.title}：数据未归集到平台（{r.data}）")
    return Readiness(not approve, not accept, approve, accept, rows)


def advance_stage(
    db_session: Session, *, actor: Actor, project_id: int, to: ProjectStage | str, note: str = ""
) -> ItProject:
    """Moves a project to its next stage: approval (立项) needs the catalog pre-compiled and
    acceptance (验收) needs it published, both recorded by the authority or the operator;
    the start of construction is recorded by the department."""
    project = _project(db_session, actor, project_id)
    try:
        target = ProjectStage(to)
    except ValueError:
        raise Invalid(f"未知的项目阶段“{to}”", field="to") from None
    expected = NEXT_STAGE.get(project.stage)
    if target is not expected:
        raise Conflict(f"项目处于“{project.stage.label}”阶段，不能转入“{target.label}”", field="to")
    verb = STAGE_VERBS[target]
    if target is ProjectStage.BUILDING:
        if not can_manage(actor, project) and not actor.has(*SUPERVISORS):
            raise Forbidden(f"当前身份无权登记项目{verb}")
    else:
        require(actor, *SUPERVISORS, action=f"登记项目{verb}")
    readiness = project_readiness(project)
    if target is ProjectStage.APPROVED:
        blockers = readiness.approve_blockers
        blocking = [r.resource.code for r in readiness.resources if not r.compiled]
    elif target is ProjectStage.ACCEPTED:
        blockers = readiness.accept_blockers
        blocking = [r.resource.code for r in readiness.resources if not r.has_data]
    else:
        blockers, blocking = [], []
    if blockers:
        raise Conflict(
            f"项目不能{verb}：" + "；".join(blockers),
            field="resources",
            errors=[{"field": "resources", "message": b} for b in blockers],
            blocking=blocking,
        )
    previous = project.stage
    project.stage = target
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=STAGE_ACTIONS[target],
        object_type="project",
        object_id=project.id,
        details={
            "from": previous.value,
            "to": target.value,
            "note": note.strip(),
            "resources": [r.resource.code for r in readiness.resources],
        },
    )
    if target is not ProjectStage.BUILDING:
        inbox.notify(
            db_session,
            user_ids=inbox.recipients(db_session, organization_ids=[project.organization_id]),
            notice=inbox.Notice(
                "catalog.project",
                f"项目已{verb}：{project.name}",
                note.strip(),
                link(project),
            ),
        )
    return project
