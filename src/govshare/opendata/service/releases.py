"""Opening a resource (OPN-3, SR§20): the provider defines the open view and records the
secrecy review, the platform operator confirms; the publisher then copies the open view into
the portal database (`publishing`).

The rules:
- only a published resource whose catalog entry says it is open (unconditionally or on
  conditions) can be opened; the catalog already holds SR§8 (open ⇒ unconditionally shared);
- the open view names data items of the current catalog version; a row filter and masking
  are in the grant's terms; an item marked as personal data (个人信息) is refused unless it is
  masked, by name;
- a release goes to the operator only with a secrecy review that passed;
- confirming a release makes it the resource's open one (a previous open release is
  superseded); withdrawing it takes the dataset off the portal at the next publication.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import OpenType, Resource, ResourceStatus, ResourceVersion
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox.service import Notice, notify, recipients
from govshare.core.permissions import Actor, Role, require
from govshare.opendata.models import OpenRelease, ReleaseState, SecrecyOutcome
from govshare.opendata.schemas import (
    OpenViewIn,
    ReleaseDecisionIn,
    SecrecyReviewIn,
    WithdrawalIn,
)

PROVIDERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD)
READERS = (*PROVIDERS, Role.DEPARTMENT_STAFF, Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
EDITABLE = (ReleaseState.DRAFT, ReleaseState.RETURNED)
PENDING = (ReleaseState.DRAFT, ReleaseState.SUBMITTED, ReleaseState.RETURNED)


def _link(release: OpenRelease) -> str:
    return f"/opendata/releases/{release.id}"


def _title(resource: Resource) -> str:
    return resource.current_version.name if resource.current_version else resource.code


def _is_provider(actor: Actor, resource: Resource) -> bool:
    return actor.has(*PROVIDERS) and actor.organization_id == resource.provider_id


def _release(db_session: Session, actor: Actor, release_id: int) -> OpenRelease:
    require(actor, *READERS, action="查看开放发布")
    release = db_session.get(OpenRelease, release_id)
    if release is None or not (
        actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
        or actor.organization_id == release.resource.provider_id
    ):
        raise NotFound(f"开放发布 {release_id} 不存在", field="release_id")
    return release


def _own_release(db_session: Session, actor: Actor, release_id: int, action: str) -> OpenRelease:
    release = _release(db_session, actor, release_id)
    if not _is_provider(actor, release.resource):
        raise Forbidden(f"只有资源提供部门的数据专员或负责人可以{action}")
    return release


def _check_view(resource: Resource, data: OpenViewIn) -> None:
    """The open view against the current catalog version: items exist, personal ones are
    masked, filters name open items."""
    version = resource.current_version
    assert version is not None
    items = {item.name: item for item in version.items}
    for name in data.fields:
        if name not in items:
            raise Invalid(f"信息项“{name}”不在资源的当前目录中", field="fields")
    masked = {m.field for m in data.masking}
    unmasked = [n for n in data.fields if items[n].personal and n not in masked]
    if unmasked:
        # Every such item is named, each under its own key (`masking.<item>`), so a form can
        # show the refusal beside the item's rule.
        raise Invalid(
            f"信息项“{unmasked[0]}”属于个人信息，不能不脱敏开放：请为它设置脱敏规则，或不开放该项",
            field="masking",
            errors=[
                {"field": f"masking.{n}", "message": f"“{n}”属于个人信息，须选择脱敏规则"}
                for n in unmasked
            ],
        )
    for condition in data.row_filter:
        if condition.field not in items:
            raise Invalid(
                f"数据范围条件的信息项“{condition.field}”不在资源的当前目录中", field="row_filter"
            )


def _openable(db_session: Session, code: str) -> Resource:
    resource = db_session.scalars(select(Resource).where(Resource.code == code)).one_or_none()
    if resource is None:
        raise NotFound(f"资源 {code} 不存在", field="resource_code")
    version = resource.current_version
    if resource.status is not ResourceStatus.PUBLISHED or version is None:
        raise Conflict(f"资源 {code} 尚未发布或已下架，不能开放", field="resource_code")
    if version.open_type is OpenType.NOT_OPEN:
        raise Conflict(
            f"资源 {code} 的目录开放属性为“不予开放”：须先变更目录的开放属性，经审核发布后再开放",
            field="resource_code",
        )
    return resource


def define_view(
    db_session: Session, *, actor: Actor, resource_code: str, data: OpenViewIn
) -> OpenRelease:
    """Create or change the resource's pending release with this open view (开放范围)."""
    require(actor, *PROVIDERS, action="定义开放范围")
    resource = _openable(db_session, resource_code)
    if not _is_provider(actor, resource):
        raise Forbidden("只有资源提供部门的数据专员或负责人可以定义开放范围")
    _check_view(resource, data)
    version = resource.current_version
    assert version is not None
    release = db_session.scalars(
        select(OpenRelease).where(
            OpenRelease.resource_id == resource.id, OpenRelease.state.in_(PENDING)
        )
    ).one_or_none()
    now = clock.now()
    if release is not None and release.state is ReleaseState.SUBMITTED:
        raise Conflict("开放发布已提交平台确认，确认或退回前不能修改", field="resource_code")
    if release is None:
        release = OpenRelease(
            resource_id=resource.id,
            state=ReleaseState.DRAFT,
            created_at=now,
            created_by=actor.label,
            secrecy_reviewer=None,
        )
        db_session.add(release)
    release.version_id = version.id
    release.open_type = version.open_type
    release.open_conditions = version.open_conditions
    release.fields = list(data.fields)
    release.row_filter = [c.model_dump(mode="json") for c in data.row_filter]
    release.masking = [
        {k: v for k, v in m.model_dump(mode="json").items() if v is not None} for m in data.masking
    ]
    release.tags = list(data.tags)
    release.updated_at = now
    # A changed view needs its secrecy review again.
    release.secrecy_outcome = None
    release.secrecy_reviewer = release.secrecy_basis = release.secrecy_recorded_by = None
    release.secrecy_reviewed_on = None
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="opendata.release.define",
        object_type="open_release",
        object_id=release.id,
        details={
            "resource": resource.code,
            "fields": release.fields,
            "row_filter": release.row_filter,
            "masking": release.masking,
        },
    )
    return release


def record_secrecy_review(
    db_session: Session, *, actor: Actor, release_id: int, data: SecrecyReviewIn
) -> OpenRelease:
    """Record the secrecy review (保密审查) of a pending release: who, when, basis, outcome."""
    release = _own_release(db_session, actor, release_id, "登记保密审查")
    if release.state not in EDITABLE:
        raise Conflict(f"开放发布{release.state.label}，不能登记保密审查", field="release_id")
    if data.reviewed_on > clock.today():
        raise Invalid("保密审查日期不能晚于今天", field="reviewed_on")
    release.secrecy_reviewer = data.reviewer
    release.secrecy_reviewed_on = data.reviewed_on
    release.secrecy_basis = data.basis
    release.secrecy_outcome = data.outcome
    release.secrecy_recorded_by = actor.label
    release.updated_at = clock.now()
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="opendata.release.secrecy_review",
        object_type="open_release",
        object_id=release.id,
        details={
            "resource": release.resource.code,
            "reviewer": data.reviewer,
            "reviewed_on": data.reviewed_on.isoformat(),
            "outcome": data.outcome.value,
        },
    )
    return release


def submit(db_session: Session, *, actor: Actor, release_id: int) -> OpenRelease:
    """Send a release with a passed secrecy review to the platform operator."""
    release = _own_release(db_session, actor, release_id, "提交开放发布")
    if release.state not in EDITABLE:
        raise Conflict(f"开放发布{release.state.label}，不能提交", field="release_id")
    if release.secrecy_outcome is None:
        raise Conflict("须先登记保密审查，再提交开放", field="secrecy_review")
    if release.secrecy_outcome is not SecrecyOutcome.PASSED:
        raise Conflict("保密审查未通过，不能开放", field="secrecy_review")
    if release.resource.current_version_id != release.version_id:
        raise Conflict("资源目录已变更，请按当前目录重新定义开放范围", field="release_id")
    release.state = ReleaseState.SUBMITTED
    release.submitted_at = release.updated_at = clock.now()
    release.submitted_by = actor.label
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="opendata.release.submit",
        object_type="open_release",
        object_id=release.id,
        details={"resource": release.resource.code},
    )
    notify(
        db_session,
        user_ids=recipients(db_session, roles=[Role.PLATFORM_OPERATOR]),
        notice=Notice(
            kind="opendata.release.submitted",
            title=f"待确认开放：{_title(release.resource)}",
            body=f"{release.resource.provider.name}已完成保密审查，提交开放。",
            link=_link(release),
        ),
    )
    return release


def decide(
    db_session: Session, *, actor: Actor, release_id: int, data: ReleaseDecisionIn
) -> OpenRelease:
    """The operator confirms a submitted release (it becomes the resource's open view) or
    returns it with reasons."""
    require(actor, Role.PLATFORM_OPERATOR, action="确认开放")
    release = _release(db_session, actor, release_id)
    if release.state is not ReleaseState.SUBMITTED:
        raise Conflict(f"开放发布{release.state.label}，不能确认或退回", field="release_id")
    now = clock.now()
    if data.approve:
        if release.resource.current_version_id != release.version_id:
            raise Conflict(
                "资源目录已变更，须由提供部门按当前目录重新定义开放范围", field="release_id"
            )
        # Re-check against the catalog as it is now: an item may have become personal.
        _check_view(release.resource, _view_of(release))
        for previous in db_session.scalars(
            select(OpenRelease).where(
                OpenRelease.resource_id == release.resource_id,
                OpenRelease.state == ReleaseState.OPEN,
            )
        ):
            previous.state = ReleaseState.WITHDRAWN
            previous.withdrawn_at = now
            previous.withdrawn_by = actor.label
            previous.withdrawal_reason = f"由开放发布 {release.id} 替代"
        release.state = ReleaseState.OPEN
    else:
        release.state = ReleaseState.RETURNED
    release.decided_at = release.updated_at = now
    release.decided_by = actor.label
    release.decision_comment = data.comment
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="opendata.release.confirm" if data.approve else "opendata.release.return",
        object_type="open_release",
        object_id=release.id,
        details={"resource": release.resource.code, "comment": data.comment},
    )
    verb = "已确认开放" if data.approve else f"被退回：{data.comment}"
    notify(
        db_session,
        user_ids=recipients(db_session, organization_ids=[release.resource.provider_id]),
        notice=Notice(
            kind="opendata.release.decided",
            title=f"开放发布{verb}",
            body=_title(release.resource),
            link=_link(release),
        ),
    )
    return release


def withdraw(
    db_session: Session, *, actor: Actor, release_id: int, data: WithdrawalIn
) -> OpenRelease:
    """Take a release back (撤回): the provider or the operator; an open dataset leaves the
    portal at the next publication."""
    release = _release(db_session, actor, release_id)
    if not (actor.has(Role.PLATFORM_OPERATOR) or _is_provider(actor, release.resource)):
        raise Forbidden("只有资源提供部门的数据专员或负责人、平台管理单位可以撤回开放")
    if release.state is ReleaseState.WITHDRAWN:
        raise Conflict("开放发布已撤回", field="release_id")
    was_open = release.state is ReleaseState.OPEN
    release.state = ReleaseState.WITHDRAWN
    release.withdrawn_at = release.updated_at = clock.now()
    release.withdrawn_by = actor.label
    release.withdrawal_reason = data.reason
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="opendata.release.withdraw",
        object_type="open_release",
        object_id=release.id,
        details={"resource": release.resource.code, "was_open": was_open, "reason": data.reason},
    )
    return release


def get_release(db_session: Session, *, actor: Actor, release_id: int) -> OpenRelease:
    return _release(db_session, actor, release_id)


def list_releases(
    db_session: Session, *, actor: Actor, state: ReleaseState | None = None
) -> list[OpenRelease]:
    """Releases the actor may see (its department's; every department's for the operator,
    authority and auditors), newest first."""
    require(actor, *READERS, action="查看开放发布")
    stmt = select(OpenRelease).order_by(OpenRelease.updated_at.desc(), OpenRelease.id.desc())
    if not actor.has(Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR):
        stmt = stmt.join(Resource, Resource.id == OpenRelease.resource_id).where(
            Resource.provider_id == actor.organization_id
        )
    if state is not None:
        stmt = stmt.where(OpenRelease.state == state)
    return list(db_session.scalars(stmt))


@dataclass(frozen=True)
class Permitted:
    """What the actor may do with a release now; the pages offer exactly these forms."""

    define: bool  # change the open view: the pending release's, or a new one for an open one
    review: bool  # record the secrecy review
    submit: bool  # send to the operator (the review has passed)
    decide: bool  # confirm or return
    withdraw: bool


def permitted(actor: Actor, release: OpenRelease) -> Permitted:
    provider = _is_provider(actor, release.resource)
    editable = provider and release.state in EDITABLE
    return Permitted(
        define=provider and release.state in (*EDITABLE, ReleaseState.OPEN),
        review=editable,
        submit=editable and release.secrecy_outcome is SecrecyOutcome.PASSED,
        decide=actor.has(Role.PLATFORM_OPERATOR) and release.state is ReleaseState.SUBMITTED,
        withdraw=(provider or actor.has(Role.PLATFORM_OPERATOR))
        and release.state is not ReleaseState.WITHDRAWN,
    )


@dataclass(frozen=True)
class Openable:
    """A resource its provider may open, with the releases under way for it."""

    resource: Resource
    pending: OpenRelease | None  # draft, submitted or returned
    open: OpenRelease | None  # the release open now


def get_openable(db_session: Session, *, actor: Actor, resource_code: str) -> Openable:
    """A resource of the actor's department as the open-view form needs it: openable (the
    checks of `define_view`), its pending release and its open one."""
    require(actor, *PROVIDERS, action="定义开放范围")
    resource = _openable(db_session, resource_code)
    if not _is_provider(actor, resource):
        raise Forbidden("只有资源提供部门的数据专员或负责人可以定义开放范围")
    releases = db_session.scalars(
        select(OpenRelease).where(
            OpenRelease.resource_id == resource.id,
            OpenRelease.state.in_((*PENDING, ReleaseState.OPEN)),
        )
    )
    by_state = {r.state: r for r in releases}
    pending = next((by_state[s] for s in PENDING if s in by_state), None)
    return Openable(resource, pending, by_state.get(ReleaseState.OPEN))


def openable_resources(db_session: Session, *, actor: Actor) -> list[Resource]:
    """The resources the actor's department may open and has not yet: published, open by
    the catalog (not 不予开放), without a release other than withdrawn ones. None for anyone
    who may not define an open view."""
    require(actor, *READERS, action="查看开放发布")
    if not actor.has(*PROVIDERS) or actor.organization_id is None:
        return []
    live = select(OpenRelease.resource_id).where(OpenRelease.state != ReleaseState.WITHDRAWN)
    return list(
        db_session.scalars(
            select(Resource)
            .join(ResourceVersion, ResourceVersion.id == Resource.current_version_id)
            .where(
                Resource.provider_id == actor.organization_id,
                Resource.status == ResourceStatus.PUBLISHED,
                ResourceVersion.open_type != OpenType.NOT_OPEN,
                Resource.id.not_in(live),
            )
            .order_by(Resource.code)
        )
    )


def _view_of(release: OpenRelease) -> OpenViewIn:
    return OpenViewIn.model_validate(
        {
            "fields": release.fields,
            "row_filter": release.row_filter,
            "masking": release.masking,
            "tags": release.tags,
        }
    )


def describe(release: OpenRelease) -> dict[str, Any]:
    """The release as the API shows it."""
    return {
        "id": release.id,
        "resource_code": release.resource.code,
        "resource_name": _title(release.resource),
        "provider": release.resource.provider.name,
        "state": release.state,
        "state_label": release.state.label,
        "open_type": release.open_type.value,
        "open_conditions": release.open_conditions,
        "fields": release.fields,
        "row_filter": release.row_filter,
        "masking": release.masking,
        "tags": release.tags,
        "secrecy_reviewer": release.secrecy_reviewer,
        "secrecy_reviewed_on": release.secrecy_reviewed_on,
        "secrecy_basis": release.secrecy_basis,
        "secrecy_outcome": release.secrecy_outcome,
        "submitted_at": release.submitted_at,
        "decided_at": release.decided_at,
        "decided_by": release.decided_by,
        "decision_comment": release.decision_comment,
        "published_at": release.published_at,
        "published_rows": release.published_rows,
    }
