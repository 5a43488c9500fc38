"""Evaluation test data: two departments and a county with facts that rank them one way
under the shipped weights and the other way when availability weighs less than violations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from sqlalchemy.orm import Session

from govshare.core import clock, policy
from govshare.core.audit.service import record
from govshare.core.permissions import Actor, Role
from govshare.core.policy import Profile, Violation
from govshare.identity.models import Level, Organization, User
from govshare.supervision.models import Finding, Probe, ProbeTarget
from tests.builders import actor_of, operator, organization, user

SHANGRAO = policy.load_profile("shangrao")
CITY = "上饶市"
FACTS_AT = "2026-09-15T10:00:00+08:00"  # a Tuesday: every fact falls in 2026-09 and 2026-Q3


@dataclass
class Evaluated:
    db: Session
    op: Actor
    steady: Organization  # always answers, but two violations found
    shaky: Organization  # half its probes fail, no violation
    county: Organization  # a county government, with a department under it
    county_office: Organization
    steady_staff: User

    @property
    def steady_actor(self) -> Actor:
        return actor_of(self.steady_staff)


def _probe(db: Session, org: Organization, ok: bool, n: int) -> None:
    db.add(
        Probe(
            target=ProbeTarget.INTERFACE,
            target_id=n,
            department_id=org.id,
            label=f"{org.name}接口{n}",
            probed_at=clock.now(),
            probed_on=clock.today(),
            ok=ok,
            millis=10 if ok else None,
            message="HTTP 200" if ok else "无法连接",
        )
    )


def _finding(db: Session, org: Organization, n: int) -> None:
    db.add(
        Finding(
            kind=Violation.DATA_STALE,
            key=f"data_stale:test:{org.id}:{n}",
            department_id=org.id,
            subject_type="resource",
            subject_id=None,
            subject_label="测试资源",
            link="",
            facts={"summary": "数据未按更新周期更新。"},
            article="第三十条第（二）项",
            regulation=SHANGRAO.regulation,
            profile_code=SHANGRAO.code,
            first_found_at=clock.now(),
            last_found_at=clock.now(),
        )
    )


def evaluated(db: Session, op: Actor | None = None) -> Evaluated:
    """The departments and their September facts (probes and findings as supervision keeps
    them)."""
    with clock.frozen(FACTS_AT):
        if op is None:
            op, _ = operator(db)
        steady = organization(db, "市稳定局")
        shaky = organization(db, "市波动局")
        county = organization(db, "青山县人民政府", level=Level.COUNTY)
        office = organization(db, "青山县数据局", level=Level.COUNTY, parent_id=county.id)
        staff = user(db, steady, [Role.DATA_OFFICER])
        for n in range(4):
            _probe(db, steady, True, n)
        _finding(db, steady, 1)
        _finding(db, steady, 2)
        _probe(db, shaky, True, 10)
        _probe(db, shaky, False, 11)
        _probe(db, office, False, 20)
        db.flush()
        # as supervision's own services would: the rows come with their audit entries
        record(db, actor=op, action="supervision.probe", object_type="supervision")
        record(db, actor=op, action="supervision.finding.found", object_type="finding")
    return Evaluated(db, op, steady, shaky, county, office, staff)


def reweighted(weights: dict[str, float], base: str = "shangrao") -> Profile:
    """The shipped profile with some indicators' weights changed, parsed as a file would be."""
    data: dict[str, Any] = yaml.safe_load(
        (policy.PROFILE_DIR / f"{base}.yaml").read_text(encoding="utf-8")
    )
    for indicator in data["evaluation"]["indicators"]:
        if indicator["code"] in weights:
            indicator["weight"] = weights[indicator["code"]]
    return policy.parse_profile(yaml.safe_dump(data, allow_unicode=True), origin="test.yaml")
