"""Needs and responsibility lists (CAT-10): a department states a need, the operator assigns
it, the assignee answers, everyone concerned hears of it; each department's responsibility
list shows what it owes and since when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from govshare.catalog.models import NeedState, Resource
from govshare.catalog.schemas import ChangeEventIn, ReviewIn
from govshare.catalog.service import changes, needs, projects, resources
from govshare.catalog.service.needs import NeedIn
from govshare.catalog.service.projects import ProjectIn
from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role
from govshare.core.policy import load_profile
from govshare.identity.models import Organization
from tests.builders import actor_of, operator, organization, user
from tests.catalog.builders import RULES, published, resource_in
from tests.http import csrf_for, sign_in

SHAOYANG = load_profile("shaoyang").rules


@dataclass
class People:
    op: Actor
    authority: Actor
    mz: Organization
    mz_officer: Actor
    mz_staff: Actor
    gaj: Organization
    gaj_officer: Actor
    gaj_staff: Actor
    rsj: Organization
    rsj_officer: Actor


@pytest.fixture
def people(db: Session) -> People:
    op, _ = operator(db)
    zfb = organization(db, "江州市人民政府办公室")
    mz = organization(db, "江州市民政局", short_name="市民政局")
    gaj = organization(db, "江州市公安局", short_name="市公安局")
    rsj = organization(db, "江州市人力资源和社会保障局", short_name="市人社局")
    return People(
        op=op,
        authority=actor_of(user(db, zfb, [Role.AUTHORITY], "authority")),
        mz=mz,
        mz_officer=actor_of(user(db, mz, [Role.DATA_OFFICER], "mz_officer")),
        mz_staff=actor_of(user(db, mz, [Role.DEPARTMENT_STAFF], "mz_staff")),
        gaj=gaj,
        gaj_officer=actor_of(user(db, gaj, [Role.DATA_OFFICER], "gaj_officer")),
        gaj_staff=actor_of(user(db, gaj, [Role.DEPARTMENT_STAFF], "gaj_staff")),
        rsj=rsj,
        rsj_officer=actor_of(user(db, rsj, [Role.DATA_OFFICER], "rsj_officer")),
    )


def uncatalogued(people: People, **kw: object) -> NeedIn:
    fields: dict[str, object] = {
        "title": "死亡人员信息",
        "description": "办理养老金停发需要核实死亡人员身份",
        "expected_provider_id": people.gaj.id,
    }
    return NeedIn.model_validate(fields | kw)


def titles(actor: Actor, db: Session) -> list[str]:
    return [n.title for n in inbox.list_notifications(db, actor=actor).rows]


def test_a_need_is_stated_assigned_and_fulfilled(db: Session, people: People) -> None:
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        need = needs.state_need(db, actor=people.mz_staff, data=uncatalogued(people))
    assert need.state is NeedState.OPEN and need.expected_provider_id == people.gaj.id
    assert titles(people.op, db) == ["数据需求待分派：死亡人员信息"]

    with clock.frozen("2026-11-03T15:00:00+08:00"):
        needs.assign_need(
            db, actor=people.op, need_id=need.id, organization_id=people.gaj.id, note="请核实"
        )
    assert need.state is NeedState.ASSIGNED
    assert titles(people.gaj_staff, db) == ["数据需求已分派给本单位：死亡人员信息"]
    assert titles(people.mz_officer, db) == ["需求已分派给江州市公安局：死亡人员信息"]
    (owed,) = needs.responsibility_list(db, actor=people.gaj_staff)
    assert (owed.kind, owed.since, owed.due) == ("need", date(2026, 11, 3), None)
    assert owed.title == "死亡人员信息（市民政局提出）" and owed.link == f"/catalog/needs/{need.id}"

    with pytest.raises(Forbidden):
        needs.answer_need(db, actor=people.mz_officer, need_id=need.id, fulfilled=True)
    with pytest.raises(Forbidden):
        needs.answer_need(db, actor=people.gaj_staff, need_id=need.id, fulfilled=True)
    with pytest.raises(Invalid) as no_reason:
        needs.answer_need(db, actor=people.gaj_officer, need_id=need.id, fulfilled=False)
    assert no_reason.value.field == "answer"

    deaths = published(db, people.gaj_officer, people.op, name="死亡人员信息")
    needs.answer_need(
        db,
        actor=people.gaj_officer,
        need_id=need.id,
        fulfilled=True,
        answer="已编目并发布，可申请使用",
        resource_code=deaths.code,
    )
    assert need.state is NeedState.FULFILLED and need.fulfilled_by_id == deaths.id
    assert titles(people.mz_staff, db)[0] == "需求已满足：死亡人员信息"
    assert needs.responsibility_list(db, actor=people.gaj_staff) == []
    with pytest.raises(Conflict):
        needs.assign_need(db, actor=people.op, need_id=need.id, organization_id=people.rsj.id)


def test_a_need_for_a_catalogued_resource_points_at_its_provider(
    db: Session, people: People
) -> None:
    resource = published(db, people.gaj_officer, people.op, name="户籍人口信息")
    draft = resources.create_resource(
        db, actor=people.gaj_officer, data=resource_in(name="流动人口信息"), rules=RULES
    )
    need = needs.state_need(
        db,
        actor=people.mz_officer,
        data=NeedIn(resource_code=resource.code, description="需增加“迁入日期”信息项"),
    )
    assert need.title == "户籍人口信息" and need.resource_id == resource.id
    assert need.expected_provider_id == people.gaj.id
    with pytest.raises(NotFound):  # another department's draft is not visible
        needs.state_need(
            db, actor=people.mz_officer, data=NeedIn(resource_id=draft.id, description="需要该数据")
        )
    with pytest.raises(Conflict) as not_published:
        needs.state_need(
            db, actor=people.gaj_staff, data=NeedIn(resource_id=draft.id, description="需要该数据")
        )
    assert not_published.value.field == "resource_id"
    with pytest.raises(Invalid) as own:
        needs.state_need(
            db,
            actor=people.gaj_staff,
            data=NeedIn(resource_id=resource.id, description="本单位的资源"),
        )
    assert own.value.field == "resource_id"
    with pytest.raises(NotFound) as unknown:
        needs.state_need(
            db,
            actor=people.mz_officer,
            data=NeedIn(resource_code="399999/000009", description="需要该数据"),
        )
    assert unknown.value.field == "resource_code"


def test_an_uncatalogued_need_names_its_title_and_expected_provider(
    db: Session, people: People
) -> None:
    cases = {
        "title": uncatalogued(people, title=""),
        "expected_provider_id": uncatalogued(people, expected_provider_id=None),
    }
    for field, data in cases.items():
        with pytest.raises(Invalid) as refused:
            needs.state_need(db, actor=people.mz_staff, data=data)
        assert refused.value.field == field
    with pytest.raises(Invalid) as itself:
        needs.state_need(
            db, actor=people.mz_staff, data=uncatalogued(people, expected_provider_id=people.mz.id)
        )
    assert itself.value.field == "expected_provider_id"
    with pytest.raises(Forbidden):
        needs.state_need(db, actor=people.op, data=uncatalogued(people))
    with pytest.raises(Forbidden):
        needs.state_need(db, actor=people.authority, data=uncatalogued(people))


def test_a_declined_need_can_be_reassigned(db: Session, people: People) -> None:
    need = needs.state_need(db, actor=people.mz_staff, data=uncatalogued(people))
    with pytest.raises(Invalid) as to_itself:
        needs.assign_need(db, actor=people.op, need_id=need.id, organization_id=people.mz.id)
    assert to_itself.value.field == "organization_id"
    with pytest.raises(Forbidden):
        needs.assign_need(
            db, actor=people.gaj_officer, need_id=need.id, organization_id=people.gaj.id
        )
    needs.assign_need(db, actor=people.op, need_id=need.id, organization_id=people.rsj.id)
    needs.assign_need(db, actor=people.op, need_id=need.id, organization_id=people.gaj.id)
    assert needs.responsibility_list(db, actor=people.rsj_officer) == []
    with pytest.raises(NotFound):  # no longer the assignee
        needs.get_need(db, actor=people.rsj_officer, need_id=need.id)

    foreign = published(db, people.rsj_officer, people.op, name="参保人员信息")
    with pytest.raises(Invalid) as not_theirs:
        needs.answer_need(
            db,
            actor=people.gaj_officer,
            need_id=need.id,
            fulfilled=True,
            resource_code=foreign.code,
        )
    assert not_theirs.value.field == "resource_code"
    needs.answer_need(
        db,
        actor=people.gaj_officer,
        need_id=need.id,
        fulfilled=False,
        answer="死亡信息由卫健委出具医学死亡证明，本单位只登记户籍注销",
    )
    assert need.state is NeedState.DECLINED
    assert titles(people.mz_staff, db)[0] == "需求无法满足：死亡人员信息"
    assert titles(people.op, db)[0] == "需求无法满足：死亡人员信息"


def test_needs_are_listed_for_their_departments(db: Session, people: People) -> None:
    stated = needs.state_need(db, actor=people.mz_staff, data=uncatalogued(people))
    other = needs.state_need(
        db, actor=people.rsj_officer, data=uncatalogued(people, title="出生医学证明")
    )
    needs.assign_need(db, actor=people.op, need_id=other.id, organization_id=people.gaj.id)
    assert needs.list_needs(db, actor=people.mz_officer) == [stated]
    assert needs.list_needs(db, actor=people.gaj_officer, assigned=True) == [other]
    assert needs.list_needs(db, actor=people.op) == [other, stated]
    assert needs.list_needs(db, actor=people.op, open_only=True) == [other, stated]
    with pytest.raises(NotFound):
        needs.get_need(db, actor=people.gaj_officer, need_id=stated.id)
    with pytest.raises(Forbidden):
        needs.list_needs(db, actor=people.authority)


def test_the_responsibility_list_gathers_what_is_owed(db: Session, people: People) -> None:
    with clock.frozen("2026-11-02T09:00:00+08:00"):
        need = needs.state_need(db, actor=people.mz_staff, data=uncatalogued(people))
        needs.assign_need(db, actor=people.op, need_id=need.id, organization_id=people.gaj.id)
        event = changes.record_change_event(
            db,
            actor=people.gaj_staff,
            data=ChangeEventIn(
                cause="duty_change", description="出入境管理职能划入", occurred_on=date(2026, 9, 25)
            ),
            rules=SHAOYANG,
        )
        returned = resources.create_resource(
            db, actor=people.gaj_staff, data=resource_in(name="出入境证件信息"), rules=RULES
        )
        (version,) = resources.list_versions(db, actor=people.gaj_officer, resource_id=returned.id)
        resources.submit_version(db, actor=people.gaj_officer, version_id=version.id, rules=RULES)
        resources.review_version(
            db,
            actor=people.op,
            version_id=version.id,
            decision=ReviewIn(approve=False, comment="摘要未写明数据范围"),
            rules=RULES,
        )
        project = projects.create_project(
            db,
            actor=people.gaj_officer,
            data=ProjectIn(name="雪亮工程二期", project_number="GA-2026-03", budget="5000000"),
        )
        rows = needs.responsibility_list(db, actor=people.gaj_staff)
    assert [(r.kind, r.since) for r in rows] == [
        ("change", date(2026, 9, 25)),
        ("need", date(2026, 11, 2)),
        ("project", date(2026, 11, 2)),
        ("returned", date(2026, 11, 2)),
    ]
    change_row = rows[0]
    assert change_row.due is not None and change_row.due.on == date(2026, 10, 22)
    assert change_row.overdue and change_row.link == changes.link(event)
    assert rows[2].title == "雪亮工程二期：立项前须预编项目信息资源目录"
    assert rows[2].link == projects.link(project)
    assert rows[3].title == "出入境证件信息（第 1 版）：摘要未写明数据范围"
    with pytest.raises(Forbidden):
        needs.responsibility_list(db, actor=people.mz_officer, organization_id=people.gaj.id)
    seen_by_authority = needs.responsibility_list(
        db, actor=people.authority, organization_id=people.gaj.id
    )
    assert [r.kind for r in seen_by_authority] == [r.kind for r in rows]
    assert needs.responsibility_list(db, actor=people.mz_officer) == []


def _as(client: TestClient, app: FastAPI, username: str) -> dict[str, str]:
    client.cookies.clear()
    assert sign_in(client, username).status_code == 200
    return csrf_for(app, client)


def test_need_pages_and_api(app: FastAPI, client: TestClient, db: Session, people: People) -> None:
    resource: Resource = published(db, people.gaj_officer, people.op, name="户籍人口信息")
    db.commit()
    headers = _as(client, app, "mz_officer")
    assert client.get("/catalog/needs").status_code == 200
    refused = client.post(
        "/catalog/needs", data={"title": "", "description": "需要死亡人员信息"}, headers=headers
    )
    assert refused.status_code == 422 and "请填写需求名称" in refused.text
    stated = client.post(
        "/catalog/needs",
        data={"resource_code": resource.code, "description": "需增加迁入日期"},
        headers=headers,
        follow_redirects=False,
    )
    assert stated.status_code == 303, stated.text
    need_url = stated.headers["location"]
    need_id = int(need_url.rsplit("/", 1)[1])

    headers = _as(client, app, "operator")
    detail = client.get(need_url)
    assert "分派" in detail.text and "江州市公安局" in detail.text
    assigned = client.post(
        f"{need_url}/assign", data={"organization_id": str(people.gaj.id)}, headers=headers
    )
    assert "已分派给江州市公安局" in assigned.text

    headers = _as(client, app, "gaj_officer")
    duties = client.get("/catalog/responsibilities")
    assert "户籍人口信息（市民政局提出）" in duties.text
    declined = client.post(f"{need_url}/answer", data={"outcome": "declined"}, headers=headers)
    assert declined.status_code == 422 and "须说明理由" in declined.text
    answered = client.post(
        f"/api/v1/catalog/needs/{need_id}/answer",
        json={"fulfilled": True, "resource_code": resource.code},
        headers=headers,
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "fulfilled"
    assert answered.json()["fulfilled_by_code"] == resource.code
    assert client.get("/api/v1/catalog/responsibilities").json() == []
