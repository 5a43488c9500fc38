"""Scores (考核得分): the profile's indicators applied to each unit's facts over a period.

Facts are read, never copied: the monthly ledger's figures (supervision's `ledgers.ledger`,
the same counts the 台账 shows) plus what supervision itself keeps — findings, notices
accepted and circulated, probes. A unit is a city department, or a lower-level government or
park (县区、园区, SUP-4, XT 二(三)) together with every organisation under it. Each
indicator is one of the profile's fixed formulas, so a weight or a target changed in the
profile changes every score not yet published, and nothing in a profile can run code.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.errors import Invalid
from govshare.core.permissions import Actor, Role
from govshare.core.policy import FACT_LABELS, EvaluationFact, Formula, Indicator, Profile
from govshare.identity.models import Level, Organization
from govshare.supervision.models import Finding, Notice, Probe
from govshare.supervision.service import ledgers

DEPARTMENTS, REGIONS = "department", "region"
GROUP_LABELS = {DEPARTMENTS: "市直部门", REGIONS: "县区（园区）"}
LOWER_LEVELS = (Level.COUNTY, Level.TOWNSHIP)
# The ledger is read for every department to rank them, whoever asks; what the asker may see
# of the result is decided by the caller (`results._visible`).
_LEDGER_READER = Actor(label="evaluation", roles=frozenset({Role.AUDITOR}))
PERIOD = re.compile(r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2])))?$")


@dataclass(frozen=True)
class Period:
    """A month, a quarter or a year: `key` as written (2026-09, 2026-Q3, 2026)."""

    key: str
    kind: str  # month | quarter | year
    first: date
    after: date

    @property
    def year(self) -> int:
        return self.first.year

    @property
    def months(self) -> int:
        return (self.after.year - self.first.year) * 12 + self.after.month - self.first.month

    @property
    def label(self) -> str:
        if self.kind == "year":
            return f"{self.year}年度"
        if self.kind == "quarter":
            return f"{self.year}年第{'一二三四'[(self.first.month - 1) // 3]}季度"
        return f"{self.year}年{self.first.month}月"


def parse_period(value: str) -> Period:
    """`2026`, `2026-Q3` or `2026-09` (empty: this year); refused naming the field."""
    value = (value or str(clock.today().year)).strip()
    m = PERIOD.match(value)
    if m is None or not 2000 <= int(m["year"]) <= 2100:
        raise Invalid(
            "考核期格式应为 年（2026）、年-季度（2026-Q3）或 年-月（2026-09）", field="period"
        )
    year = int(m["year"])
    if m["quarter"]:
        start = (int(m["quarter"]) - 1) * 3 + 1
        first, months, kind = date(year, start, 1), 3, "quarter"
    elif m["month"]:
        first, months, kind = date(year, int(m["month"]), 1), 1, "month"
    else:
        first, months, kind = date(year, 1, 1), 12, "year"
    end = first.month - 1 + months
    return Period(value, kind, first, date(year + end // 12, end % 12 + 1, 1))


@dataclass
class IndicatorScore:
    """One indicator of one unit: the facts it counted and the score they give."""

    code: str
    name: str
    weight: float
    score: float
    facts: dict[str, int]  # fact key → count, the indicator's `facts` then `against`

    @property
    def weighted(self) -> float:
        return round(self.score * self.weight / 100, 2)


@dataclass
class UnitScore:
    """A department's (or a lower-level government's) evaluation over the period."""

    unit_id: int
    name: str
    group: str
    members: list[int]
    indicators: list[IndicatorScore]
    computed: float
    adjustments: list[dict[str, Any]] = field(default_factory=list)
    rank: int = 0
    of: int = 0

    @property
    def adjustment(self) -> float:
        return round(sum(a["points"] for a in self.adjustments), 2)

    @property
    def total(self) -> float:
        return round(self.computed + self.adjustment, 2)

    @property
    def group_label(self) -> str:
        return GROUP_LABELS[self.group]


def indicator_definition(indicator: Indicator) -> dict[str, Any]:
    """An indicator as the pages, reports and snapshots show it."""
    return {
        "code": indicator.code,
        "name": indicator.name,
        "weight": indicator.weight,
        "formula": indicator.describe(),
        "citation": indicator.article or "平台默认",
        "note": indicator.note or "",
        "facts": [f.value for f in (*indicator.facts, *indicator.against)],
    }


def fact_labels() -> dict[str, str]:
    """Each fact's name in the interface's words."""
    return {f.value: label for f, label in FACT_LABELS.items()}


def _score(indicator: Indicator, counts: Counter[str], months: int) -> float:
    good = sum(counts[f] for f in indicator.facts)
    bad = sum(counts[f] for f in indicator.against)
    if indicator.formula is Formula.SHARE:
        value = 100 * good / (good + bad) if good + bad else indicator.empty
    elif indicator.formula is Formula.TIMELY:
        value = 100 * max(good - bad, 0) / good if good else indicator.empty
    elif indicator.formula is Formula.TARGET:
        assert indicator.target is not None
        value = min(100.0, 100 * good / (indicator.target * months))
    else:
        assert indicator.per is not None
        value = max(0.0, 100 - indicator.per * good)
    return round(value, 2)


def _moment(on: date) -> datetime:
    return clock.as_utc(datetime.combine(on, time(), clock.CITY_TZ))


def _supervision_facts(db_session: Session, first: date, after: date) -> dict[int, Counter[str]]:
    start, end = _moment(first), _moment(after)
    found: dict[int, Counter[str]] = {}

    def add(key: EvaluationFact, who: Any, *where: Any) -> None:
        query = sa.select(who, sa.func.count()).where(*where).group_by(who)
        for department_id, n in db_session.execute(query):
            found.setdefault(int(department_id), Counter())[key.value] += int(n)

    add(
        EvaluationFact.FINDINGS,
        Finding.department_id,
        Finding.first_found_at >= start,
        Finding.first_found_at < end,
    )
    add(
        EvaluationFact.NOTICES_ESCALATED,
        Notice.department_id,
        Notice.escalated_at >= start,
        Notice.escalated_at < end,
    )
    add(
        EvaluationFact.NOTICES_ACCEPTED,
        Notice.department_id,
        Notice.closed_at >= start,
        Notice.closed_at < end,
    )
    probed = [Probe.probed_on >= first, Probe.probed_on < after]
    add(EvaluationFact.PROBES_OK, Probe.department_id, *probed, Probe.ok.is_(True))
    add(EvaluationFact.PROBES_FAILED, Probe.department_id, *probed, Probe.ok.is_(False))
    return found


def facts_by_organization(db_session: Session, period: Period) -> dict[int, Counter[str]]:
    """Every fact of every organisation over the period (ledger figures and supervision's)."""
    found: dict[int, Counter[str]] = {}
    month = ledgers.ledger(db_session, actor=_LEDGER_READER, first=period.first, after=period.after)
    for row in month.rows:
        found[row.department_id] = Counter(row.figures)
    for who, counts in _supervision_facts(db_session, period.first, period.after).items():
        found.setdefault(who, Counter()).update(counts)
    return found


@dataclass(frozen=True)
class Unit:
    id: int
    name: str
    group: str
    members: tuple[int, ...]


def units(db_session: Session) -> list[Unit]:
    """What is evaluated: each active city department (not the government above them), and
    each lower-level government or park with every organisation under it."""
    rows = db_session.execute(
        sa.select(
            Organization.id, Organization.name, Organization.level, Organization.parent_id
        ).order_by(Organization.id)
    ).all()
    active = set(
        db_session.scalars(sa.select(Organization.id).where(Organization.active.is_(True)))
    )
    level = {r.id: Level(r.level) for r in rows}
    parent = {r.id: r.parent_id for r in rows}
    parents_at_own_level = {
        r.parent_id for r in rows if r.parent_id is not None and level[r.parent_id] == level[r.id]
    }
    found: list[Unit] = []
    members: dict[int, list[int]] = {}
    for r in rows:
        if level[r.id] in LOWER_LEVELS:
            top = r.id
            while parent[top] is not None and level[parent[top]] in LOWER_LEVELS:
                top = parent[top]
            members.setdefault(top, []).append(r.id)
    for r in rows:
        if r.id not in active:
            continue
        if level[r.id] in LOWER_LEVELS:
            if r.id in members:
                found.append(Unit(r.id, r.name, REGIONS, tuple(members[r.id])))
        elif r.id not in parents_at_own_level:
            found.append(Unit(r.id, r.name, DEPARTMENTS, (r.id,)))
    return found


def compute(db_session: Session, profile: Profile, period: Period) -> list[UnitScore]:
    """Every unit's scores over the period, unranked and without adjustments."""
    facts = facts_by_organization(db_session, period)
    indicators = profile.evaluation.indicators
    scored = []
    for unit in units(db_session):
        counts: Counter[str] = Counter()
        for member in unit.members:
            counts.update(facts.get(member, Counter()))
        shown = [
            IndicatorScore(
                i.code,
                i.name,
                i.weight,
                _score(i, counts, period.months),
                {f.value: counts[f.value] for f in (*i.facts, *i.against)},
            )
            for i in indicators
        ]
        total = round(sum(s.score * s.weight for s in shown) / 100, 2)
        scored.append(UnitScore(unit.id, unit.name, unit.group, list(unit.members), shown, total))
    return scored


def rank(scored: list[UnitScore]) -> list[UnitScore]:
    """Each group ranked by total (equal totals share a rank: 1, 2, 2, 4), best first."""
    ordered: list[UnitScore] = []
    for group in (DEPARTMENTS, REGIONS):
        members = sorted((u for u in scored if u.group == group), key=lambda u: (-u.total, u.name))
        for position, unit in enumerate(members, start=1):
            same = position > 1 and members[position - 2].total == unit.total
            unit.rank = ordered[-1].rank if same else position
            unit.of = len(members)
            ordered.append(unit)
    return ordered
