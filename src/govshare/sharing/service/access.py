"""The access check (授权核验, SHR-3/5): the one question every data path asks before it
serves a consumer — does its department hold a usable grant for this resource now?

`check_access` answers with the consumer's grant and refuses a retired resource whatever a
grant says (CAT-6); `check_call_access` applies the same grant rules with one Core query for
the gateway, which asks on every call (the gateway refuses a retired resource before it
asks). Both log their answer either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, lazyload

from govshare.catalog.models import Resource, ResourceStatus
from govshare.core import clock
from govshare.core.audit.service import record
from govshare.core.permissions import Actor, own_organization, require
from govshare.sharing.models import Grant, GrantState
from govshare.sharing.service.common import CONSUMERS, retired_reason


@dataclass(frozen=True)
class AccessDecision:
    """The answer every data path asks for: may this department use this resource now?"""

    allowed: bool
    grant: Grant | None
    reason: str


@dataclass(frozen=True)
class GrantTerms:
    """The columns of a grant a single data call needs, as plain values: what
    `check_call_access` reads instead of loading the ORM grant. The rules are the model's."""

    id: int
    number: str
    state: GrantState
    state_reason: str | None
    valid_from: date
    valid_until: date | None
    endpoints: list[str]
    rate_limit: int | None

    expired = Grant.expired
    usable = Grant.usable


@dataclass(frozen=True)
class CallAccess:
    """`check_call_access`'s answer: an `AccessDecision` that carries the grant's terms."""

    allowed: bool
    grant: GrantTerms | None
    reason: str


_Held = TypeVar("_Held", Grant, GrantTerms)


def _decide_access(grants: Sequence[_Held], today: date) -> tuple[bool, _Held | None, str]:
    """The usable grant among the consumer's grants (newest first), else why there is none."""
    usable = next((g for g in grants if g.usable(today)), None)
    if usable is not None:
        return True, usable, "授权有效"
    if not grants:
        return False, None, "本单位没有该资源的共享授权，请先申请"
    latest = grants[0]
    if latest.state is GrantState.SUSPENDED:
        reason = f"授权 {latest.number} 已被暂停使用：{latest.state_reason}"
    elif latest.state is GrantState.ENDED:
        reason = f"授权 {latest.number} 已终止：{latest.state_reason}"
    elif latest.expired(today):
        reason = f"授权 {latest.number} 已于 {latest.valid_until} 到期，请申请续期"
    else:
        reason = f"授权 {latest.number} 自 {latest.valid_from} 起生效"
    return False, latest, reason


def _record_access(
    db_session: Session,
    actor: Actor,
    resource_id: int,
    decision: AccessDecision | CallAccess,
) -> None:
    record(db_session, **_access_entry(actor, resource_id, decision))


def _access_entry(
    actor: Actor, resource_id: int, decision: AccessDecision | CallAccess
) -> dict[str, Any]:
    """The access check's audit entry, as `record` or `entry_fields` take it."""
    return {
        "actor": actor,
        "action": "sharing.grant.access",
        "object_type": "resource",
        "object_id": resource_id,
        "details": {
            "allowed": decision.allowed,
            "grant": decision.grant.number if decision.grant else None,
            "reason": decision.reason,
        },
    }


def check_access(db_session: Session, *, actor: Actor, resource_id: int) -> AccessDecision:
    """The consumer's usable grant for the resource, or why there is none; logged either way.
    The caller refuses the data when `allowed` is false, after this entry is committed."""
    require(actor, *CONSUMERS, action="使用共享数据")
    org_id = own_organization(actor)
    grants = list(
        db_session.execute(
            select(Grant)
            .where(Grant.resource_id == resource_id, Grant.consumer_id == org_id)
            .order_by(Grant.id.desc())
            # On every data call: load a relationship only if the caller touches it (the
            # model's eager loads serve the pages and would cost more than the check).
            .options(lazyload("*"))
        ).scalars()
    )
    retired = db_session.execute(
        select(Resource.retirement_reason).where(
            Resource.id == resource_id, Resource.status == ResourceStatus.RETIRED
        )
    ).first()
    if retired is not None:  # whatever a grant says: its resource is gone (CAT-6)
        decision = AccessDecision(False, grants[0] if grants else None, retired_reason(retired[0]))
    else:
        decision = AccessDecision(*_decide_access(grants, clock.today()))
    _record_access(db_session, actor, resource_id, decision)
    return decision


_GRANT = Grant.__table__.c
# Built once: a statement object keeps its compiled form's cache key between calls.
_TERMS = (
    select(*(_GRANT[name] for name in GrantTerms.__dataclass_fields__))
    .where(
        _GRANT.resource_id == bindparam("resource_id"),
        _GRANT.consumer_id == bindparam("consumer_id"),
    )
    .order_by(_GRANT.id.desc())
)


def check_call_access(db_session: Session, *, actor: Actor, resource_id: int) -> CallAccess:
    """`check_access` for a path that asks on every call (the gateway): the same rules, the
    same audit entry, read with one Core query; the grant comes back as its terms."""
    require(actor, *CONSUMERS, action="使用共享数据")
    org_id = own_organization(actor)
    # On the session's connection: Session.execute's hooks would cost more than the query.
    rows = db_session.connection().execute(
        _TERMS, {"resource_id": resource_id, "consumer_id": org_id}
    )
    grants = [GrantTerms(*row) for row in rows]
    decision = CallAccess(*_decide_access(grants, clock.today()))
    _record_access(db_session, actor, resource_id, decision)
    return decision
