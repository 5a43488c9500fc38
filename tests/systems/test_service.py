"""The information systems register (CAT-12): who keeps which entries, the rules of its
dates, private lines and retirement, and the one check other domains ask."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.permissions import Role
from govshare.identity import service as identity_service
from govshare.identity.schemas import ApiTokenIn
from govshare.systems import service as systems_service
from govshare.systems.models import SystemState
from govshare.systems.schemas import ConnectionIn, LineClosureIn, RetireIn
from govshare.systems.service import SystemFilter
from tests.builders import actor_of, operator, organization, user
from tests.systems.builders import line, officer_of, registered, system_in

TODAY = "2026-10-12T09:00:00+08:00"


@pytest.fixture(autouse=True)
def _today():
    with clock.frozen(TODAY):
        yield


def test_an_officer_registers_its_own_departments_system_and_no_other(db: Session) -> None:
    mzj = officer_of(db, "市民政局")
    gaj = officer_of(db, "市公安局")
    system = registered(db, mzj, organization_id=None)
    assert system.organization_id == mzj.organization_id
    assert system.state is SystemState.IN_USE and not system.connected
    with pytest.raises(Conflict) as twice:
        registered(db, mzj, owner="办公室")
    assert twice.value.field == "name" and "名称不能重复" in twice.value.message
    assert registered(db, gaj).organization_id == gaj.organization_id  # same name, other dept
    with pytest.raises(NotFound):
        registered(db, gaj, name="治安系统", organization_id=mzj.organization_id)
    for action in (
        lambda: systems_service.get_system(db, actor=gaj, system_id=system.id),
        lambda: systems_service.update_system(
            db, actor=gaj, system_id=system.id, data=system_in(owner="别人")
        ),
    ):
        with pytest.raises(NotFound):
            action()


def test_the_authority_reads_every_entry_but_keeps_none(db: Session) -> None:
    mzj = officer_of(db, "市民政局")
    system = registered(db, mzj)
    authority = actor_of(user(db, organization(db, "市数据局"), [Role.AUTHORITY]))
    assert systems_service.get_system(db, actor=authority, system_id=system.id) is system
    assert systems_service.list_systems(db, actor=authority) == [system]
    with pytest.raises(Forbidden):
        registered(db, authority, organization_id=mzj.organization_id)
    assert not systems_service.permitted(authority, system).edit


def test_the_operator_names_the_department(db: Session) -> None:
    op, _ = operator(db)
    dept = organization(db, "市医保局")
    with pytest.raises(Invalid) as unnamed:
        registered(db, op)
    assert unnamed.value.field == "organization_id"
    assert registered(db, op, organization_id=dept.id).organization_id == dept.id


def test_an_edit_keeps_the_department_and_a_free_name(db: Session) -> None:
    mzj = officer_of(db, "市民政局")
    system = registered(db, mzj)
    other = registered(db, mzj, name="居民家庭经济状况核对系统")
    with pytest.raises(Conflict):
        systems_service.update_system(
            db, actor=mzj, system_id=other.id, data=system_in(name=system.name)
        )
    with pytest.raises(Invalid) as moved:
        systems_service.update_system(
            db,
            actor=mzj,
            system_id=system.id,
            data=system_in(organization_id=organization(db).id),
        )
    assert moved.value.field == "organization_id"
    edited = systems_service.update_system(
        db, actor=mzj, system_id=system.id, data=system_in(owner="信息中心", level="city")
    )
    assert (edited.owner, edited.level.value) == ("信息中心", "city")


def test_a_connection_is_dated_today_or_before(db: Session) -> None:
    mzj = officer_of(db)
    system = registered(db, mzj)
    with pytest.raises(Invalid) as future:
        systems_service.record_connection(
            db, actor=mzj, system_id=system.id, data=ConnectionIn(connected_on=date(2026, 10, 13))
        )
    assert future.value.field == "connected_on" and "2026-10-12" in future.value.message
    done = systems_service.record_connection(
        db, actor=mzj, system_id=system.id, data=ConnectionIn(connected_on=date(2026, 10, 12))
    )
    assert done.connected and done.connected_on == date(2026, 10, 12)


def test_a_system_with_an_open_line_is_not_retired_until_the_line_is_closed(db: Session) -> None:
    mzj = officer_of(db)
    system = registered(db, mzj)
    open_line = line(db, mzj, system, date(2026, 12, 31))
    with pytest.raises(Conflict, match="1 条专线未关闭"):
        systems_service.retire_system(
            db, actor=mzj, system_id=system.id, data=RetireIn(reason="并入新平台")
        )
    with pytest.raises(Invalid) as future:
        systems_service.close_private_line(
            db, actor=mzj, line_id=open_line.id, data=LineClosureIn(closed_on=date(2026, 11, 1))
        )
    assert future.value.field == "closed_on"
    systems_service.close_private_line(
        db, actor=mzj, line_id=open_line.id, data=LineClosureIn(closed_on=date(2026, 10, 9))
    )
    with pytest.raises(Conflict, match="2026-10-09"):
        systems_service.close_private_line(
            db, actor=mzj, line_id=open_line.id, data=LineClosureIn(closed_on=date(2026, 10, 9))
        )
    retired = systems_service.retire_system(
        db, actor=mzj, system_id=system.id, data=RetireIn(reason="并入新平台")
    )
    assert retired.state is SystemState.RETIRED and retired.retired_on == date(2026, 10, 12)
    with pytest.raises(Conflict, match="已停用"):
        line(db, mzj, system, date(2026, 12, 31))


def test_only_a_departments_own_system_in_use_can_be_named(db: Session) -> None:
    mzj = officer_of(db, "市民政局")
    gaj = officer_of(db, "市公安局")
    own, foreign = registered(db, mzj), registered(db, gaj)
    assert (
        systems_service.system_for_use(
            db, actor=mzj, organization_id=mzj.organization_id, system_id=own.id
        )
        is own
    )
    with pytest.raises(Invalid, match="本单位已登记") as other:
        systems_service.system_for_use(
            db, actor=mzj, organization_id=mzj.organization_id, system_id=foreign.id
        )
    assert other.value.field == "system_id"
    with pytest.raises(NotFound):  # a token for another department's system
        identity_service.issue_api_token(
            db, actor=mzj, data=ApiTokenIn(name="人口核验", system_id=foreign.id)
        )
    systems_service.retire_system(db, actor=mzj, system_id=own.id, data=RetireIn(reason="停运"))
    with pytest.raises(Invalid, match="已停用") as retired:
        identity_service.issue_api_token(
            db, actor=mzj, data=ApiTokenIn(name="人口核验", system_id=own.id)
        )
    assert retired.value.field == "system_id"
    assert systems_service.choices(db, actor=mzj, organization_id=mzj.organization_id) == []


def test_the_list_filters_and_scopes_to_the_department(db: Session) -> None:
    mzj = officer_of(db, "市民政局")
    connected = registered(db, mzj, name="社会救助信息系统")
    systems_service.record_connection(
        db, actor=mzj, system_id=connected.id, data=ConnectionIn(connected_on=date(2026, 9, 1))
    )
    lined = registered(db, mzj, name="100%_核对系统")
    line(db, mzj, lined, date(2026, 12, 31))
    registered(db, officer_of(db, "市公安局"), name="人口信息管理系统")

    def names(**filters: object) -> list[str]:
        found = systems_service.list_systems(db, actor=mzj, filters=SystemFilter(**filters))
        return sorted(s.name for s in found)

    assert names() == ["100%_核对系统", "社会救助信息系统"]  # never another department's
    assert names(connected=True) == ["社会救助信息系统"]
    assert names(connected=False, open_lines=True) == ["100%_核对系统"]
    assert names(keyword="%_") == ["100%_核对系统"] and names(keyword="_信息") == []
    assert names(state=SystemState.RETIRED) == []
