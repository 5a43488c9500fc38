"""Demo catalog (示范目录): about seventy resources of 江州市's departments, built through the
catalog services with a history of about five months.

The data sits in YAML files under `demo/data/`: `catalog.yaml` (the laws cited, item codes,
themes), `catalog_resources.yaml` (what each resource says) and `catalog_stories.yaml` (drafts,
submissions, returns, revisions, retirements, subscriptions). This module loads them and
`build` turns them into a time-ordered list of steps, each run with the clock set to its
moment (`clock.frozen`): departments compile and submit, the operator reviews, departments
subscribe, revise and retire. Dates count back from the day the demo is built and skip
weekends, so the same story reads the same whenever it is built: changes approved months ago
are in effect (the daily job, `apply_due_changes`, ran on their dates), one change and one
retirement approved this week are announced for next month (Shangrao: a month's notice).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from importlib import resources as package_files
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import Resource, ResourceVersion, RetirementState, VersionState
from govshare.catalog.schemas import ResourceIn, RetirementIn, ReviewIn, ThemeIn, VersionIn
from govshare.catalog.service import contents, resources, retirements, subscriptions, themes
from govshare.core import clock
from govshare.core.permissions import Actor
from govshare.core.policy import Rules, load_profile
from govshare.identity.models import User
from govshare.identity.service import actor_for_user


def load_data(name: str) -> dict[str, Any]:
    """One of the demo's data files (shipped inside the package)."""
    text = (package_files.files("govshare.demo") / "data" / name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


_VOCABULARY = load_data("catalog.yaml")
PROFILE: str = _VOCABULARY["profile"]  # Shangrao: a month's change notice
# Laws cited as the basis of conditional and not-shared resources (CAT-4), and share scopes;
# the other files name them as {PIPL}, {CONDITIONAL_SCOPE}, …
LAWS: dict[str, str] = _VOCABULARY["laws"]
SCOPES: dict[str, str] = _VOCABULARY["scopes"]
PIPL_SENSITIVE = LAWS["PIPL_SENSITIVE"]
TAX_LAW = LAWS["TAX_LAW"]
ALL_DEPARTMENTS = SCOPES["ALL_DEPARTMENTS"]
# Classification 项 (item code) of each catalog kind: base topics, themes, departments.
ITEM_CODES: dict[str, dict[str, str]] = _VOCABULARY["item_codes"]


def _cited(text: str) -> str:
    """A basis or scope with its {NAME}s replaced by the law or scope they name."""
    return text.format_map(LAWS | SCOPES)


@dataclass(frozen=True)
class Theme:
    """A theme catalog, its lead department and its contributing departments."""

    name: str
    description: str
    lead: str
    contributors: list[str]


THEMES = [Theme(**t) for t in _VOCABULARY["themes"]]


# --- resource specifications ------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One resource as the demo compiles it; `items` holds one data item per line."""

    key: str
    dept: str
    name: str
    summary: str
    items: str
    kind: str = "department"
    topic: str | None = None
    theme: str | None = None
    fmt: str = "database"
    detail: str = ""
    share: str = "unconditional"
    conditions: str = ""
    basis: str = ""
    scope: str = ALL_DEPARTMENTS
    methods: tuple[str, ...] = ("table",)
    offline_reason: str = ""
    freq: str = "daily"
    timeliness: str = ""
    open: str = "not_open"
    open_conditions: str = ""
    domain: str = "public_administration"
    related: tuple[str, ...] = ()

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Spec:
        values = dict(data)
        for name in ("basis", "scope"):
            if name in values:
                values[name] = _cited(values[name])
        for name in ("methods", "related"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


ITEM = re.compile(
    r"^(?P<personal>\*)?(?P<name>[^:]+):(?P<type>[A-Z])(?P<length>\d*)(?::(?P<desc>.*))?$"
)


def parse_items(text: str) -> list[dict[str, Any]]:
    """Data items from compact lines `[*]名称:类型[长度][:说明]`; `*` marks personal data."""
    out: list[dict[str, Any]] = []
    for line in text.strip().splitlines():
        match = ITEM.match(line.strip())
        if match is None:
            raise ValueError(f"bad demo item spec: {line!r}")
        out.append(
            {
                "name": match["name"],
                "data_type": match["type"],
                "length": int(match["length"]) if match["length"] else None,
                "description": match["desc"] or "",
                "personal": bool(match["personal"]),
            }
        )
    return out


RESOURCES: list[Spec] = [
    Spec.from_data(r) for r in load_data("catalog_resources.yaml")["resources"]
]


# --- stories: what happened to the resources -------------------------------------------
# Offsets are days before the build day (negative); weekends move back to the Friday.


@dataclass(frozen=True)
class Revision:
    """A new version of a published resource and what became of it.

    `outcome`: effective (approved long ago, in effect), scheduled (approved this week,
    announced), withdrawn_scheduled, withdrawn_submitted, submitted, returned, draft."""

    note: str
    start: int
    outcome: str = "effective"
    add: str = ""
    changes: dict[str, Any] = field(default_factory=dict)  # fields set in the new version
    justification: str = ""
    comment: str = ""  # the operator's return reason, or the department's withdrawal reason

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Revision:
        changes = {
            k: _cited(v) if isinstance(v, str) else v for k, v in data.get("changes", {}).items()
        }
        return cls(**(data | {"changes": changes}))


_STORIES = load_data("catalog_stories.yaml")
# Compiled, never submitted: key → day compiled.
DRAFTS: dict[str, int] = {k: v["compiled"] for k, v in _STORIES["drafts"].items()}
# Submitted and waiting for review: key → (compiled, submitted).
SUBMITTED: dict[str, tuple[int, int]] = {
    k: (v["compiled"], v["submitted"]) for k, v in _STORIES["submitted"].items()
}
# Returned with a reason: key → (compiled, submitted, returned, reason).
RETURNED: dict[str, tuple[int, int, int, str]] = {
    k: (v["compiled"], v["submitted"], v["returned"], v["reason"])
    for k, v in _STORIES["returned"].items()
}
REVISIONS: dict[str, list[Revision]] = {
    k: [Revision.from_data(r) for r in v] for k, v in _STORIES["revisions"].items()
}
# Retirements: key → (requested, approved, reason). Approved this week: still announced.
RETIREMENTS: dict[str, tuple[int, int, str]] = {
    k: (v["requested"], v["approved"], v["reason"]) for k, v in _STORIES["retirements"].items()
}
# Subscribing departments of published resources.
SUBSCRIPTIONS: dict[str, list[str]] = _STORIES["subscriptions"]


# --- building ----------------------------------------------------------------------------


def workday(day: date) -> date:
    """Weekends move back to the Friday (the story stays in the past, in order)."""
    return day - timedelta(days=max(0, day.weekday() - 4))


class Builder:
    """Runs the stories through the services as the people of the demo city."""

    def __init__(self, db_session: Session, console: Actor, rules: Rules) -> None:
        self.db = db_session
        self.console = console
        self.rules = rules
        self.today = clock.today()
        self.users = {u.username: u for u in db_session.execute(select(User)).scalars()}
        self.operator = actor_for_user(self.users["operator"])
        self.resources: dict[str, Resource] = {}
        self.specs = {s.key: s for s in RESOURCES}
        self.theme_ids: dict[str, int] = {}
        self.jobs_run_to = date.min
        self.steps: list[tuple[datetime, int, Callable[[], None]]] = []

    # people
    def officer(self, dept_key: str) -> Actor:
        return actor_for_user(self.users[f"{dept_key}_officer"])

    def head(self, dept_key: str) -> Actor:
        return actor_for_user(self.users[f"{dept_key}_head"])

    def org_id(self, dept_key: str) -> int:
        return self.users[f"{dept_key}_officer"].organization_id

    # time
    def moment(self, offset: int, hour: int, minute: int = 0) -> datetime:
        day = workday(self.today + timedelta(days=offset))
        return datetime.combine(day, time(hour, minute), tzinfo=clock.CITY_TZ)

    def at(self, offset: int, hour: int, minute: int, step: Callable[[], None]) -> None:
        self.steps.append((self.moment(offset, hour, minute), len(self.steps), step))

    def run(self) -> None:
        day = date.min
        for when, _, step in sorted(self.steps, key=lambda s: (s[0], s[1])):
            if when.date() != day:
                day = when.date()
                self.daily_jobs(until=day)
            with clock.frozen(when):
                step()
        # today's run of the daily job, on the real clock
        retirements.apply_due_changes(self.db, actor=self.console)

    def daily_jobs(self, until: date) -> None:
        """The daily job (`apply_due_changes`) on each past day something fell due."""
        while True:
            pending = [
                *self.db.execute(
                    select(ResourceVersion.effective_on).where(
                        ResourceVersion.state == VersionState.SCHEDULED
                    )
                ).scalars(),
                *self.db.execute(
                    select(Resource.retires_on).where(
                        Resource.retirement_state == RetirementState.SCHEDULED
                    )
                ).scalars(),
            ]
            due = sorted(d for d in pending if d is not None and self.jobs_run_to < d <= until)
            if not due:
                return
            with clock.frozen(datetime.combine(due[0], time(0, 30), tzinfo=clock.CITY_TZ)):
                retirements.apply_due_changes(self.db, actor=self.console)
            self.jobs_run_to = due[0]

    # steps
    def resource_input(self, spec: Spec) -> ResourceIn:
        kind_item = ITEM_CODES[spec.kind].get(
            {"base": spec.topic, "theme": spec.theme, "department": spec.dept}[spec.kind] or ""
        )
        return ResourceIn.model_validate(
            {
                "catalog_kind": spec.kind,
                "base_topic": spec.topic,
                "theme_id": self.theme_ids[spec.theme] if spec.theme else None,
                "item_code": kind_item,
                "name": spec.name,
                "summary": spec.summary,
                "format": spec.fmt,
                "format_detail": spec.detail,
                "share_type": spec.share,
                "share_conditions": spec.conditions,
                "legal_basis": spec.basis,
                "share_scope": spec.scope,
                "share_methods": list(spec.methods),
                "offline_reason": spec.offline_reason,
                "update_frequency": spec.freq,
                "timeliness": spec.timeliness,
                "open_type": spec.open,
                "open_conditions": spec.open_conditions,
                "domain": spec.domain,
                "related_codes": [self.resources[k].code for k in spec.related],
                "items": parse_items(spec.items),
            }
        )

    def create(self, key: str) -> None:
        spec = self.specs[key]
        self.resources[key] = resources.create_resource(
            self.db, actor=self.officer(spec.dept), data=self.resource_input(spec), rules=self.rules
        )

    def latest(self, key: str) -> ResourceVersion:
        return self.db.execute(
            select(ResourceVersion)
            .where(ResourceVersion.resource_id == self.resources[key].id)
            .order_by(ResourceVersion.number.desc())
            .limit(1)
        ).scalar_one()

    def submit(self, key: str, *, by_head: bool = False) -> None:
        dept_key = self.specs[key].dept
        actor = self.head(dept_key) if by_head else self.officer(dept_key)
        resources.submit_version(
            self.db, actor=actor, version_id=self.latest(key).id, rules=self.rules
        )

    def review(self, key: str, comment: str = "", *, approve: bool = True) -> None:
        resources.review_version(
            self.db,
            actor=self.operator,
            version_id=self.latest(key).id,
            decision=ReviewIn(approve=approve, comment=comment),
            rules=self.rules,
        )

    def revise(self, key: str, revision: Revision) -> None:
        actor = self.officer(self.specs[key].dept)
        version = resources.start_revision(self.db, actor=actor, resource_id=self.resources[key].id)
        data = contents.version_input(version)
        data["items"] = [*data["items"], *parse_items(revision.add)]
        data |= revision.changes
        data["change_note"] = revision.note
        data["narrowing_justification"] = revision.justification
        resources.update_draft(
            self.db,
            actor=actor,
            version_id=version.id,
            data=VersionIn.model_validate(data),
            rules=self.rules,
        )

    def withdraw(self, key: str, reason: str) -> None:
        resources.withdraw_version(
            self.db,
            actor=self.officer(self.specs[key].dept),
            version_id=self.latest(key).id,
            reason=reason,
        )

    def subscribe(self, key: str, dept_key: str) -> None:
        subscriptions.subscribe(
            self.db, actor=self.officer(dept_key), resource_id=self.resources[key].id
        )

    def request_retirement(self, key: str, reason: str) -> None:
        retirements.request_retirement(
            self.db,
            actor=self.officer(self.specs[key].dept),
            resource_id=self.resources[key].id,
            data=RetirementIn(reason=reason),
        )

    def approve_retirement(self, key: str) -> None:
        retirements.review_retirement(
            self.db,
            actor=self.operator,
            resource_id=self.resources[key].id,
            decision=ReviewIn(approve=True, comment="同意下架，已通知订阅部门"),
            rules=self.rules,
        )

    def create_themes(self) -> None:
        for theme in THEMES:
            created = themes.create_theme(
                self.db,
                actor=self.operator,
                data=ThemeIn(
                    name=theme.name,
                    description=theme.description,
                    lead_organization_id=self.org_id(theme.lead),
                    contributor_ids=[self.org_id(c) for c in theme.contributors],
                ),
            )
            self.theme_ids[theme.name] = created.id

    # the story, as steps in time
    def plan(self) -> None:
        self.at(-160, 9, 0, self.create_themes)
        unpublished = set(DRAFTS) | set(SUBMITTED) | set(RETURNED)
        published = [s.key for s in RESOURCES if s.key not in unpublished]
        for i, key in enumerate(published):
            day = -155 + i * 45 // len(published)  # compiled over six or seven weeks
            minute = i * 50 // len(published)  # rising with i: same-day steps keep order
            self.at(day, 9, minute, lambda k=key: self.create(k))
            self.at(day + 1, 10, minute, lambda k=key: self.submit(k))
            self.at(day + 3, 15, minute, lambda k=key: self.review(k, "审核通过"))
        for key, day in DRAFTS.items():
            self.at(day, 11, 0, lambda k=key: self.create(k))
        for key, (made, sent) in SUBMITTED.items():
            self.at(made, 11, 0, lambda k=key: self.create(k))
            self.at(sent, 14, 0, lambda k=key: self.submit(k))
        for key, (made, sent, back, reason) in RETURNED.items():
            self.at(made, 11, 0, lambda k=key: self.create(k))
            self.at(sent, 14, 0, lambda k=key: self.submit(k))
            self.at(back, 16, 0, lambda k=key, r=reason: self.review(k, r, approve=False))
        subscribers = [(k, d) for k, depts in SUBSCRIPTIONS.items() for d in depts]
        for i, (key, dept_key) in enumerate(subscribers):
            self.at(
                -105 + i * 10 // len(subscribers),
                10 + i % 6,
                i % 50,
                lambda k=key, d=dept_key: self.subscribe(k, d),
            )
        for key, revisions in REVISIONS.items():
            for revision in revisions:
                self.plan_revision(key, revision)
        for key, (asked, approved, reason) in RETIREMENTS.items():
            self.at(asked, 10, 30, lambda k=key, r=reason: self.request_retirement(k, r))
            self.at(approved, 15, 30, lambda k=key: self.approve_retirement(k))

    def plan_revision(self, key: str, revision: Revision) -> None:
        day, outcome = revision.start, revision.outcome
        self.at(day, 9, 40, lambda: self.revise(key, revision))
        if outcome == "draft":
            return
        narrowing = bool(revision.justification)
        self.at(day + 1, 10, 40, lambda: self.submit(key, by_head=narrowing))
        if outcome == "submitted":
            return
        if outcome == "withdrawn_submitted":
            self.at(day + 4, 11, 40, lambda: self.withdraw(key, revision.comment))
            return
        if outcome == "returned":
            self.at(day + 7, 16, 40, lambda: self.review(key, revision.comment, approve=False))
            return
        self.at(day + 4, 15, 40, lambda: self.review(key, "审核通过，按规定提前一个月通知订阅部门"))
        if outcome == "withdrawn_scheduled":
            self.at(day + 10, 9, 50, lambda: self.withdraw(key, revision.comment))


def build(db_session: Session, actor: Actor) -> None:
    """Creates the demo catalog: themes, resources in every state, versions, subscriptions."""
    builder = Builder(db_session, actor, load_profile(PROFILE).rules)
    builder.plan()
    builder.run()
