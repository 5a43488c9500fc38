"""IT projects (CAT-9): approval needs the project catalog pre-compiled, acceptance needs it
published; the project page says which and why."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import ItProject, ProjectStage, Resource
from govshare.catalog.schemas import ReviewIn
from govshare.catalog.service import projects, resources
from govshare.catalog.service.projects import ProjectIn
from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role
from govshare.exchange.models import (
    BindingState,
    Cipher,
    Connection,
    ConnectionRole,
    DatabaseKind,
    FileVersion,
    RunKind,
    RunState,
    RunTrigger,
    ServiceInterface,
    SyncRun,
    TableBinding,
)
from govshare.identity.models import Organization
from tests.builders import actor_of, operator, organization, user
from tests.catalog.builders import RULES, published, resource_in
from tests.http import csrf_for, sign_in


@dataclass
class People:
    op: Actor
    authority: Actor
    mz: Organization
    mz_officer: Actor
    mz_head: Actor
    mz_staff: Actor
    gaj_officer: Actor


@pytest.fixture
def people(db: Session) -> People:
    op, _ = operator(db)
    zfb = organization(db, "江州市人民政府办公室")
    mz = organization(db, "江州市民政局")
    gaj = organization(db, "江州市公安局")
    return People(
        op=op,
        authority=actor_of(user(db, zfb, [Role.AUTHORITY], "authority")),
        mz=mz,
        mz_officer=actor_of(user(db, mz, [Role.DATA_OFFICER], "mz_officer")),
        mz_head=actor_of(user(db, mz, [Role.DEPARTMENT_HEAD], "mz_head")),
        mz_staff=actor_of(user(db, mz, [Role.DEPARTMENT_STAFF], "mz_staff")),
        gaj_officer=actor_of(user(db, gaj, [Role.DATA_OFFICER], "gaj_officer")),
    )


def project_in(**kw: object) -> ProjectIn:
    fields: dict[str, object] = {
        "name": "智慧民政综合服务平台",
        "project_number": "JZ-XXH-2026-017",
        "budget": "3800000.00",
        "description": "婚姻登记、社会救助一体化办理",
    }
    return ProjectIn.model_validate(fields | kw)


def draft(db: Session, actor: Actor, **kw: object) -> Resource:
    return resources.create_resource(db, actor=actor, data=resource_in(**kw), rules=RULES)


def test_readiness_for_approval_and_acceptance(db: Session, people: People) -> None:
    project = projects.create_project(db, actor=people.mz_officer, data=project_in())
    assert project.stage is ProjectStage.PLANNING and project.budget == Decimal("3800000.00")
    empty = projects.project_readiness(project)
    assert (empty.may_approve, empty.may_accept) == (False, False)
    assert empty.approve_blockers == ["项目信息资源目录为空：立项前须预编至少一项资源"]
    with pytest.raises(Conflict) as blocked:
        projects.advance_stage(db, actor=people.authority, project_id=project.id, to="approved")
    assert blocked.value.field == "resources" and "目录为空" in blocked.value.message

    resource = draft(db, people.mz_staff, name="社会救助对象信息")
    projects.add_project_resource(
        db, actor=people.mz_head, project_id=project.id, resource_id=resource.id
    )
    ready = projects.project_readiness(project)
    assert ready.may_approve and not ready.may_accept
    assert ready.accept_blockers == [
        f"社会救助对象信息（{resource.code}）：已编制·草稿，尚未在平台发布"
    ]
    with pytest.raises(Forbidden):
        projects.advance_stage(db, actor=people.mz_officer, project_id=project.id, to="approved")
    projects.advance_stage(
        db, actor=people.authority, project_id=project.id, to="approved", note="江发改〔2026〕12号"
    )
    assert project.stage is ProjectStage.APPROVED
    assert inbox.list_notifications(db, actor=people.mz_staff).rows[0].title == (
        "项目已立项：智慧民政综合服务平台"
    )
    projects.advance_stage(db, actor=people.mz_officer, project_id=project.id, to="building")
    with pytest.raises(Conflict) as not_published:
        projects.advance_stage(db, actor=people.authority, project_id=project.id, to="accepted")
    assert resource.code in not_published.value.message
    assert not_published.value.extra["blocking"] == [resource.code]

    (version,) = resources.list_versions(db, actor=people.mz_officer, resource_id=resource.id)
    resources.submit_version(db, actor=people.mz_officer, version_id=version.id, rules=RULES)
    resources.review_version(
        db, actor=people.op, version_id=version.id, decision=ReviewIn(approve=True), rules=RULES
    )
    # Published, but its data is not on the platform (WH§16 未数据归集).
    with pytest.raises(Conflict) as no_data:
        projects.advance_stage(db, actor=people.op, project_id=project.id, to="accepted")
    assert no_data.value.message == (
        f"项目不能验收：社会救助对象信息（{resource.code}）：数据未归集到平台（库表尚未绑定）"
    )
    assert no_data.value.extra["blocking"] == [resource.code]
    synced(db, resource, people.mz_officer)
    assert projects.project_readiness(project).may_accept
    projects.advance_stage(db, actor=people.op, project_id=project.id, to="accepted")
    assert project.stage is ProjectStage.ACCEPTED
    with pytest.raises(Conflict):
        projects.remove_project_resource(
            db, actor=people.mz_officer, project_id=project.id, resource_id=resource.id
        )


def _connection(db: Session, resource: Resource, actor: Actor) -> Connection:
    now = clock.now()
    connection = Connection(
        organization_id=resource.provider_id,
        name=f"业务库只读副本 {resource.code}",
        role=ConnectionRole.SOURCE,
        kind=DatabaseKind.SQLITE,
        database="sources/people.db",
        cipher=Cipher.AES_GCM,
        created_at=now,
        created_by=actor.label,
        updated_at=now,
    )
    db.add(connection)
    return connection


def bound(db: Session, resource: Resource, actor: Actor) -> TableBinding:
    """The resource bound to a source table (the rows the exchange's binding service writes)."""
    now = clock.now()
    binding = TableBinding(
        resource_id=resource.id,
        connection=_connection(db, resource, actor),
        source_table="people",
        columns=[{"item": "姓名", "column": "name", "type": "text"}],
        key_columns=["name"],
        center_table=f"r_{resource.id}",
        state=BindingState.ACTIVE,
        created_at=now,
        created_by=actor.label,
        updated_at=now,
    )
    db.add(binding)
    db.flush()
    return binding


def run_of(db: Session, binding: TableBinding, state: RunState) -> SyncRun:
    run = SyncRun(
        binding_id=binding.id,
        kind=RunKind.FULL,
        trigger=RunTrigger.MANUAL,
        state=state,
        queued_at=clock.now(),
        queued_by="test",
    )
    db.add(run)
    db.flush()
    return run


def synced(db: Session, resource: Resource, actor: Actor) -> None:
    run_of(db, bound(db, resource, actor), RunState.SUCCEEDED)


def ready_to_accept(db: Session, people: People, resources_: list[Resource]) -> ItProject:
    project = projects.create_project(db, actor=people.mz_officer, data=project_in())
    for resource in resources_:
        projects.add_project_resource(
            db, actor=people.mz_officer, project_id=project.id, resource_id=resource.id
        )
    projects.advance_stage(db, actor=people.op, project_id=project.id, to="approved")
    projects.advance_stage(db, actor=people.op, project_id=project.id, to="building")
    return project


def test_acceptance_checks_the_data_of_every_kind_of_resource(db: Session, people: People) -> None:
    table = published(db, people.mz_officer, people.op, name="婚姻登记信息")
    files = published(
        db,
        people.mz_officer,
        people.op,
        name="社会组织年检报告",
        format="electronic_file",
        format_detail="PDF",
        share_methods=["file"],
        items=[],
    )
    service = published(
        db,
        people.mz_officer,
        people.op,
        name="低保对象核验服务",
        format="service_interface",
        format_detail="REST",
        share_methods=["service"],
        items=[],
    )
    project = ready_to_accept(db, people, [table, files, service])
    readiness = projects.project_readiness(project)
    assert not readiness.may_accept
    assert {r.resource.code: r.data for r in readiness.resources} == {
        table.code: "库表尚未绑定",
        files.code: "尚未上传文件",
        service.code: "尚未注册服务接口",
    }
    # A binding whose runs all failed has no data in the center yet.
    run_of(db, bound(db, table, people.mz_officer), RunState.FAILED)
    db.add(
        FileVersion(
            resource_id=files.id,
            number=1,
            filename="2026年检.pdf",
            content_type="application/pdf",
            size=3,
            sha256="0" * 64,
            storage_key="k",
            uploaded_at=clock.now(),
            uploaded_by=people.mz_officer.label,
        )
    )
    now = clock.now()
    db.add(
        ServiceInterface(
            resource_id=service.id,
            base_url="http://10.0.0.8/api",
            created_at=now,
            created_by=people.mz_officer.label,
            updated_at=now,
        )
    )
    db.flush()
    with pytest.raises(Conflict) as refused:
        projects.advance_stage(db, actor=people.authority, project_id=project.id, to="accepted")
    assert refused.value.extra["blocking"] == [table.code]
    assert f"婚姻登记信息（{table.code}）：数据未归集到平台（库表已绑定，尚无成功的同步）" in (
        refused.value.message
    )
    assert files.code not in refused.value.message and service.code not in refused.value.message
    binding = db.execute(select(TableBinding).where(TableBinding.resource_id == table.id)).scalar()
    assert binding is not None
    run_of(db, binding, RunState.SUCCEEDED)
    projects.advance_stage(db, actor=people.authority, project_id=project.id, to="accepted")
    assert project.stage is ProjectStage.ACCEPTED


def test_a_resource_with_only_withdrawn_versions_is_not_compiled(
    db: Session, people: People
) -> None:
    project = projects.create_project(db, actor=people.mz_officer, data=project_in())
    kept = draft(db, people.mz_staff, name="低保家庭信息")
    dropped = draft(db, people.mz_staff, name="临时救助信息")
    for resource in (kept, dropped):
        projects.add_project_resource(
            db, actor=people.mz_officer, project_id=project.id, resource_id=resource.id
        )
    (version,) = resources.list_versions(db, actor=people.mz_officer, resource_id=dropped.id)
    resources.withdraw_version(db, actor=people.mz_officer, version_id=version.id)
    readiness = projects.project_readiness(project)
    assert not readiness.may_approve
    assert readiness.approve_blockers == [
        f"临时救助信息（{dropped.code}）：仅有已撤回的版本，不算已编制"
    ]
    with pytest.raises(Conflict) as blocked:
        projects.advance_stage(db, actor=people.authority, project_id=project.id, to="approved")
    assert blocked.value.extra["blocking"] == [dropped.code]
    projects.remove_project_resource(
        db, actor=people.mz_officer, project_id=project.id, resource_id=dropped.id
    )
    assert projects.project_readiness(project).may_approve


def test_only_the_departments_own_resources_go_in(db: Session, people: People) -> None:
    project = projects.create_project(db, actor=people.mz_officer, data=project_in())
    foreign = published(db, people.gaj_officer, people.op, name="户籍人口信息")
    with pytest.raises(NotFound) as refused:
        projects.add_project_resource(
            db, actor=people.mz_officer, project_id=project.id, resource_id=foreign.id
        )
    assert refused.value.field == "resource_id"
    own = draft(db, people.mz_staff)
    projects.add_project_resource(
        db, actor=people.mz_officer, project_id=project.id, resource_id=own.id
    )
    with pytest.raises(Conflict):
        projects.add_project_resource(
            db, actor=people.mz_officer, project_id=project.id, resource_id=own.id
        )
    with pytest.raises(Forbidden):
        projects.add_project_resource(
            db, actor=people.mz_staff, project_id=project.id, resource_id=own.id
        )
    with pytest.raises(NotFound):
        projects.remove_project_resource(
            db, actor=people.mz_officer, project_id=project.id, resource_id=foreign.id
        )


def test_stages_follow_in_order(db: Session, people: People) -> None:
    project = projects.create_project(db, actor=people.mz_officer, data=project_in())
    projects.add_project_resource(
        db,
        actor=people.mz_officer,
        project_id=project.id,
        resource_id=draft(db, people.mz_staff).id,
    )
    with pytest.raises(Conflict) as skipped:
        projects.advance_stage(db, actor=people.authority, project_id=project.id, to="building")
    assert skipped.value.field == "to"
    with pytest.raises(Invalid):
        projects.advance_stage(db, actor=people.authority, project_id=project.id, to="finished")
    projects.advance_stage(db, actor=people.authority, project_id=project.id, to="approved")
    with pytest.raises(Conflict):  # a second click records nothing twice
        projects.advance_stage(db, actor=people.authority, project_id=project.id, to="approved")


def test_who_registers_and_who_sees(db: Session, people: People) -> None:
    with pytest.raises(Forbidden):
        projects.create_project(db, actor=people.mz_staff, data=project_in())
    with pytest.raises(Forbidden):
        projects.create_project(db, actor=people.authority, data=project_in())
    with pytest.raises(Forbidden) as elsewhere:
        projects.create_project(
            db, actor=people.gaj_officer, data=project_in(organization_id=people.mz.id)
        )
    assert elsewhere.value.field == "organization_id"
    mine = projects.create_project(db, actor=people.mz_officer, data=project_in())
    with pytest.raises(Conflict) as duplicate:
        projects.create_project(db, actor=people.gaj_officer, data=project_in())
    assert duplicate.value.field == "project_number"
    theirs = projects.create_project(
        db, actor=people.gaj_officer, data=project_in(project_number="JZ-XXH-2026-018")
    )
    by_operator = projects.create_project(
        db,
        actor=people.op,
        data=project_in(project_number="JZ-XXH-2026-019", organization_id=people.mz.id),
    )
    assert by_operator.organization_id == people.mz.id
    with pytest.raises(NotFound):
        projects.get_project(db, actor=people.mz_staff, project_id=theirs.id)
    assert projects.list_projects(db, actor=people.mz_staff) == [by_operator, mine]
    assert len(projects.list_projects(db, actor=people.authority)) == 3
    assert projects.list_projects(db, actor=people.authority, stage=ProjectStage.APPROVED) == []
    with pytest.raises(Conflict) as taken:
        projects.update_project(
            db,
            actor=people.mz_head,
            project_id=mine.id,
            data=project_in(project_number="JZ-XXH-2026-018"),
        )
    assert taken.value.field == "project_number"
    projects.update_project(
        db, actor=people.mz_head, project_id=mine.id, data=project_in(budget="4000000")
    )
    assert mine.budget == Decimal("4000000")


def _as(client: TestClient, app: FastAPI, username: str) -> dict[str, str]:
    client.cookies.clear()
    assert sign_in(client, username).status_code == 200
    return csrf_for(app, client)


def test_project_pages_and_api(
    app: FastAPI, client: TestClient, db: Session, people: People
) -> None:
    resource = draft(db, people.mz_staff, name="社会救助对象信息")
    db.commit()
    headers = _as(client, app, "mz_officer")
    refused = client.post(
        "/catalog/projects",
        data={"name": "智慧民政", "project_number": "XM-1", "budget": "-5"},
        headers=headers,
    )
    assert refused.status_code == 422 and "field-error" in refused.text
    created = client.post(
        "/catalog/projects",
        data={"name": "智慧民政", "project_number": "XM-1", "budget": "120000.50"},
        headers=headers,
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    project_url = created.headers["location"]
    page = client.get(project_url)
    assert "不可立项" in page.text and resource.code in page.text  # offered to be listed
    added = client.post(
        f"{project_url}/resources", data={"resource_id": str(resource.id)}, headers=headers
    )
    assert "可以立项" in added.text and "已编制·草稿" in added.text
    assert "登记立项" not in added.text  # the department does not record approval
    listing = client.get("/catalog/projects")
    assert "可立项" in listing.text and "120,000.50" in listing.text

    headers = _as(client, app, "authority")
    approved = client.post(f"{project_url}/stage", data={"to": "approved"}, headers=headers)
    assert "已登记立项" in approved.text
    project_id = int(project_url.rsplit("/", 1)[1])
    api = client.get(f"/api/v1/catalog/projects/{project_id}").json()
    assert api["stage"] == "approved" and api["readiness"]["may_approve"] is True
    assert api["resources"][0]["code"] == resource.code and not api["resources"][0]["published"]
    blocked = client.post(
        f"/api/v1/catalog/projects/{project_id}/stage", json={"to": "accepted"}, headers=headers
    )
    assert blocked.status_code == 409 and blocked.json()["field"] == "to"
    assert db.get(ItProject, project_id) is not None
