"""Catalog pages: budget-funded IT projects and their resource catalogs (CAT-9)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from govshare.catalog.models import ItProject, ProjectStage, ResourceStatus
from govshare.catalog.service import common, overview, projects
from govshare.catalog.service.projects import ProjectIn
from govshare.core.errors import DomainError
from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role
from govshare.evaluation.service import results as evaluation_results
from govshare.identity import service as identity_service
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, field_errors, filled, optional_id
from govshare.web.templating import redirect, render

router = APIRouter()


def _list_context(
    db_session: DB,
    actor: Actor,
    organization_id: int | None = None,
    stage: str = "",
    **extra: Any,
) -> dict[str, Any]:
    supervisor = actor.has(*projects.SUPERVISORS)
    chosen = ProjectStage(stage) if stage in {s.value for s in ProjectStage} else None
    rows = projects.list_projects(
        db_session,
        actor=actor,
        organization_id=organization_id if supervisor else None,
        stage=chosen,
    )
    return {
        "rows": [(p, projects.project_readiness(p)) for p in rows],
        "supervisor": supervisor,
        "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        "can_create": actor.has(*common.SUBMITTERS, Role.PLATFORM_OPERATOR),
        "organizations": identity_service.list_organizations(db_session, actor=actor),
        "organization_id": organization_id,
        "stage": chosen.value if chosen else "",
        "stages": ProjectStage.choices(),
        "form": {},
        "errors": {},
        **extra,
    }


@router.get("/catalog/projects", response_class=HTMLResponse)
def project_list(
    request: Request,
    db_session: DB,
    actor: PageActor,
    organization_id: str | None = None,
    stage: str = "",
) -> Response:
    context = _list_context(db_session, actor, optional_id(organization_id), stage)
    return render(request, "catalog/projects.html", context)


@router.post("/catalog/projects", response_class=HTMLResponse)
def project_create(
    request: Request, db_session: DB, actor: PageActor, form: PostedForm
) -> Response:
    try:
        project = projects.create_project(db_session, actor=actor, data=ProjectIn(**filled(form)))
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        context = _list_context(db_session, actor, form=form, errors=field_errors(exc))
        return render(request, "catalog/projects.html", context, 422)
    return redirect(
        f"/catalog/projects/{project.id}", "项目已登记。请将项目涉及的资源列入项目信息资源目录"
    )


def _next_action(actor: Actor, project: ItProject) -> tuple[ProjectStage, str] | None:
    """The next stage the actor may record, with the button's words."""
    target = projects.NEXT_STAGE.get(project.stage)
    if target is None:
        return None
    # The department records the start of construction; approval and acceptance are the
    # authority's (or the operator's) to record.
    allowed = actor.has(*projects.SUPERVISORS) or (
        target is ProjectStage.BUILDING and projects.can_manage(actor, project)
    )
    words = {
        ProjectStage.APPROVED: "登记立项",
        ProjectStage.BUILDING: "登记开始建设",
        ProjectStage.ACCEPTED: "登记验收",
    }[target]
    return (target, words) if allowed else None


def _detail_context(db_session: DB, actor: Actor, project_id: int, **extra: Any) -> dict[str, Any]:
    project = projects.get_project(db_session, actor=actor, project_id=project_id)
    readiness = projects.project_readiness(project)
    editable = projects.can_manage(actor, project) and project.stage is not ProjectStage.ACCEPTED
    listed = {row.resource_id for row in project.resource_rows}
    candidates = (
        [
            row
            for row in overview.department_resources(
                db_session, actor=actor, organization_id=project.organization_id
            )
            if row.resource.id not in listed and row.resource.status is not ResourceStatus.RETIRED
        ]
        if editable
        else []
    )
    form = {
        "name": project.name,
        "project_number": project.project_number,
        "budget": project.budget,
        "description": project.description,
    }
    return {
        "project": project,
        "readiness": readiness,
        "editable": editable,
        "candidates": candidates,
        "next_action": _next_action(actor, project),
        "form": form,
        "errors": {},
        **extra,
    }


@router.get("/catalog/projects/{project_id}", response_class=HTMLResponse)
def project_detail(request: Request, db_session: DB, actor: PageActor, project_id: Id) -> Response:
    context = _detail_context(db_session, actor, project_id)
    runtime = runtime_of(request)
    # SY§20, WH§15: the department's evaluation weighs in the approval of its IT projects.
    context["standing"] = evaluation_results.standing(
        db_session,
        actor=actor,
        profile=runtime.profile,
        city=runtime.city_name,
        organization_id=context["project"].organization_id,
    )
    return render(request, "catalog/projects_detail.html", context)


@router.post("/catalog/projects/{project_id}", response_class=HTMLResponse)
def project_update(
    request: Request, db_session: DB, actor: PageActor, project_id: Id, form: PostedForm
) -> Response:
    try:
        projects.update_project(
            db_session, actor=actor, project_id=project_id, data=ProjectIn(**filled(form))
        )
    except (ValidationError, DomainError) as exc:
        db_session.rollback()
        context = _detail_context(db_session, actor, project_id, errors=field_errors(exc))
        context["form"] = form
        return render(request, "catalog/projects_detail.html", context, 422)
    return redirect(f"/catalog/projects/{project_id}", "已保存")


def _act(db_session: DB, project_id: int, done: str, call: Any) -> Response:
    """Runs one action; a refusal comes back to the project page as a message."""
    try:
        call()
    except DomainError as exc:
        db_session.rollback()
        return redirect(f"/catalog/projects/{project_id}", f"未能办理：{exc.message}")
    return redirect(f"/catalog/projects/{project_id}", done)


@router.post("/catalog/projects/{project_id}/resources")
def project_add_resource(
    db_session: DB,
    actor: PageActor,
    project_id: Id,
    resource_id: Annotated[str, Form()] = "",
) -> Response:
    chosen = optional_id(resource_id)
    return _act(
        db_session,
        project_id,
        "已列入项目信息资源目录",
        lambda: projects.add_project_resource(
            db_session, actor=actor, project_id=project_id, resource_id=chosen or 0
        ),
    )


@router.post("/catalog/projects/{project_id}/resources/{resource_id}/remove")
def project_remove_resource(
    db_session: DB, actor: PageActor, project_id: Id, resource_id: Id
) -> Response:
    return _act(
        db_session,
        project_id,
        "已移出项目信息资源目录",
        lambda: projects.remove_project_resource(
            db_session, actor=actor, project_id=project_id, resource_id=resource_id
        ),
    )


@router.post("/catalog/projects/{project_id}/stage")
def project_stage(
    db_session: DB,
    actor: PageActor,
    project_id: Id,
    to: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    words = {
        "approved": "已登记立项",
        "building": "已登记开始建设",
        "accepted": "已登记验收",
    }.get(to, "已办理")
    return _act(
        db_session,
        project_id,
        words,
        lambda: projects.advance_stage(
            db_session, actor=actor, project_id=project_id, to=to, note=note
        ),
    )
