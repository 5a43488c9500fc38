"""Demo supervision (示范监督考核): the platform finds the violations the other demo steps left
— an overdue decision, an objection not verified, mismatches not settled, stale data, a grant
suspended for misuse — and one planted here, a service interface registered at an address
where nothing answers. A notice found two weeks ago was never answered and is circulated (通报);
one for the misuse was answered and accepted; one is answered today and waits for review.

Built after every other step, through the services as the demo's people, each step with the
clock set to its moment (working days counted back from today, as `demo.sharing` tells its
story); the last detection runs now. The texts are in `demo/data/supervision.yaml`. Built once:
a city that has findings is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from govshare.core import clock
from govshare.core.permissions import Actor, Role
from govshare.core.policy import Violation
from govshare.core.runtime import Runtime
from govshare.demo import catalog as catalog_demo
from govshare.demo import exchange as exchange_demo
from govshare.demo import sources
from govshare.demo.verification import Story
from govshare.exchange.models import ServiceInterface
from govshare.exchange.service import interfaces
from govshare.identity.models import User
from govshare.identity.service import actor_for_user
from govshare.supervision import detectors
from govshare.supervision.models import Finding, Notice
from govshare.supervision.schemas import NoticeAnswerIn, NoticeDecisionIn
from govshare.supervision.service import findings, notices, probes

DATA: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "data" / "supervision.yaml").read_text(encoding="utf-8")
)
JOB = Actor(label="job:supervision", roles=frozenset({Role.SYSTEM}))


def build(runtime: Runtime, *, progress: Callable[[str], None] = lambda _: None) -> bool:
    """Adds the demo's supervision unless there are findings; returns whether it added it."""
    with runtime.transaction() as db_session:
        if not sources.is_demo_city(db_session) or db_session.scalar(
            sa.select(sa.func.count(Finding.id))
        ):
            return False
        progress("监督考核")
        story = Story(runtime, db_session)
        interface = _plant_interface(runtime, story)
    _probe_history(runtime, story, interface.id)
    with runtime.transaction() as db_session:
        story = Story(runtime, db_session)
        _early(runtime, story)
    _probe(runtime, None)  # the round of this hour: the planted interface and every database
    with runtime.transaction() as db_session:
        findings.detect(db_session, actor=JOB, profile=runtime.profile)
        _answer_today(db_session)
    return True


def _plant_interface(runtime: Runtime, story: Story) -> ServiceInterface:
    spec = DATA["unreachable_interface"]
    resource = exchange_demo.demo_resource(story.db, spec["resource"])
    department = next(s.dept for s in catalog_demo.RESOURCES if s.key == spec["resource"])
    return story.at(
        spec["registered_days_ago"],
        10,
        lambda: interfaces.register_interface(
            story.db,
            actor=sources.officer(story.db, department),
            resource_id=resource.id,
            data=interfaces.InterfaceIn(base_url=spec["base_url"], endpoints=spec["endpoints"]),
            default_timeout=runtime.settings.gateway_timeout_seconds,
        ),
    )


def _probe(runtime: Runtime, interface_id: int | None, at: datetime | None = None) -> None:
    """One round: the interface alone (`at`, a moment past), or it and every database (now).
    The demo company service is left to the worker, which probes it where it runs."""
    with clock.frozen(at or clock.now()):
        with runtime.transaction() as db_session:
            ids = [interface_id] if interface_id else _planted_ids(db_session)
            found = probes.targets(
                db_session,
                actor=JOB,
                settings=runtime.settings,
                interface_ids=ids,
                connection_ids=None if at is None else [],
            )
        outcomes = [probes.probe(t) for t in found]
        with runtime.transaction() as db_session:
            probes.record_probes(db_session, actor=JOB, outcomes=outcomes)


def _planted_ids(db_session: Any) -> list[int]:
    base_url = DATA["unreachable_interface"]["base_url"].rstrip("/")
    return list(
        db_session.scalars(
            sa.select(ServiceInterface.id).where(ServiceInterface.base_url == base_url)
        )
    )


def _probe_history(runtime: Runtime, story: Story, interface_id: int) -> None:
    spec = DATA["unreachable_interface"]
    for ago in spec["probe_days_ago"]:
        for hour in spec["probe_hours"]:
            at = datetime.combine(story.day(ago), time(hour, 5), tzinfo=clock.CITY_TZ)
            _probe(runtime, interface_id, at)


def _early(runtime: Runtime, story: Story) -> None:
    """The two findings of the past, and what became of their notices."""
    db, profile, early = story.db, runtime.profile, DATA["early"]

    def detect(only: tuple[detectors.Detector, ...]) -> findings.DetectionResult:
        return findings.detect(db, actor=JOB, profile=profile, only=only)

    stale, misuse = early["stale"], early["misuse"]
    story.at(stale["days_ago"], 7, lambda: detect((detectors.data_stale,)))
    story.at(
        stale["circulated_days_ago"],
        8,
        lambda: notices.escalate_due(db, actor=JOB, city_name=runtime.city_name),
    )
    suspended = story.at(misuse["days_ago"], 7, lambda: detect((detectors.grant_suspended,)))
    (notice,) = suspended.issued
    officer = sources.officer(db, misuse["department"])
    story.at(
        misuse["answered_days_ago"],
        15,
        lambda: notices.answer(
            db, actor=officer, notice_id=notice.id, data=NoticeAnswerIn(answer=misuse["answer"])
        ),
    )
    story.at(
        misuse["accepted_days_ago"],
        10,
        lambda: notices.decide(
            db,
            actor=story.who("operator"),
            profile=profile,
            notice_id=notice.id,
            data=NoticeDecisionIn(accept=True, note=misuse["acceptance"]),
        ),
    )


def _answer_today(db_session: Any) -> None:
    spec = DATA["answered_today"]
    notice = db_session.scalars(
        sa.select(Notice)
        .join(Finding, Finding.id == Notice.finding_id)
        .where(Finding.kind == Violation(spec["kind"]))
        .order_by(Notice.id)
    ).first()
    if notice is None:
        return
    user = db_session.scalars(
        sa.select(User)
        .where(
            User.organization_id == notice.department_id,
            User.username.endswith("_officer", autoescape=True),
        )
        .order_by(User.id)
    ).first()
    notices.answer(
        db_session,
        actor=actor_for_user(user),
        notice_id=notice.id,
        data=NoticeAnswerIn(answer=spec["answer"]),
    )
