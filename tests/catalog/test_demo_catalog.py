"""The demo catalog: enough resources, every state a page can show, versions in effect and
announced, subscriptions, a retirement done and one announced — all through the services,
so the audit chain holds."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare import demo
from govshare.catalog.models import (
    CatalogKind,
    Resource,
    ResourceStatus,
    ResourceVersion,
    RetirementState,
    Subscription,
    Theme,
    VersionState,
)
from govshare.catalog.service import retirements
from govshare.core import clock
from govshare.core.audit import service as audit
from govshare.core.inbox.models import Notification
from govshare.core.permissions import Actor
from govshare.demo import catalog as catalog_demo


def test_the_demo_catalog_shows_every_state(db: Session) -> None:
    assert demo.build(db)
    today = clock.today()
    all_resources = db.execute(select(Resource)).scalars().all()
    versions = db.execute(select(ResourceVersion)).scalars().all()

    assert len(all_resources) >= 60
    assert len(all_resources) == len(catalog_demo.RESOURCES)
    assert {r.catalog_kind for r in all_resources} == set(CatalogKind)
    assert db.execute(select(func.count(Theme.id))).scalar_one() == 2

    statuses = Counter(r.status for r in all_resources)
    assert statuses[ResourceStatus.PUBLISHED] >= 50
    assert statuses[ResourceStatus.DRAFT] >= 5
    assert statuses[ResourceStatus.RETIRED] == 1

    states = Counter(v.state for v in versions)
    assert set(states) == set(VersionState)
    assert states[VersionState.SCHEDULED] == 1
    assert states[VersionState.WITHDRAWN] == 2

    per_resource = Counter(v.resource_id for v in versions)
    assert sum(1 for n in per_resource.values() if n >= 2) >= 3
    in_effect = [r for r in all_resources if r.current_version and r.current_version.number >= 2]
    assert sum(1 for r in in_effect if r.current_version.number == 3) >= 2

    (scheduled,) = [v for v in versions if v.state is VersionState.SCHEDULED]
    assert scheduled.effective_on > today
    announced = [r for r in all_resources if r.retirement_state is RetirementState.SCHEDULED]
    assert len(announced) == 1 and announced[0].retires_on > today
    assert [v for v in versions if v.narrowing and v.state is VersionState.SUBMITTED]

    assert db.execute(select(func.count(Subscription.id))).scalar_one() >= 30
    notices = db.execute(select(Notification.title)).scalars().all()
    assert any(t.startswith("变更预告") for t in notices)
    assert any(t.startswith("下架预告") for t in notices)

    # Nothing is left for today's run of the daily job, and the chain verifies.
    console = Actor.command_line("test")
    assert retirements.apply_due_changes(db, actor=console).published == []
    assert audit.verify(db).ok


def test_item_specs_expand() -> None:
    assert catalog_demo.parse_items("*姓名:C50\n出生日期:D\n注册资本:N18:单位：万元") == [
        {"name": "姓名", "data_type": "C", "length": 50, "description": "", "personal": True},
        {
            "name": "出生日期",
            "data_type": "D",
            "length": None,
            "description": "",
            "personal": False,
        },
        {
            "name": "注册资本",
            "data_type": "N",
            "length": 18,
            "description": "单位：万元",
            "personal": False,
        },
    ]
