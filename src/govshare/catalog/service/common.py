"""What the catalog services share: who may compile, submit and read a resource, which
version states are open or visible, the visibility checks every read goes through, who hears
of a change, and numbering."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import (
    CodeCounter,
    Resource,
    ResourceStatus,
    ResourceVersion,
    Subscription,
    VersionState,
)
from govshare.core.errors import Forbidden, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, require
from govshare.sharing.models import Grant, GrantState

COMPILERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF)
SUBMITTERS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD)
READERS = (*COMPILERS, Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR, Role.SYSTEM)
OPEN_STATES = (VersionState.DRAFT, VersionState.SUBMITTED, VersionState.RETURNED)
PENDING_STATES = (*OPEN_STATES, VersionState.SCHEDULED)
VISIBLE_TO_ALL = (VersionState.PUBLISHED, VersionState.SUPERSEDED, VersionState.SCHEDULED)


def _is_operator(actor: Actor) -> bool:
    return actor.has(Role.PLATFORM_OPERATOR)


def _is_provider_staff(actor: Actor, resource: Resource) -> bool:
    return actor.has(*COMPILERS) and actor.organization_id == resource.provider_id


def can_see_unpublished(actor: Actor, resource: Resource) -> bool:
    """Drafts are seen by their department and the operator only."""
    return _is_operator(actor) or _is_provider_staff(actor, resource)


def may_submit(actor: Actor, resource: Resource) -> bool:
    """Whether the actor may send the resource's versions to review or ask for its retirement:
    what commits the department is for its data officer or head (or the operator), never for
    any of its staff. One rule for both, so the page and the services cannot drift apart."""
    return _is_operator(actor) or (
        actor.has(*SUBMITTERS) and actor.organization_id == resource.provider_id
    )


def _require_compiler(actor: Actor, resource: Resource, action: str) -> None:
    if not (_is_operator(actor) or _is_provider_staff(actor, resource)):
        raise Forbidden(f"只有资源提供部门或平台管理单位可以{action}")


def _resource(db_session: Session, actor: Actor, resource_id: int) -> Resource:
    require(actor, *READERS, action="查看目录")
    resource = db_session.get(Resource, resource_id)
    if resource is None or (
        resource.status is ResourceStatus.DRAFT and not can_see_unpublished(actor, resource)
    ):
        raise NotFound(f"资源 {resource_id} 不存在", field="resource_id")
    return resource


def _version(db_session: Session, actor: Actor, version_id: int) -> ResourceVersion:
    require(actor, *READERS, action="查看目录")
    version = db_session.get(ResourceVersion, version_id)
    if version is None or (
        version.state not in VISIBLE_TO_ALL and not can_see_unpublished(actor, version.resource)
    ):
        raise NotFound(f"资源版本 {version_id} 不存在", field="version_id")
    return version


def locked_counter(db_session: Session, prefix: str) -> CodeCounter:
    """The counter of `prefix`, locked for this transaction (created at 0 when new)."""
    counter = db_session.execute(
        select(CodeCounter).where(CodeCounter.prefix == prefix).with_for_update()
    ).scalar_one_or_none()
    if counter is None:
        counter = CodeCounter(prefix=prefix, last=0)
        db_session.add(counter)
    return counter


def next_sequence(db_session: Session, prefix: str) -> int:
    """The next number under `prefix`, from a locked counter: numbers are never reused.
    Resource codes use classification prefixes; other domains their own (e.g. SQ2026)."""
    counter = locked_counter(db_session, prefix)
    counter.last += 1
    db_session.flush()
    return counter.last


def _provider_users(db_session: Session, resource: Resource) -> set[int]:
    return inbox.recipients(db_session, organization_ids=[resource.provider_id])


def _users_told(db_session: Session, resource: Resource) -> set[int]:
    """Who hears of a change or retirement (CAT-6, SR§9 通知信息资源使用部门): the people of
    every department holding a grant on the resource (not ended), and of every subscriber."""
    subscribers = db_session.execute(
        select(Subscription.organization_id).where(Subscription.resource_id == resource.id)
    ).scalars()
    holders = db_session.execute(
        select(Grant.consumer_id).where(
            Grant.resource_id == resource.id, Grant.state != GrantState.ENDED
        )
    ).scalars()
    return inbox.recipients(db_session, organization_ids={*subscribers, *holders})


def _link(resource: Resource) -> str:
    return f"/catalog/resources/{resource.id}"
