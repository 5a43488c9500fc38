"""Catalog API: budget-funded IT projects and their resource catalogs (CAT-9)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from govshare.catalog.models import ItProject, ProjectStage
from govshare.catalog.service import projects
from govshare.catalog.service.projects import ProjectIn
from govshare.core.inputs import Id
from govshare.web.deps import DB, SignedIn

router = APIRouter(prefix="/catalog", tags=["资源目录"])


class ProjectResourceOut(BaseModel):
    resource_id: int
    code: str
    name: str
    state: str
    compiled: bool
    published: bool
    has_data: bool = Field(description="数据已归集到平台：库表已同步、文件已上传或服务接口已注册")
    missing_data: str = Field(description="缺少的数据（has_data 为 true 时为空）")


class ReadinessOut(BaseModel):
    may_approve: bool
    may_accept: bool
    approve_blockers: list[str]
    accept_blockers: list[str]


class ProjectOut(BaseModel):
    id: int
    organization_id: int
    organization: str
    name: str
    project_number: str
    budget: Decimal
    stage: str
    stage_label: str
    description: str
    created_at: datetime
    created_by: str
    resources: list[ProjectResourceOut]
    readiness: ReadinessOut


def _out(project: ItProject) -> ProjectOut:
    readiness = projects.project_readiness(project)
    return ProjectOut(
        id=project.id,
        organization_id=project.organization_id,
        organization=project.organization.name,
        name=project.name,
        project_number=project.project_number,
        budget=project.budget,
        stage=project.stage.value,
        stage_label=project.stage.label,
        description=project.description,
        created_at=project.created_at,
        created_by=project.created_by,
        resources=[
            ProjectResourceOut(
                resource_id=r.resource.id,
                code=r.resource.code,
                name=r.name,
                state=r.state,
                compiled=r.compiled,
                published=r.published,
                has_data=r.has_data,
                missing_data=r.data,
            )
            for r in readiness.resources
        ],
        readiness=ReadinessOut(
            may_approve=readiness.may_approve,
            may_accept=readiness.may_accept,
            approve_blockers=readiness.approve_blockers,
            accept_blockers=readiness.accept_blockers,
        ),
    )


@router.post("/projects", status_code=201, summary="登记信息化项目")
def create(db_session: DB, actor: SignedIn, data: ProjectIn) -> ProjectOut:
    return _out(projects.create_project(db_session, actor=actor, data=data))


@router.get("/projects", summary="信息化项目")
def list_all(
    db_session: DB,
    actor: SignedIn,
    organization_id: Id | None = None,
    stage: ProjectStage | None = None,
) -> list[ProjectOut]:
    rows = projects.list_projects(
        db_session, actor=actor, organization_id=organization_id, stage=stage
    )
    return [_out(p) for p in rows]


@router.get("/projects/{project_id}", summary="信息化项目详情（含能否立项、能否验收）")
def get(db_session: DB, actor: SignedIn, project_id: Id) -> ProjectOut:
    return _out(projects.get_project(db_session, actor=actor, project_id=project_id))


@router.put("/projects/{project_id}", summary="修改信息化项目")
def update(db_session: DB, actor: SignedIn, project_id: Id, data: ProjectIn) -> ProjectOut:
    found = projects.update_project(db_session, actor=actor, project_id=project_id, data=data)
    return _out(found)


@router.post(
    "/projects/{project_id}/resources/{resource_id}",
    status_code=201,
    summary="将本单位资源列入项目信息资源目录",
)
def add_resource(db_session: DB, actor: SignedIn, project_id: Id, resource_id: Id) -> ProjectOut:
    found = projects.add_project_resource(
        db_session, actor=actor, project_id=project_id, resource_id=resource_id
    )
    return _out(found)


@router.delete("/projects/{project_id}/resources/{resource_id}", summary="移出项目信息资源目录")
def remove_resource(db_session: DB, actor: SignedIn, project_id: Id, resource_id: Id) -> ProjectOut:
    found = projects.remove_project_resource(
        db_session, actor=actor, project_id=project_id, resource_id=resource_id
    )
    return _out(found)


class StageIn(BaseModel):
    to: ProjectStage
    note: str = Field(default="", max_length=2000)


@router.post("/projects/{project_id}/stage", summary="登记立项、开始建设或验收")
def advance(db_session: DB, actor: SignedIn, project_id: Id, data: StageIn) -> ProjectOut:
    found = projects.advance_stage(
        db_session, actor=actor, project_id=project_id, to=data.to, note=data.note
    )
    return _out(found)
