"""Demo security operations (示范安全管理): an incident found two working days ago, handled and
reported to the cyber-security office but not yet to the authority (overdue); this year's
emergency drill done with its plan scanned, the security test planned; a secrecy check six
working days ago whose finding became a rectification notice to 市民政局.

Built after supervision (whose demo step stands back once any finding exists), through the
services as the demo's people; the texts are in `demo/data/security.yaml`. Built once: a city
that has an incident is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from govshare.catalog.models import Resource
from govshare.core import clock
from govshare.core.documents import Document
from govshare.core.runtime import Runtime
from govshare.demo import sources
from govshare.demo.verification import Story
from govshare.identity.models import User
from govshare.security.models import Incident
from govshare.security.schemas import (
    CheckFindingIn,
    CheckIn,
    EntryIn,
    ExerciseIn,
    ExerciseResultIn,
    IncidentIn,
    ReportIn,
)
from govshare.security.service import checks, exercises, incidents

DATA: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "data" / "security.yaml").read_text(encoding="utf-8")
)
# A one-page scan standing in for the drill's signed plan.
PLAN_SCAN = Document("应急演练方案.pdf", "application/pdf", b"%PDF-1.4\n% demo drill plan\n%%EOF\n")


def build(runtime: Runtime, *, progress: Callable[[str], None] = lambda _: None) -> bool:
    """Adds the demo's security records unless there is an incident; returns whether it did."""
    with runtime.transaction() as db_session:
        if not sources.is_demo_city(db_session) or db_session.scalar(
            sa.select(sa.func.count(Incident.id))
        ):
            return False
        progress("安全管理")
        story = Story(runtime, db_session)
        _incident(story)
        _exercises(story)
        _check(story)
    return True


def _org(story: Story, key: str) -> int:
    username = f"{key}_officer"
    org = story.db.scalar(sa.select(User.organization_id).where(User.username == username))
    assert org is not None
    return int(org)


def _moment(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=clock.CITY_TZ)


def _incident(story: Story) -> None:
    spec, op = DATA["incident"], story.who("operator")
    day = story.day(spec["days_ago"])
    department = _org(story, spec["department"])
    owned = story.db.scalar(
        sa.select(Resource.id).where(Resource.provider_id == department).order_by(Resource.id)
    )
    data = IncidentIn(
        title=spec["title"],
        kind=spec["kind"],
        level=spec["level"],
        occurred_at=_moment(day, 2),
        discovered_at=_moment(day, 8),
        description=spec["description"].strip(),
        department_ids=[department, _org(story, "mzj")],
        resource_ids=[owned] if owned else [],
    )
    incident = story.at(
        spec["days_ago"],
        8,
        lambda: incidents.register(story.db, actor=op, profile=story.profile, data=data),
    )
    for line in spec["timeline"]:
        entry = EntryIn(kind=line["kind"], at=_moment(day, line["hour"]), text=line["text"])
        story.at(
            spec["days_ago"],
            line["hour"],
            lambda e=entry: incidents.add_entry(
                story.db, actor=op, incident_id=incident.id, data=e
            ),
        )
    for made in spec["reports"]:
        report = ReportIn(
            recipient=made["recipient"],
            reported_at=_moment(day, made["hour"]),
            addressee=made["addressee"],
            reference=made["reference"],
            content=made["content"],
        )
        story.at(
            spec["days_ago"],
            made["hour"] + 1,
            lambda r=report: incidents.report(story.db, actor=op, incident_id=incident.id, data=r),
        )


def _exercises(story: Story) -> None:
    op, year = story.who("operator"), story.today.year
    drill, test = DATA["drill"], DATA["test"]

    def on(month_day: str) -> date:
        return date.fromisoformat(f"{year}-{month_day}")

    def plan(spec: dict[str, Any], kind: str, scans: list[Document]) -> Any:
        data = ExerciseIn(
            kind=kind,
            year=year,
            title=spec["title"],
            planned_on=on(spec["planned_month_day"]),
            plan=spec["plan"],
        )
        return exercises.plan(story.db, actor=op, data=data, documents=scans)

    done_on = on(drill["conducted_month_day"])
    if done_on >= story.today:  # early in the year: the drill is still to come
        plan(drill, "drill", [PLAN_SCAN])
    else:
        with clock.frozen(_moment(on(drill["planned_month_day"]), 9)):
            planned = plan(drill, "drill", [PLAN_SCAN])
        with clock.frozen(_moment(done_on, 18)):
            result = ExerciseResultIn(
                conducted_on=done_on, conducted_by=drill["conducted_by"], result=drill["result"]
            )
            exercises.record_result(story.db, actor=op, exercise_id=planned.id, data=result)
    plan(test, "test", [])


def _check(story: Story) -> None:
    spec, op = DATA["check"], story.who("operator")
    day = story.day(spec["days_ago"])
    data = CheckIn(
        kind=spec["kind"],
        title=f"{story.today.year} 年度{spec['title']}",
        conducted_by=spec["conducted_by"],
        checked_on=day,
        scope=spec["scope"],
        conclusion=spec["conclusion"],
    )
    check = story.at(
        spec["days_ago"], 16, lambda: checks.record_check(story.db, actor=op, data=data)
    )
    problem = spec["finding"]
    finding = CheckFindingIn(
        department_id=_org(story, problem["department"]),
        description=problem["description"],
        requirement=problem["requirement"],
    )
    story.at(
        spec["days_ago"],
        17,
        lambda: checks.add_finding(
            story.db, actor=op, profile=story.profile, check_id=check.id, data=finding
        ),
    )
