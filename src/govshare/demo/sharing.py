"""Demo sharing (示范资源共享): three months of 江州市's departments using each other's data,
built through the sharing services on top of the demo catalog.

Departments take unconditional resources directly, apply for conditional ones and answer
each other's applications; the operator pre-reviews (Shangrao: 3 working days, then 10 for
the provider, a sealed letter attached). The story leaves applications in every state —
two still open past their deadline today, one answered late — grants suspended, resumed,
ended and about to expire, use feedback, coordination cases, and the providers' data
updates, so that only two departments are behind with their data (SHR-6).

As in `demo.catalog`, the data sits in a YAML file, `demo/data/sharing.yaml`, loaded into the
tables below, and `build` turns them into time-ordered steps, each run with the clock set to
its moment. Office work happens on working days counted back from the build day with the
platform's calendar (holidays included); nightly synchronisations record data updates on
every calendar day; the daily reminder job runs each working morning. Nothing happens after
yesterday except today's sync and today's reminder run, on the real clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import (
    Resource,
    ResourceStatus,
    ResourceVersion,
    UpdateFrequency,
)
from govshare.core import calendar as working_days
from govshare.core import clock
from govshare.core.permissions import Actor
from govshare.core.policy import Profile, load_profile
from govshare.demo import catalog as catalog_demo
from govshare.identity.models import User
from govshare.identity.service import actor_for_user
from govshare.sharing import jobs as sharing_jobs
from govshare.sharing.models import Application, Grant, Rating
from govshare.sharing.schemas import (
    ApplicationIn,
    CaseIn,
    DataUpdateIn,
    DecisionIn,
    DirectAccessIn,
    FeedbackIn,
    GrantActionIn,
    MessageIn,
    PreReviewIn,
    RenewalIn,
    SettlementIn,
    Upload,
)
from govshare.sharing.service import (
    applications,
    cases,
    deadlines,
    decisions,
    feedback,
    freshness,
    grants,
)
from govshare.systems import service as systems_service

PROFILE = catalog_demo.PROFILE  # Shangrao: pre-review 3 working days, decision 10, sealed letter
PROVIDERS = {spec.key: spec.dept for spec in catalog_demo.RESOURCES}  # resource → department

_DATA = catalog_demo.load_data("sharing.yaml")


def _messages(items: list[dict[str, Any]]) -> list[tuple[int, int, str, str]]:
    """A case's messages: (working days ago, hour, who: a department key or "operator", body)."""
    return [(m["days_ago"], m["hour"], m["who"], m["body"]) for m in items]


# --- direct access to unconditional resources (SHR-1) -----------------------------------
# (key, consumer, resource, working days ago, purpose, system)
DIRECT = [
    (key, d["consumer"], d["resource"], d["days_ago"], d["purpose"], d["system"])
    for key, d in _DATA["direct"].items()
]


# --- applications for conditional resources (SHR-2/3) -----------------------------------


@dataclass(frozen=True)
class Ask:
    """One application: who asks for what; `until` is "next_year_end", "school_year" or
    "soon" (a period ending within four weeks, for grants about to expire)."""

    consumer: str
    resource: str
    purpose: str
    system: str
    fields: tuple[str, ...]
    row_filter: tuple[dict[str, Any], ...] = ()
    until: str = "next_year_end"


ASKS: dict[str, Ask] = {
    key: Ask(**d | {"fields": tuple(d["fields"]), "row_filter": tuple(d.get("row_filter", ()))})
    for key, d in _DATA["asks"].items()
}
RETURNS: dict[str, str] = _DATA["returns"]
RESUBMISSIONS: dict[str, dict[str, Any]] = _DATA["resubmissions"]
APPROVALS: dict[str, dict[str, Any]] = _DATA["approvals"]
REFUSALS = {  # (reason, legal or policy basis)
    key: (d["reason"], d["basis"].format_map(catalog_demo.LAWS))
    for key, d in _DATA["refusals"].items()
}


# --- grants: suspension, resumption, ending, renewal and feedback (SHR-5/7) ------------

_ACTIONS = _DATA["grant_actions"]
MISUSE: str = _ACTIONS["misuse"]
SUSPEND_FOR_SECURITY: str = _ACTIONS["suspend_for_security"]
RESUME: str = _ACTIONS["resume"]
END_BY_CONSUMER: str = _ACTIONS["end_by_consumer"]
RENEWAL: str = _ACTIONS["renewal"]
# (grant key, working days ago, rating, cases handled, effect)
FEEDBACK = [
    (f["grant"], f["days_ago"], Rating(f["rating"]), f["handled"], f["effect"])
    for f in _DATA["feedback"]
]

# --- coordination cases (SHR-4) ---------------------------------------------------------

_AFTER_REFUSAL = _DATA["case_after_refusal"]
CASE_AFTER_REFUSAL = {"subject": _AFTER_REFUSAL["subject"], "request": _AFTER_REFUSAL["request"]}
CASE_AFTER_REFUSAL_MESSAGES = _messages(_AFTER_REFUSAL["messages"])
SETTLEMENT: dict[str, Any] = _AFTER_REFUSAL["settlement"]
CASE_GRANT_FEEDBACK = (
    Rating(_AFTER_REFUSAL["grant_feedback"]["rating"]),
    _AFTER_REFUSAL["grant_feedback"]["handled"],
    _AFTER_REFUSAL["grant_feedback"]["effect"],
)
_NOT_SHARED = _DATA["case_not_shared"]
CASE_NOT_SHARED = {"subject": _NOT_SHARED["subject"], "request": _NOT_SHARED["request"]}
CASE_NOT_SHARED_MESSAGES = _messages(_NOT_SHARED["messages"])

# --- data updates (SHR-6): how far back the history goes, by frequency -----------------
# (days between updates, updates recorded, days since the latest, note)
UPDATES: dict[UpdateFrequency, tuple[int, int, int, str]] = {
    UpdateFrequency(f): (u["every"], u["count"], u["latest"], u["note"])
    for f, u in _DATA["updates"].items()
}
NIGHTLY = tuple(
    UpdateFrequency(f) for f in _DATA["nightly"]
)  # synchronised every night, also today
# Departments behind with their data: resource → days since its one late update (None: none
# since publication). Every other published resource is up to date.
BEHIND: dict[str, int | None] = _DATA["behind"]


# --- building ----------------------------------------------------------------------------


def letter(lines: list[str]) -> bytes:
    """A one-page PDF (the demo's stand-in for a scanned, sealed letter)."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = "BT /F1 12 Tf 72 770 Td 16 TL " + " ".join(f"({escape(x)}) '" for x in lines) + " ET"
    stream = text.encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass(order=True)
class _Step:
    when: datetime
    seq: int
    run: Callable[[], None] = field(compare=False)


class _Builder:
    """Runs the story through the sharing services as the people of the demo city."""

    def __init__(self, db_session: Session, profile: Profile) -> None:
        self.db = db_session
        self.profile = profile
        self.rules = profile.rules
        self.today = clock.today()
        self.calendar = working_days.load(db_session)
        self.users = {u.username: u for u in db_session.execute(select(User)).scalars()}
        self.operator = actor_for_user(self.users["operator"])
        self.resources = self._resources()
        self.applications: dict[str, Application] = {}
        self.grants: dict[str, Grant] = {}
        self.consumers = {key: consumer for key, consumer, *_ in DIRECT} | {
            key: ask.consumer for key, ask in ASKS.items()
        }
        self.steps: list[_Step] = []
        self.story_start = 0  # working days before today of the first office work

    def _resources(self) -> dict[str, Resource]:
        """The demo catalog's resources by their spec key (matched on the first version's name)."""
        by_name = {
            v.name: v.resource_id
            for v in self.db.execute(
                select(ResourceVersion).where(ResourceVersion.number == 1)
            ).scalars()
        }
        found = {}
        for spec in catalog_demo.RESOURCES:
            resource = self.db.get(Resource, by_name[spec.name])
            assert resource is not None
            found[spec.key] = resource
        return found

    # people
    def officer(self, dept_key: str) -> Actor:
        return actor_for_user(self.users[f"{dept_key}_officer"])

    def system(self, dept_key: str, name: str) -> int:
        """The id of the department's registered system `name` (data/systems.yaml)."""
        officer = self.officer(dept_key)
        for system in systems_service.choices(
            self.db, actor=officer, organization_id=officer.organization_id
        ):
            if system.name == name:
                return system.id
        raise KeyError(f"{dept_key} has no registered system {name!r} (demo/data/systems.yaml)")

    def contact(self, dept_key: str) -> str:
        user = self.users[f"{dept_key}_officer"]
        return f"{user.real_name} {user.mobile}"

    # time
    def working_day(self, ago: int) -> date:
        """The `ago`-th working day before today (0: today)."""
        day, counted = self.today, 0
        while counted < ago:
            day -= timedelta(days=1)
            counted += self.calendar.is_working_day(day)
        return day

    def at_day(self, day: date, hour: int, minute: int, step: Callable[[], None]) -> None:
        when = datetime.combine(day, time(hour, minute), tzinfo=clock.CITY_TZ)
        self.steps.append(_Step(when, len(self.steps), step))

    def at(self, ago: int, hour: int, minute: int, step: Callable[[], None]) -> None:
        """Office work on the `ago`-th working day before today."""
        self.story_start = max(self.story_start, ago)
        self.at_day(self.working_day(ago), hour, minute, step)

    def run(self) -> None:
        """The steps in time order, and the reminder job each working morning from the first
        office day (on other days it finds nothing new to say that matters to the demo)."""
        for ago in range(self.story_start, 0, -1):
            self.at(ago, 7, 0, self.remind)
        for step in sorted(self.steps):
            with clock.frozen(step.when):
                step.run()
        # today's nightly sync and reminder run, on the real clock
        self.sync_today()
        self.remind()

    def remind(self) -> None:
        deadlines.send_reminders(self.db, actor=sharing_jobs.SCHEDULER)

    # periods
    def until(self, kind: str) -> date:
        year = self.today.year
        if kind == "school_year":
            return date(year + 1, 8, 31)
        if kind == "soon":  # a month end one to four weeks away, else three weeks from today
            this_month = _month_end(self.today)
            for end in (this_month, _month_end(this_month + timedelta(days=1))):
                if 7 <= (end - self.today).days <= 28:
                    return end
            return self.today + timedelta(days=21)
        return date(year + 1, 12, 31)

    # steps: direct access
    def direct(self, key: str, consumer: str, resource: str, purpose: str, system: str) -> None:
        self.grants[key] = grants.request_direct_access(
            self.db,
            actor=self.officer(consumer),
            rules=self.rules,
            data=DirectAccessIn(
                resource_id=self.resources[resource].id,
                purpose=purpose,
                system_id=self.system(consumer, system),
                accept_restrictions=True,
            ),
        )

    # steps: applications
    def application_input(self, key: str, **changes: Any) -> ApplicationIn:
        ask = ASKS[key]
        today = clock.today()
        years = {"year": str(today.year), "last_year": str(today.year - 1)}
        data: dict[str, Any] = {
            "resource_id": self.resources[ask.resource].id,
            "purpose": ask.purpose,
            "system_id": self.system(ask.consumer, ask.system),
            "fields": list(ask.fields),
            "row_filter": [
                {**c, "values": [v.format(**years) for v in c["values"]]} for c in ask.row_filter
            ],
            "valid_from": today,
            "valid_until": self.until(ask.until),
            "contact": self.contact(ask.consumer),
            "accept_restrictions": True,
        }
        return ApplicationIn.model_validate(data | changes)

    def sealed_letter(self, key: str) -> Upload:
        ask = ASKS[key]
        resource = self.resources[ask.resource]
        consumer = self.users[f"{ask.consumer}_officer"].organization
        lines = [
            "Jiangzhou demo city - application letter for shared government data",
            f"Applicant: organisation {consumer.uscc}",
            f"Resource: {resource.code}",
            f"Date: {clock.today().isoformat()}",
            "Sealed by the applicant (demo document, no real seal).",
        ]
        short = consumer.short_name or consumer.name
        name = resource.current_version.name if resource.current_version else resource.code
        return Upload(
            kind="sealed_letter",
            filename=f"{short}关于申请共享“{name}”的函.pdf",
            content_type="application/pdf",
            content=letter(lines),
        )

    def submit(self, key: str) -> None:
        consumer = ASKS[key].consumer
        self.applications[key] = applications.submit_application(
            self.db,
            actor=self.officer(consumer),
            profile=self.profile,
            data=self.application_input(key),
            uploads=[self.sealed_letter(key)],
        )

    def resubmit(self, key: str) -> None:
        application = self.applications[key]
        applications.resubmit_application(
            self.db,
            actor=self.officer(ASKS[key].consumer),
            application_id=application.id,
            data=self.application_input(key, **RESUBMISSIONS[key]),
        )

    def forward(self, key: str, comment: str = "材料齐全，转提供部门答复") -> None:
        decisions.pre_review(
            self.db,
            actor=self.operator,
            application_id=self.applications[key].id,
            data=PreReviewIn(forward=True, comment=comment),
        )

    def send_back(self, key: str) -> None:
        decisions.pre_review(
            self.db,
            actor=self.operator,
            application_id=self.applications[key].id,
            data=PreReviewIn(forward=False, comment=RETURNS[key]),
        )

    def provider(self, key: str) -> str:
        return PROVIDERS[ASKS[key].resource]

    def approve(self, key: str) -> None:
        application = decisions.decide(
            self.db,
            actor=self.officer(self.provider(key)),
            profile=self.profile,
            application_id=self.applications[key].id,
            data=DecisionIn.model_validate({"approve": True, **APPROVALS.get(key, {})}),
        )
        grant = self.db.get(Grant, application.grant_id)
        assert grant is not None
        self.grants[key] = grant

    def refuse(self, key: str) -> None:
        reason, basis = REFUSALS[key]
        decisions.decide(
            self.db,
            actor=self.officer(self.provider(key)),
            profile=self.profile,
            application_id=self.applications[key].id,
            data=DecisionIn(approve=False, reason=reason, basis=basis),
        )

    def withdraw(self, key: str, reason: str) -> None:
        applications.withdraw_application(
            self.db,
            actor=self.officer(ASKS[key].consumer),
            application_id=self.applications[key].id,
            reason=reason,
        )

    def renew(self, key: str) -> None:
        self.applications[f"{key}_renewal"] = applications.request_renewal(
            self.db,
            actor=self.officer(ASKS[key].consumer),
            profile=self.profile,
            grant_id=self.grants[key].id,
            data=RenewalIn(valid_until=date(self.today.year + 1, 3, 31), reason=RENEWAL),
        )

    # steps: grants
    def suspend(self, key: str, by: str, reason: str, report: bool) -> None:
        grants.suspend_grant(
            self.db,
            actor=self.officer(by),
            grant_id=self.grants[key].id,
            data=GrantActionIn(reason=reason, report_to_authority=report),
        )

    def resume(self, key: str, by: str, reason: str) -> None:
        grants.resume_grant(
            self.db,
            actor=self.officer(by),
            grant_id=self.grants[key].id,
            data=GrantActionIn(reason=reason, report_to_authority=False),
        )

    def end(self, key: str, by: str, reason: str) -> None:
        grants.end_grant(
            self.db,
            actor=self.officer(by),
            grant_id=self.grants[key].id,
            data=GrantActionIn(reason=reason, report_to_authority=False),
        )

    def feedback(self, key: str, rating: Rating, handled: int, effect: str) -> None:
        feedback.record_feedback(
            self.db,
            actor=self.officer(self.consumers[key]),
            grant_id=self.grants[key].id,
            data=FeedbackIn(rating=rating, cases_handled=handled, effect=effect),
        )

    # steps: data updates
    def data_update(self, key: str, on: date, note: str) -> None:
        freshness.record_data_update(
            self.db,
            actor=self.officer(PROVIDERS[key]),
            resource_id=self.resources[key].id,
            data=DataUpdateIn(updated_on=on, note=note),
        )

    def published(self) -> list[tuple[str, Resource]]:
        return [
            (key, r)
            for key, r in self.resources.items()
            if r.status is ResourceStatus.PUBLISHED and r.current_version is not None
        ]

    def sync_today(self) -> None:
        for key, resource in self.published():
            assert resource.current_version is not None
            frequency = resource.current_version.update_frequency
            if key not in BEHIND and frequency in NIGHTLY:
                self.data_update(key, self.today, UPDATES[frequency][3])

    # the story, as steps in time
    def plan(self) -> None:
        self.plan_direct_access()
        self.plan_applications()
        self.plan_grants()
        self.plan_data_updates()
        self.plan_cases()

    def plan_direct_access(self) -> None:
        for i, (key, consumer, resource, ago, purpose, system) in enumerate(DIRECT):
            self.at(
                ago,
                9 + i % 7,
                (i * 13) % 60,
                lambda k=key, c=consumer, r=resource, p=purpose, s=system: self.direct(
                    k, c, r, p, s
                ),
            )

    def plan_applications(self) -> None:
        def story(key: str, *events: tuple[int, int, Callable[[str], None]]) -> None:
            for ago, hour, action in events:
                self.at(ago, hour, 10 + len(key) % 40, lambda k=key, a=action: a(k))

        # refused; the consumer then opens a coordination case (plan_cases)
        story("rsj_tax_paid", (48, 10, self.submit), (47, 15, self.forward), (40, 16, self.refuse))
        # answered three working days after the decision deadline
        story(
            "czj_employment", (44, 9, self.submit), (42, 11, self.forward), (29, 17, self.approve)
        )
        story(
            "zjj_settlement", (38, 14, self.submit), (37, 10, self.forward), (31, 15, self.refuse)
        )
        # returned, corrected and approved narrower than asked
        story(
            "jyj_residence",
            (34, 9, self.submit),
            (33, 15, self.send_back),
            (31, 10, self.resubmit),
            (30, 9, self.forward),
            (24, 16, self.approve),
        )
        story(
            "mzj_insured",
            (20, 10, self.submit),
            (19, 14, self.forward),
            (13, 11, self.approve),
            (4, 9, self.renew),
            (2, 15, lambda k: self.forward(f"{k}_renewal", "续期理由充分，转提供部门答复")),
        )
        story(
            "zjj_low_income", (16, 11, self.submit), (15, 9, self.forward), (10, 16, self.approve)
        )
        story("mzj_vehicle", (19, 14, self.submit), (17, 10, self.forward))
        story(
            "jyj_low_income", (14, 10, self.submit), (13, 15, self.forward), (8, 10, self.approve)
        )
        story(
            "gjj_marriage",
            (16, 9, self.submit),
            (15, 11, self.forward),
            (
                11,
                14,
                lambda k: self.withdraw(
                    k,
                    "经与市民政局沟通，公积金提取业务改为调用婚姻登记信息按人核验服务，本申请不再需要",
                ),
            ),
        )
        story("ybj_student", (7, 10, self.submit), (5, 16, self.send_back))
        story("qs_rsj_employment", (6, 10, self.submit))
        story("scjg_credit", (5, 9, self.submit), (3, 11, self.forward))
        story("zrzy_marriage", (1, 14, self.submit))

    def plan_grants(self) -> None:
        self.at(
            30, 10, 20, lambda: self.suspend("rsj_cremation", "mzj", SUSPEND_FOR_SECURITY, False)
        )
        self.at(26, 15, 40, lambda: self.resume("rsj_cremation", "mzj", RESUME))
        self.at(12, 9, 50, lambda: self.end("xzsp_qualification", "xzsp", END_BY_CONSUMER))
        self.at(4, 16, 30, lambda: self.suspend("zjj_low_income", "mzj", MISUSE, True))
        for i, (key, ago, rating, handled, effect) in enumerate(FEEDBACK):
            self.at(
                ago,
                14 + i % 3,
                5 * i,
                lambda k=key, r=rating, n=handled, e=effect: self.feedback(k, r, n, e),
            )

    def plan_data_updates(self) -> None:
        """A history per published resource, latest within its frequency; `BEHIND` lags."""
        for i, (key, resource) in enumerate(self.published()):
            assert resource.current_version is not None and resource.first_published_on
            frequency = resource.current_version.update_frequency
            every, count, latest, note = UPDATES[frequency]
            nightly = frequency in NIGHTLY
            if key in BEHIND:
                lag = BEHIND[key]
                days = [] if lag is None else [self.today - timedelta(days=lag)]
            else:
                latest += 0 if nightly else i % 3
                days = [self.today - timedelta(days=latest + n * every) for n in range(count)]
            for day in days:
                if day < resource.first_published_on:
                    continue
                hour, minute = (1, 30) if nightly else (10 + i % 6, i % 60)
                self.at_day(
                    day, hour, minute, lambda k=key, d=day, n=note: self.data_update(k, d, n)
                )

    def plan_cases(self) -> None:
        """Coordination cases (SHR-4): one still negotiating over a not-shared resource, one
        agreed after a refusal, filed with the authority, producing a grant."""
        opened: dict[str, int] = {}

        def open_case(key: str, consumer: str, **data: Any) -> None:
            case = cases.open_case(
                self.db,
                actor=self.officer(consumer),
                data=CaseIn.model_validate({**data, "accept_restrictions": True}),
            )
            opened[key] = case.id

        def say(key: str, who: str, body: str) -> None:
            actor = self.operator if who == "operator" else self.officer(who)
            cases.post_message(self.db, actor=actor, case_id=opened[key], data=MessageIn(body=body))

        def settle(key: str, grant_key: str, data: dict[str, Any]) -> None:
            scope = {k: v for k, v in data["scope"].items() if k != "system_name"} | {
                "system_id": self.system("rsj", data["scope"]["system_name"]),
                "valid_from": clock.today(),
                "valid_until": self.until("next_year_end"),
            }
            case = cases.settle_case(
                self.db,
                actor=self.operator,
                profile=self.profile,
                case_id=opened[key],
                data=SettlementIn.model_validate(data | {"scope": scope}),
            )
            grant = self.db.get(Grant, case.grant_id)
            assert grant is not None
            self.grants[grant_key] = grant
            self.consumers[grant_key] = "rsj"

        # after the refusal of rsj_tax_paid (working day 40): agreed, filed, a grant
        self.at(
            39,
            10,
            5,
            lambda: open_case(
                "tax",
                "rsj",
                application_id=self.applications["rsj_tax_paid"].id,
                **CASE_AFTER_REFUSAL,
            ),
        )
        for ago, hour, who, body in CASE_AFTER_REFUSAL_MESSAGES:
            self.at(ago, hour, 20, lambda w=who, b=body: say("tax", w, b))
        self.at(36, 15, 30, lambda: settle("tax", "rsj_tax_case", SETTLEMENT))
        self.at(6, 11, 15, lambda: self.feedback("rsj_tax_case", *CASE_GRANT_FEEDBACK))
        # a not-shared resource: still negotiating
        self.at(
            10,
            10,
            0,
            lambda: open_case(
                "portrait", "rsj", resource_id=self.resources["gaj_portrait"].id, **CASE_NOT_SHARED
            ),
        )
        for ago, hour, who, body in CASE_NOT_SHARED_MESSAGES:
            self.at(ago, hour, 30, lambda w=who, b=body: say("portrait", w, b))


def build(db_session: Session, actor: Actor) -> None:
    """Creates the demo's sharing: grants, applications in every state, cases, data updates.
    The city's people act (and the reminder job), not the console `actor`."""
    builder = _Builder(db_session, load_profile(PROFILE))
    builder.plan()
    builder.run()
