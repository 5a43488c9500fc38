"""Security test data: a small cast (operator, authority, two departments) and an incident,
an exercise and a check made through the services under a frozen clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.documents import Document
from govshare.core.permissions import Actor, Role
from govshare.identity.models import Organization
from govshare.security.models import Check, Exercise, Incident
from govshare.security.schemas import CheckFindingIn, CheckIn, ExerciseIn, IncidentIn
from govshare.security.service import checks, exercises, incidents
from govshare.supervision.models import Notice
from tests.builders import actor_of, operator, organization, user
from tests.sharing.builders import SHANGRAO

# A Tuesday morning: an incident found at 09:00, its reports due an hour (重大) or a day
# (一般) later.
AT = "2026-11-03T10:00:00+08:00"
FOUND = "2026-11-03T09:00:00+08:00"
SCAN = Document("演练方案.pdf", "application/pdf", b"%PDF-1.4\n% drill plan\n")


@dataclass
class Cast:
    db: Session
    op: Actor
    unit: Organization  # the platform's management unit
    authority: Actor
    police: Organization
    police_officer: Actor
    police_staff: Actor
    civil: Organization
    civil_officer: Actor


def cast(db: Session, op: Actor | None = None) -> Cast:
    with clock.frozen(AT):
        if op is None:
            op, _ = operator(db)
        assert op.organization_id is not None
        unit = db.get(Organization, op.organization_id)
        assert unit is not None
        authority_org = organization(db, "市数据局")
        authority = actor_of(user(db, authority_org, [Role.AUTHORITY]))
        police = organization(db, "市公安局")
        civil = organization(db, "市民政局")
        return Cast(
            db,
            op,
            unit,
            authority,
            police,
            actor_of(user(db, police, [Role.DATA_OFFICER])),
            actor_of(user(db, police, [Role.DEPARTMENT_STAFF])),
            civil,
            actor_of(user(db, civil, [Role.DATA_OFFICER])),
        )


def incident_in(c: Cast, **kw: Any) -> IncidentIn:
    fields: dict[str, Any] = {
        "title": "人口库接口遭异常批量调用",
        "kind": "misuse",
        "level": "major",
        "occurred_at": "2026-11-03T08:30:00+08:00",
        "discovered_at": FOUND,
        "description": "凌晨起同一令牌每分钟调用人口基本信息接口上千次，疑似令牌泄露。",
        "department_ids": [c.police.id],
    }
    with clock.frozen(AT):
        return IncidentIn.model_validate(fields | kw)


def registered(c: Cast, actor: Actor | None = None, at: str = AT, **kw: Any) -> Incident:
    data = incident_in(c, **kw)
    with clock.frozen(at):
        return incidents.register(c.db, actor=actor or c.op, profile=SHANGRAO, data=data)


def planned(c: Cast, kind: str = "drill", year: int = 2026) -> Exercise:
    with clock.frozen(AT):
        data = ExerciseIn(
            kind=kind,
            year=year,
            title="共享平台数据泄露应急演练",
            planned_on=f"{year}-11-20",
            plan="模拟接口令牌泄露，检验发现、处置和报告流程。",
        )
        return exercises.plan(c.db, actor=c.op, data=data, documents=[SCAN])


def checked(c: Cast) -> Check:
    with clock.frozen(AT):
        data = CheckIn(
            kind="secrecy",
            title="2026 年度政务数据共享保密检查",
            conducted_by="市保密局",
            checked_on="2026-11-02",
            scope="共享平台及各部门前置交换库",
        )
        return checks.record_check(c.db, actor=c.op, data=data)


def found_problem(c: Cast, check: Check) -> Notice:
    with clock.frozen(AT):
        data = CheckFindingIn(
            department_id=c.police.id,
            description="前置交换库账号与他人共用，未落实一人一号",
            requirement="为每名经办人设立独立账号并签订保密协议",
        )
        return checks.add_finding(c.db, actor=c.op, profile=SHANGRAO, check_id=check.id, data=data)[
            1
        ]
