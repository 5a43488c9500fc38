"""Detectors of violations (SUP-2): each reads facts another domain already keeps and yields
what it finds, never a copy of its own (DESIGN: supervision reads facts, not copies).

A detector yields `Found`: the violation, the department that must rectify it, the subject
(what it is about, and where it is shown), the facts in words and as values, and a key that
names the same facts on every run, so a finding found again is updated rather than doubled.
What a detector no longer yields has been put right: its finding is resolved.

The detectors run in `DETECTORS`' order under every profile; which article of the city's
regulation each violation breaks is the profile's (`violation_articles`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from govshare.catalog.models import (
    ChangeEvent,
    Resource,
    ResourceStatus,
    ResourceVersion,
    ShareType,
)
from govshare.core import clock
from govshare.core.permissions import Role
from govshare.core.policy import Profile, Violation
from govshare.exchange.models import BindingState, RunState, SyncRun, TableBinding
from govshare.identity.models import Organization, User, UserRole
from govshare.opendata.models import (
    PublicApplication,
    PublicApplicationState,
    PublicDataRequest,
    PublicRequestState,
)
from govshare.pki.models import SystemCertificate
from govshare.security.models import Exercise, ExerciseKind
from govshare.sharing.models import ApplicationStep, Grant, GrantState
from govshare.sharing.service.freshness import freshness_of
from govshare.supervision.models import Probe, ProbeTarget
from govshare.systems.models import InformationSystem, PrivateLine, SystemState
from govshare.verification.comparison_models import Comparison, Mismatch, MismatchState
from govshare.verification.models import Objection, ObjectionState

# A table's sync is failing once this many of its latest runs failed one after another: one
# failure is a bad night, three are a source nobody looks after.
FAILING_RUNS = 3
# An interface or database is unreachable once this many of its latest probes failed.
FAILING_PROBES = 3
# A catalog entry no version has changed for this long is not being kept up (SY§11 定期更新).
REVIEW_INTERVAL = timedelta(days=365)


@dataclass(frozen=True)
class Found:
    """What a detector found: a violation by a department, about a subject, with its facts."""

    kind: Violation
    key: str
    department_id: int
    subject_type: str
    subject_id: int | None
    subject_label: str
    link: str
    summary: str  # the facts in a sentence, as the notice states them
    facts: dict[str, Any] = field(default_factory=dict)

    def facts_with_summary(self) -> dict[str, Any]:
        return {"summary": self.summary, **self.facts}


Detector = Callable[[Session, Profile], Iterable[Found]]


def _late(due_on: date, today: date) -> int:
    return (today - due_on).days


# --- deadlines the other domains set ---------------------------------------------------------


def catalog_overdue(db_session: Session, profile: Profile) -> Iterator[Found]:
    """A law change or change of duties whose catalog update is past its deadline (CAT-5)."""
    today = clock.today()
    events = db_session.scalars(
        sa.select(ChangeEvent)
        .where(ChangeEvent.closed_at.is_(None), ChangeEvent.due_on < today)
        .order_by(ChangeEvent.id)
    )
    for event in events:
        label = event.description[:60]
        yield Found(
            Violation.CATALOG_OVERDUE,
            f"catalog_overdue:change_event:{event.id}",
            event.organization_id,
            "change_event",
            event.id,
            f"目录更新事项：{label}",
            f"/catalog/changes/{event.id}",
            f"{event.occurred_on.isoformat()} 发生{event.cause.label}（{label}），目录应于 "
            f"{event.due_on.isoformat()} 前更新，已逾期 {_late(event.due_on, today)} 天未更新。",
            {
                "occurred_on": event.occurred_on.isoformat(),
                "due_on": event.due_on.isoformat(),
                "days_late": _late(event.due_on, today),
            },
        )


def catalog_unreviewed(db_session: Session, profile: Profile) -> Iterator[Found]:
    """A published catalog entry no version has changed for a year (CAT-13, SY§11)."""
    today = clock.today()
    before = today - REVIEW_INTERVAL
    rows = db_session.execute(
        sa.select(Resource, ResourceVersion)
        .join(ResourceVersion, ResourceVersion.id == Resource.current_version_id)
        .where(
            Resource.status == ResourceStatus.PUBLISHED,
            ResourceVersion.published_on.is_not(None),
            ResourceVersion.published_on < before,
        )
        .order_by(Resource.id)
    )
    for resource, version in rows:
        assert version.published_on is not None
        yield Found(
            Violation.CATALOG_UNREVIEWED,
            f"catalog_unreviewed:resource:{resource.id}",
            resource.provider_id,
            "resource",
            resource.id,
            f"资源目录：{version.name}（{resource.code}）",
            f"/catalog/resources/{resource.id}",
            f"目录“{version.name}”自 {version.published_on.isoformat()} 发布第 "
            f"{version.number} 版以来已逾一年未更新或复核。",
            {"version": version.number, "published_on": version.published_on.isoformat()},
        )


def narrowing(db_session: Session, profile: Profile) -> Iterator[Found]:
    """An unconditionally shared table resource whose data carries fewer items than its
    published catalog entry lists (SY§32(1) 擅自缩小无条件共享类资源范围): its binding was
    made for an earlier version and the items added since reach no consumer, who takes the
    resource directly on the catalog's word.

    A narrowing the department declares — a new version that drops items or the share type,
    with its reasons, reviewed by the operator and reported to the authority (CAT-4) — is the
    regulation's way to narrow, not a violation: it is not found here."""
    rows = db_session.execute(
        sa.select(Resource, ResourceVersion, TableBinding)
        .join(ResourceVersion, ResourceVersion.id == Resource.current_version_id)
        .join(TableBinding, TableBinding.resource_id == Resource.id)
        .where(
            Resource.status == ResourceStatus.PUBLISHED,
            ResourceVersion.share_type == ShareType.UNCONDITIONAL,
        )
        .order_by(Resource.id)
    )
    for resource, version, binding in rows:
        carried = {c["item"] for c in binding.columns}
        missing = [i.name for i in version.items if i.name not in carried]
        if not missing:
            continue
        yield Found(
            Violation.NARROWING,
            f"narrowing:resource:{resource.id}",
            resource.provider_id,
            "resource",
            resource.id,
            f"资源：{version.name}（{resource.code}）",
            f"/catalog/resources/{resource.id}",
            f"“{version.name}”为无条件共享资源，目录第 {version.number} 版列有信息项"
            f"“{'”“'.join(missing)}”，但共享的数据中没有这些信息项（库表绑定未对应源字段）。",
            {"version": version.number, "missing_items": missing},
        )


def decision_overdue(db_session: Session, profile: Profile) -> Iterator[Found]:
    """A provider's decision on a sharing application past its deadline (SHR-2)."""
    today = clock.today()
    steps = db_session.scalars(
        sa.select(ApplicationStep)
        .where(
            ApplicationStep.started.is_(True),
            ApplicationStep.finished_at.is_(None),
            ApplicationStep.organization_id.is_not(None),  # the operator's pre-review: its own
            ApplicationStep.due_on < today,
        )
        .order_by(ApplicationStep.id)
    )
    for step in steps:
        assert step.organization_id is not None
        application = step.application
        yield Found(
            Violation.DECISION_OVERDUE,
            f"decision_overdue:application_step:{step.id}",
            step.organization_id,
            "application",
            application.id,
            f"共享申请 {application.number}（{application.consumer.name}申请“{application.version.name}”）",
            f"/sharing/applications/{application.id}",
            f"{application.consumer.name}于 {step.started_on.isoformat()} 提出的共享申请 "
            f"{application.number}，答复期限为 {step.due_on.isoformat()}，已逾期 "
            f"{_late(step.due_on, today)} 天未答复。",
            {
                "application": application.number,
                "started_on": step.started_on.isoformat(),
                "due_on": step.due_on.isoformat(),
                "days_late": _late(step.due_on, today),
            },
        )


def open_answer_overdue(db_session: Session, profile: Profile) -> Iterator[Found]:
    """The public's open-data applications and data requests a department has not answered
    by their deadline (OPN-2, SR§22, SR§7)."""
    today = clock.today()
    applications = db_session.scalars(
        sa.select(PublicApplication)
        .where(
            PublicApplication.state == PublicApplicationState.PENDING,
            PublicApplication.due_on < today,
        )
        .order_by(PublicApplication.id)
    )
    for application in applications:
        resource = application.resource
        yield Found(
            Violation.OPEN_ANSWER_OVERDUE,
            f"open_answer_overdue:public_application:{application.id}",
            resource.provider_id,
            "public_application",
            application.id,
            f"开放数据申请 {application.number}（{resource.code}）",
            f"/opendata/applications/{application.id}",
            f"社会公众的开放数据申请 {application.number} 答复期限为 "
            f"{application.due_on.isoformat()}，已逾期 {_late(application.due_on, today)} 天未答复。",
            {
                "application": application.number,
                "due_on": application.due_on.isoformat(),
                "days_late": _late(application.due_on, today),
            },
        )
    requests = db_session.scalars(
        sa.select(PublicDataRequest)
        .where(
            PublicDataRequest.state == PublicRequestState.ASSIGNED,
            PublicDataRequest.organization_id.is_not(None),
            PublicDataRequest.due_on < today,
        )
        .order_by(PublicDataRequest.id)
    )
    for request in requests:
        assert request.organization_id is not None and request.due_on is not None
        yield Found(
            Violation.OPEN_ANSWER_OVERDUE,
            f"open_answer_overdue:public_request:{request.id}",
            request.organization_id,
            "public_request",
            request.id,
            f"数据开放需求 {request.number}",
            f"/opendata/requests/{request.id}",
            f"分派的数据开放需求 {request.number} 答复期限为 {request.due_on.isoformat()}，"
            f"已逾期 {_late(request.due_on, today)} 天未答复。",
            {
                "request": request.number,
                "due_on": request.due_on.isoformat(),
                "days_late": _late(request.due_on, today),
            },
        )


def objection_overdue(db_session: Session, profile: Profile) -> Iterator[Found]:
    """An objection its provider has not verified by the deadline (VER-1, SY§25)."""
    today = clock.today()
    objections = db_session.scalars(
        sa.select(Objection)
        .where(Objection.state == ObjectionState.OPEN, Objection.due_on < today)
        .order_by(Objection.id)
    )
    for objection in objections:
        yield Found(
            Violation.OBJECTION_OVERDUE,
            f"objection_overdue:objection:{objection.id}",
            objection.provider_id,
            "objection",
            objection.id,
            f"疑义 {objection.number}（{objection.consumer.name}，{objection.resource.code}）",
            f"/verification/objections/{objection.id}",
            f"{objection.consumer.name}于 {objection.raised_on.isoformat()} 提出的疑义 "
            f"{objection.number}，核实期限为 {objection.due_on.isoformat()}，已逾期 "
            f"{_late(objection.due_on, today)} 天未核实答复。",
            {
                "objection": objection.number,
                "raised_on": objection.raised_on.isoformat(),
                "due_on": objection.due_on.isoformat(),
                "days_late": _late(objection.due_on, today),
            },
        )


def mismatch_overdue(db_session: Session, profile: Profile) -> Iterator[Found]:
    """Comparison mismatches a department has not settled by their deadline (VER-3): one
    finding per comparison and department, however many cases, so a large comparison does
    not become a thousand notices."""
    today = clock.today()
    rows = db_session.execute(
        sa.select(
            Mismatch.comparison_id,
            Mismatch.department_id,
            sa.func.count(Mismatch.id),
            sa.func.min(Mismatch.due_on),
        )
        .where(Mismatch.state == MismatchState.OPEN, Mismatch.due_on < today)
        .group_by(Mismatch.comparison_id, Mismatch.department_id)
        .order_by(Mismatch.comparison_id, Mismatch.department_id)
    ).all()
    for comparison_id, department_id, count, earliest in rows:
        comparison = db_session.get(Comparison, comparison_id)
        name = comparison.name if comparison else f"比对 {comparison_id}"
        yield Found(
            Violation.MISMATCH_OVERDUE,
            f"mismatch_overdue:comparison:{comparison_id}:{department_id}",
            department_id,
            "comparison",
            comparison_id,
            f"数据比对：{name}",
            f"/verification/mismatches?comparison_id={comparison_id}&show=overdue",
            f"比对“{name}”中有 {count} 条不一致超过处理期限未处理，最早的应于 "
            f"{earliest.isoformat()} 前处理。",
            {"cases": count, "earliest_due_on": earliest.isoformat()},
        )


# --- the data and its paths ------------------------------------------------------------------


def data_stale(db_session: Session, profile: Profile) -> Iterator[Found]:
    """Published data refreshed later than its declared update frequency (SHR-6, BZ§21)."""
    for fresh in sorted(freshness_of(db_session).values(), key=lambda f: f.resource_id):
        if not fresh.stale:
            continue
        resource = db_session.get(Resource, fresh.resource_id)
        assert resource is not None
        yield Found(
            Violation.DATA_STALE,
            f"data_stale:resource:{fresh.resource_id}",
            resource.provider_id,
            "resource",
            fresh.resource_id,
            f"资源：{fresh.name}（{fresh.code}）",
            f"/catalog/resources/{fresh.resource_id}",
            f"“{fresh.name}”目录公布的更新周期为{fresh.frequency.label}，最近一次更新为 "
            f"{fresh.last_updated_on.isoformat()}，应于 {fresh.due_on.isoformat()} 前更新，"
            f"已逾期 {fresh.days_late} 天。",
            {
                "frequency": fresh.frequency.value,
                "last_updated_on": fresh.last_updated_on.isoformat(),
                "due_on": fresh.due_on.isoformat(),
                "days_late": fresh.days_late,
            },
        )


def sync_failing(db_session: Session, profile: Profile) -> Iterator[Found]:
    """An active table binding whose last `FAILING_RUNS` runs all failed (EXC-2)."""
    ranked = (
        sa.select(
            SyncRun.binding_id,
            SyncRun.id,
            SyncRun.state,
            SyncRun.finished_at,
            SyncRun.error,
            sa.func.row_number()
            .over(partition_by=SyncRun.binding_id, order_by=SyncRun.id.desc())
            .label("n"),
        )
        .where(
            SyncRun.binding_id.is_not(None),
            SyncRun.state.in_([RunState.SUCCEEDED, RunState.FAILED]),
        )
        .subquery()
    )
    latest = db_session.execute(
        sa.select(ranked)
        .where(ranked.c.n <= FAILING_RUNS)
        .order_by(ranked.c.binding_id, ranked.c.n)
    ).all()
    runs: dict[int, list[Any]] = {}
    for row in latest:
        runs.setdefault(row.binding_id, []).append(row)
    for binding_id, last in runs.items():
        if len(last) < FAILING_RUNS or any(r.state != RunState.FAILED for r in last):
            continue
        binding = db_session.get(TableBinding, binding_id)
        if binding is None or binding.state != BindingState.ACTIVE:
            continue
        resource = binding.resource
        name = resource.current_version.name if resource.current_version else resource.code
        first = last[-1].finished_at
        yield Found(
            Violation.SYNC_FAILING,
            f"sync_failing:binding:{binding_id}",
            resource.provider_id,
            "binding",
            binding_id,
            f"库表同步：{name}（{binding.source_table}）",
            f"/exchange/bindings/{binding_id}",
            f"“{name}”最近 {FAILING_RUNS} 次同步均失败"
            + (f"（自 {clock.to_city(first):%Y-%m-%d %H:%M} 起）" if first else "")
            + f"，最近一次的错误：{(last[0].error or '未记录').splitlines()[0][:200]}",
            {"runs": [r.id for r in last], "error": (last[0].error or "")[:500]},
        )


def _unreachable(db_session: Session, target: ProbeTarget, kind: Violation) -> Iterator[Found]:
    ranked = (
        sa.select(
            Probe.target_id,
            Probe.department_id,
            Probe.label,
            Probe.ok,
            Probe.probed_at,
            Probe.message,
            sa.func.row_number()
            .over(partition_by=Probe.target_id, order_by=Probe.id.desc())
            .label("n"),
        )
        .where(Probe.target == target)
        .subquery()
    )
    latest = db_session.execute(
        sa.select(ranked).where(ranked.c.n <= FAILING_PROBES).order_by(ranked.c.target_id)
    ).all()
    probes: dict[int, list[Any]] = {}
    for row in latest:
        probes.setdefault(row.target_id, []).append(row)
    for target_id, last in probes.items():
        if len(last) < FAILING_PROBES or any(p.ok for p in last):
            continue
        newest, oldest = last[0], last[-1]
        yield Found(
            kind,
            f"{kind.value}:{target.value}:{target_id}",
            newest.department_id,
            target.value,
            target_id,
            f"{target.label}：{newest.label}",
            f"/exchange/{'interfaces' if target is ProbeTarget.INTERFACE else 'connections'}/{target_id}",
            f"{target.label}“{newest.label}”自 {clock.to_city(oldest.probed_at):%Y-%m-%d %H:%M} "
            f"起连续 {FAILING_PROBES} 次探测无法访问：{newest.message[:200]}",
            {"since": clock.as_utc(oldest.probed_at).isoformat(), "error": newest.message},
        )


def interface_unreachable(db_session: Session, profile: Profile) -> Iterator[Found]:
    """A registered service interface whose latest probes all failed (EXC-4, BZ§14)."""
    return _unreachable(db_session, ProbeTarget.INTERFACE, Violation.INTERFACE_UNREACHABLE)


def connection_unreachable(db_session: Session, profile: Profile) -> Iterator[Found]:
    """A registered database whose latest probes all failed (EXC-2)."""
    return _unreachable(db_session, ProbeTarget.CONNECTION, Violation.CONNECTION_UNREACHABLE)


# --- use -------------------------------------------------------------------------------------


def grant_suspended(db_session: Session, profile: Profile) -> Iterator[Found]:
    """A grant its provider or the operator suspended for misuse (SHR-5, SY§22): the consumer
    must put its use right."""
    grants = db_session.scalars(
        sa.select(Grant).where(Grant.state == GrantState.SUSPENDED).order_by(Grant.id)
    )
    for grant in grants:
        yield Found(
            Violation.GRANT_SUSPENDED,
            f"grant_suspended:grant:{grant.id}",
            grant.consumer_id,
            "grant",
            grant.id,
            f"授权 {grant.number}（{grant.version.name}，{grant.provider.name}提供）",
            f"/sharing/grants/{grant.id}",
            f"使用“{grant.version.name}”的授权 {grant.number} 因违规使用被暂停。"
            f"理由：{grant.state_reason or '未说明'}",
            {"grant": grant.number, "reason": grant.state_reason or ""},
        )


# --- security --------------------------------------------------------------------------------


def platform_unit(db_session: Session) -> int | None:
    """The platform's management unit (平台管理单位): the organisation of its operators."""
    return db_session.scalar(
        sa.select(User.organization_id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            UserRole.role == Role.PLATFORM_OPERATOR.value,
            User.active.is_(True),
            User.organization_id.is_not(None),
        )
        .order_by(User.organization_id)
        .limit(1)
    )


def exercise_missing(db_session: Session, profile: Profile) -> Iterator[Found]:
    """A year whose security test or emergency drill (SR§25) was not done by the profile's
    `security_exercise_due`, from the year the platform's first organisation was registered:
    the platform's management unit must make it up."""
    unit = platform_unit(db_session)
    first = db_session.scalar(sa.select(sa.func.min(Organization.created_at)))
    if unit is None or first is None:
        return
    today = clock.today()
    years = [
        y
        for y in range(clock.to_city(first).year, today.year + 1)
        if profile.rules.exercise_due_on(y) < today
    ]
    if not years:
        return
    done = {
        (kind, year)
        for kind, year in db_session.execute(
            sa.select(Exercise.kind, Exercise.year).where(
                Exercise.year.in_(years), Exercise.conducted_on.is_not(None)
            )
        )
    }
    for year in years:
        due_on = profile.rules.exercise_due_on(year)
        for kind in ExerciseKind:
            if (kind, year) in done:
                continue
            yield Found(
                Violation.EXERCISE_MISSING,
                f"exercise_missing:{kind.value}:{year}",
                unit,
                "exercise_year",
                year,
                f"{year} 年度{kind.label}",
                f"/security/exercises?year={year}",
                f"平台 {year} 年度应于 {due_on.isoformat()} 前开展{kind.label}，"
                f"至今未登记已开展的{kind.label}结果。",
                {"year": year, "kind": kind.value, "due_on": due_on.isoformat()},
            )


# --- systems ---------------------------------------------------------------------------------


def private_line_overdue(db_session: Session, profile: Profile) -> Iterator[Found]:
    """A private line (专线) its department registered still open past its planned closing
    date: existing lines are to be connected to the platform and closed (SY§20, SR§13)."""
    today = clock.today()
    lines = db_session.scalars(
        sa.select(PrivateLine)
        .where(PrivateLine.closed_on.is_(None), PrivateLine.planned_close_on < today)
        .order_by(PrivateLine.id)
    )
    for line in lines:
        system = line.system
        yield Found(
            Violation.PRIVATE_LINE_OVERDUE,
            f"private_line_overdue:line:{line.id}",
            system.organization_id,
            "information_system",
            system.id,
            f"信息系统“{system.name}”的专线（对端：{line.peer}）",
            f"/systems/{system.id}",
            f"“{system.name}”与{line.peer}之间的专线计划于 {line.planned_close_on.isoformat()} "
            f"关闭，已逾期 {_late(line.planned_close_on, today)} 天仍未关闭。",
            {
                "peer": line.peer,
                "planned_close_on": line.planned_close_on.isoformat(),
                "days_late": _late(line.planned_close_on, today),
            },
        )


# --- certificates ----------------------------------------------------------------------------


def certificate_expiring(db_session: Session, profile: Profile) -> Iterator[Found]:
    """A system in use whose certificate expires within the profile's
    `certificate_expiry_warning_days`, or has expired while the system is still connected to
    the platform, with no later certificate to take over (BZ§26 统一数字证书): its department
    must renew it. A renewal or a revocation resolves the finding."""
    now = clock.now()
    warn_until = now + timedelta(days=profile.rules.certificate_expiry_warning_days.value)
    # Each system's certificate that lasts longest: a renewal supersedes the one it renews.
    latest = (
        sa.select(
            SystemCertificate.system_id, sa.func.max(SystemCertificate.not_after).label("until")
        )
        .where(SystemCertificate.revoked_at.is_(None))
        .group_by(SystemCertificate.system_id)
        .subquery()
    )
    certificates = db_session.scalars(
        sa.select(SystemCertificate)
        .join(
            latest,
            sa.and_(
                latest.c.system_id == SystemCertificate.system_id,
                latest.c.until == SystemCertificate.not_after,
            ),
        )
        .join(InformationSystem, InformationSystem.id == SystemCertificate.system_id)
        .where(
            SystemCertificate.revoked_at.is_(None),
            SystemCertificate.not_after <= warn_until,
            InformationSystem.state == SystemState.IN_USE,
        )
        .order_by(SystemCertificate.id)
    )
    today = clock.today()
    for cert in certificates:
        system = cert.system
        until = clock.to_city(cert.not_after).date()
        expired = cert.not_after <= now
        if expired and not system.connected:
            continue
        if expired:
            summary = (
                f"“{system.name}”的数字证书（序列号 {cert.serial[:16]}）已于 {until.isoformat()} "
                f"过期 {(today - until).days} 天，该系统仍接入平台，须续期或重新签发。"
            )
        else:
            summary = (
                f"“{system.name}”的数字证书（序列号 {cert.serial[:16]}）将于 {until.isoformat()} "
                f"到期（还剩 {(until - today).days} 天），须在到期前续期。"
            )
        yield Found(
            Violation.CERTIFICATE_EXPIRING,
            f"certificate_expiring:certificate:{cert.id}",
            cert.organization_id,
            "information_system",
            system.id,
            f"信息系统“{system.name}”的数字证书",
            f"/pki?system_id={system.id}",
            summary,
            {
                "serial": cert.serial,
                "not_after": until.isoformat(),
                "expired": expired,
                "days_left": (until - today).days,
            },
        )


DETECTORS: tuple[Detector, ...] = (
    catalog_overdue,
    catalog_unreviewed,
    narrowing,
    decision_overdue,
    open_answer_overdue,
    objection_overdue,
    mismatch_overdue,
    data_stale,
    sync_failing,
    interface_unreachable,
    connection_unreachable,
    grant_suspended,
    exercise_missing,
    private_line_overdue,
    certificate_expiring,
)
