"""The upper platform's side of requests from below (SHR-8, SR§15–§16): what it answers to a
lower platform's messages.

`catalog.describe` tells a lower platform what one published resource holds. `request.bundle`
turns a lower platform's authorization request into one ordinary application per department
(`sharing.service.applications.submit_application`), so that the operator here pre-reviews it
and the provider here decides it within its own working-day deadline, as any other; the
department is registered here as an organisation of the lower platform's level by its
统一社会信用代码 (and its system in the systems register), and the grant is made to it.
`request.status` reports each item's state, deadline, decision and grant. `data.query` runs
the ordinary delivery query as that department, so the grant's fields, rows, masking, usage
record and audit apply to a relayed call exactly as to a local one.

Each handler runs in the transaction that logs the received message under its message id."""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.catalog.models import DataItem, Resource, ResourceStatus, ShareType
from govshare.core import clock
from govshare.core.audit import record
from govshare.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from govshare.core.permissions import Actor, Role
from govshare.exchange.service import delivery
from govshare.federation.models import Peer, PlatformLevel, Relation
from govshare.federation.request_models import InboundBundle, InboundItem, PeerOrganization
from govshare.identity import service as identity_service
from govshare.identity.models import Level, Organization
from govshare.identity.schemas import OrganizationIn
from govshare.sharing.models import Application, ApplicationState, Grant, StepOutcome
from govshare.sharing.schemas import ApplicationIn, Upload
from govshare.sharing.service import applications, deadlines
from govshare.sharing.service.common import next_number
from govshare.systems import service as systems_service
from govshare.systems.models import InformationSystem, SystemLevel, SystemState
from govshare.systems.schemas import SystemIn

if TYPE_CHECKING:
    from govshare.core.runtime import Runtime
    from govshare.federation.transport import Incoming

MAX_ITEMS = 100
READERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
_LEVELS = {PlatformLevel.CITY: Level.CITY, PlatformLevel.COUNTY: Level.COUNTY}


def text_of(body: dict[str, Any], name: str, limit: int = 200) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Invalid(f"消息缺少有效的“{name}”", field=name)
    return value.strip()


def _published(db_session: Session, code: str) -> Resource:
    resource = db_session.execute(select(Resource).where(Resource.code == code)).scalar()
    if (
        resource is None
        or resource.status is not ResourceStatus.PUBLISHED
        or resource.current_version is None
    ):
        raise NotFound(f"本平台没有已发布的资源“{code}”", field="code")
    return resource


# --- catalog.describe ------------------------------------------------------------------------


def describe(db_session: Session, runtime: Runtime, incoming: Incoming) -> dict[str, Any]:
    """One published resource as a lower platform's department needs it to apply."""
    resource = _published(db_session, text_of(incoming.body, "code", 40))
    version = resource.current_version
    assert version is not None
    items = db_session.execute(
        select(DataItem).where(DataItem.version_id == version.id).order_by(DataItem.position)
    ).scalars()
    return {
        "code": resource.code,
        "name": version.name,
        "provider": resource.provider.name,
        "share_type": version.share_type.value,
        "share_type_label": version.share_type.label,
        "items": [
            {"name": i.name, "data_type": i.data_type.value, "personal": i.personal} for i in items
        ],
        "attachments": [
            a.value for a in runtime.profile.rules.application_attachments.value
        ],  # what an application here must carry
    }


# --- the departments a lower platform speaks for ----------------------------------------------


def department_actor(incoming: Incoming, organization: Organization) -> Actor:
    """The lower platform acting for one of its departments (as its data officer would)."""
    return Actor(
        label=f"{incoming.actor.label}/{organization.uscc}"[:120],
        roles=frozenset({Role.DATA_OFFICER}),
        organization_id=organization.id,
        source_ip=incoming.actor.source_ip,
    )


def _platform_actor(incoming: Incoming) -> Actor:
    """The lower platform registering its department and system here (on its own word, so
    only departments no one else has registered: see `_department`)."""
    return Actor(
        label=incoming.actor.label,
        roles=frozenset({Role.PLATFORM_OPERATOR}),
        source_ip=incoming.actor.source_ip,
    )


def from_below(incoming: Incoming) -> None:
    if incoming.peer.relation is not Relation.LOWER:
        raise Forbidden(f"“{incoming.peer.name}”不是本平台的下级平台，不受理其申请", field="peer")


def spoken_for(db_session: Session, peer: Peer, uscc: str) -> Organization:
    """The organisation `peer` registered here under `uscc`; any other is refused."""
    found = db_session.execute(
        select(Organization)
        .join(PeerOrganization, PeerOrganization.organization_id == Organization.id)
        .where(Organization.uscc == uscc, PeerOrganization.peer_id == peer.id)
    ).scalar()
    if found is None:
        raise Forbidden(
            f"统一社会信用代码 {uscc} 不是“{peer.name}”在本平台登记的单位", field="uscc"
        )
    return found


def _department(db_session: Session, incoming: Incoming, given: dict[str, Any]) -> Organization:
    peer = incoming.peer
    uscc, name = text_of(given, "uscc", 18).upper(), text_of(given, "name", 100)
    known = db_session.execute(select(Organization).where(Organization.uscc == uscc)).scalar()
    if known is not None:
        return spoken_for(db_session, peer, uscc)
    if db_session.execute(select(Organization.id).where(Organization.name == name)).scalar():
        name = f"{name}（{peer.name}）"[:100]
    try:
        data = OrganizationIn(name=name, uscc=uscc, level=_LEVELS.get(peer.level, Level.CITY))
    except ValidationError as exc:
        raise Invalid(f"单位“{name}”的统一社会信用代码无效", field="uscc") from exc
    organization = identity_service.create_organization(
        db_session, actor=_platform_actor(incoming), data=data
    )
    db_session.add(
        PeerOrganization(peer_id=peer.id, organization_id=organization.id, created_at=clock.now())
    )
    db_session.flush()
    return organization


def _system(
    db_session: Session, incoming: Incoming, organization: Organization, given: dict[str, Any]
) -> InformationSystem:
    name = text_of(given, "name", 100)
    found = db_session.execute(
        select(InformationSystem).where(
            InformationSystem.organization_id == organization.id,
            InformationSystem.name == name,
            InformationSystem.state == SystemState.IN_USE,
        )
    ).scalar()
    if found is not None:
        return found
    level = given.get("level")
    data = SystemIn(
        organization_id=organization.id,
        name=name,
        purpose=str(given.get("purpose") or "承载本单位业务办理")[:2000],
        owner=str(given.get("owner") or organization.name)[:100],
        level=SystemLevel(level) if level in {s.value for s in SystemLevel} else SystemLevel.CITY,
    )
    return systems_service.register_system(db_session, actor=_platform_actor(incoming), data=data)


# --- request.bundle --------------------------------------------------------------------------


def _uploads(given: Any) -> list[Upload]:
    uploads = []
    for entry in given or []:
        try:
            uploads.append(
                Upload(
                    kind=str(entry["kind"]),
                    filename=str(entry["filename"]),
                    content_type=str(entry["content_type"]),
                    content=base64.b64decode(entry["content"], validate=True),
                )
            )
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise Invalid("附件格式无效", field="attachments") from exc
    return uploads


def _apply(
    db_session: Session,
    runtime: Runtime,
    incoming: Incoming,
    resource: Resource,
    item: dict[str, Any],
) -> Application:
    """One department's request as an application here."""
    organization = _department(db_session, incoming, item.get("department") or {})
    system = _system(db_session, incoming, organization, item.get("system") or {})
    purpose = text_of(item, "purpose", 2000)
    basis = str(item.get("basis") or "").strip()
    try:
        data = ApplicationIn(
            resource_id=resource.id,
            purpose=f"{purpose}（申请依据：{basis}）" if basis else purpose,
            system_id=system.id,
            fields=item.get("fields") or [],
            valid_from=item.get("valid_from"),
            valid_until=item.get("valid_until"),
            contact=str(item.get("contact") or "")[:100],
            accept_restrictions=bool(item.get("accept_restrictions")),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Invalid(f"申请内容不完整：{where} {first['msg']}", field=where) from exc
    return applications.submit_application(
        db_session,
        actor=department_actor(incoming, organization),
        profile=runtime.profile,
        data=data,
        uploads=_uploads(item.get("attachments")),
    )


def receive_bundle(db_session: Session, runtime: Runtime, incoming: Incoming) -> dict[str, Any]:
    """A lower platform's authorization request (整体授权申请): each department's item
    becomes an application here, or is answered with why it was not accepted."""
    from_below(incoming)
    body = incoming.body
    lower_number = text_of(body, "number", 20)
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise Invalid(f"整体授权申请须包含 1 至 {MAX_ITEMS} 项申请", field="items")
    if db_session.execute(
        select(InboundBundle.id).where(
            InboundBundle.peer_id == incoming.peer.id, InboundBundle.lower_number == lower_number
        )
    ).scalar():
        raise Conflict(f"整体授权申请 {lower_number} 已收到过", field="number")
    resource = _published(db_session, text_of(body, "resource_code", 40))
    assert resource.current_version is not None
    if resource.current_version.share_type is not ShareType.CONDITIONAL:
        raise Conflict(
            f"资源“{resource.current_version.name}”为{resource.current_version.share_type.label}"
            "资源，不受理共享申请",
            field="resource_code",
        )
    bundle = InboundBundle(
        number=next_number(db_session, "ZS"),
        peer_id=incoming.peer.id,
        lower_number=lower_number,
        message_id=incoming.message_id,
        resource_id=resource.id,
        resource_code=resource.code,
        resource_name=resource.current_version.name,
        received_at=clock.now(),
    )
    db_session.add(bundle)
    db_session.flush()
    answers = []
    for item in items:
        item = item if isinstance(item, dict) else {}
        department = item.get("department") or {}
        row = InboundItem(
            bundle_id=bundle.id,
            lower_number=str(item.get("number") or "")[:20],
            organization_name=str(department.get("name") or "")[:100],
            uscc=str(department.get("uscc") or "")[:18],
        )
        try:
            with db_session.begin_nested():
                application = _apply(db_session, runtime, incoming, resource, item)
            row.organization_id, row.application_id = application.consumer_id, application.id
        except DomainError as error:
            row.error = error.message
        db_session.add(row)
        db_session.flush()
        answers.append(
            {
                "number": row.lower_number,
                "application": row.application.number if row.application else None,
                "error": row.error,
            }
        )
    record(
        db_session,
        actor=incoming.actor,
        action="federation.bundle.receive",
        object_type="federation_inbound_bundle",
        object_id=bundle.id,
        details={
            "number": bundle.number,
            "lower_number": lower_number,
            "message_id": incoming.message_id,
            "resource": resource.code,
            "items": answers,
        },
    )
    return {"number": bundle.number, "items": answers}


# --- request.status --------------------------------------------------------------------------


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def grant_facts(grant: Grant) -> dict[str, Any]:
    return {
        "number": grant.number,
        "resource_code": grant.resource.code,
        "resource_name": grant.version.name,
        "fields": grant.fields,
        "row_filter": grant.row_filter,
        "masking": grant.masking,
        "conditions": grant.conditions or "",
        "valid_from": grant.valid_from.isoformat(),
        "valid_until": _iso(grant.valid_until),
        "state": grant.state.value,
        "state_reason": grant.state_reason,
    }


def _item_status(db_session: Session, item: InboundItem) -> dict[str, Any]:
    entry: dict[str, Any] = {"number": item.lower_number, "error": item.error}
    application = item.application
    if application is None:
        return entry | {"state": "not_accepted", "state_label": "未受理"}
    step = deadlines.open_step(application)
    returned = next(
        (s.comment for s in application.steps if s.outcome is StepOutcome.RETURNED and s.comment),
        None,
    )
    entry |= {
        "application": application.number,
        "state": application.state.value,
        "state_label": application.state.label,
        "due_on": _iso(step.due_on) if step else None,
        "step": step.kind.label if step else None,
        "reason": application.decision_reason
        or (returned if application.state is ApplicationState.RETURNED else None),
        "basis": application.decision_basis,
        "conditions": application.conditions,
    }
    if application.grant_id is not None:
        grant = db_session.get(Grant, application.grant_id)
        assert grant is not None
        entry["grant"] = grant_facts(grant)
    return entry


def bundle_status(db_session: Session, runtime: Runtime, incoming: Incoming) -> dict[str, Any]:
    """Where each item of one of the peer's bundles stands here."""
    from_below(incoming)
    lower_number = text_of(incoming.body, "number", 20)
    bundle = db_session.execute(
        select(InboundBundle).where(
            InboundBundle.peer_id == incoming.peer.id, InboundBundle.lower_number == lower_number
        )
    ).scalar()
    if bundle is None:
        raise NotFound(f"本平台没有收到整体授权申请 {lower_number}", field="number")
    return {
        "number": bundle.number,
        "items": [_item_status(db_session, item) for item in bundle.items],
    }


# --- data.query ------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A delivered value as JSON carries it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def data_query(db_session: Session, runtime: Runtime, incoming: Incoming) -> dict[str, Any]:
    """A department below queries its grant here, relayed by its platform: the ordinary
    delivery query as that department. A refusal after the access check is answered (not
    raised) so that its audit entries commit here."""
    from_below(incoming)
    body = incoming.body
    organization = spoken_for(db_session, incoming.peer, text_of(body, "uscc", 18))
    number = text_of(body, "grant", 20)
    grant = db_session.execute(
        select(Grant).where(Grant.number == number, Grant.consumer_id == organization.id)
    ).scalar()
    if grant is None:
        raise NotFound(f"{organization.name}在本平台没有授权 {number}", field="grant")
    filters = [
        (str(pair[0]), str(pair[1]))
        for pair in body.get("filters") or []
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]
    fields = [str(f) for f in body.get("fields") or []]
    limit = body.get("limit") or delivery.DEFAULT_LIMIT
    if not isinstance(limit, int):
        raise Invalid("每页条数须为整数", field="limit")
    cursor = body.get("cursor")
    page = delivery.query(
        db_session,
        actor=department_actor(incoming, organization),
        settings=runtime.settings,
        center=runtime.center,
        resource_code=grant.resource.code,
        request=delivery.DataRequest(filters=filters, fields=fields),
        limit=limit,
        cursor=cursor if isinstance(cursor, str) else None,
    )
    outcome: dict[str, Any]
    if isinstance(page, delivery.Rejected):
        outcome = {"refused": page.error.message, "field": page.error.field}
    else:
        outcome = {
            "resource_code": page.resource_code,
            "resource_name": page.name,
            "grant": page.grant.number,
            "fields": [
                {
                    "name": f.column,
                    "item": f.item,
                    "type": f.type,
                    "masking": f.mask.rule if f.mask else None,
                }
                for f in page.fields
            ],
            "rows": [{k: plain(v) for k, v in row.items()} for row in page.rows],
            "next_cursor": page.next_cursor,
        }
    record(
        db_session,
        actor=incoming.actor,
        action="federation.relay.query",
        object_type="grant",
        object_id=grant.id,
        details={
            "message_id": incoming.message_id,
            "grant": grant.number,
            "organization": organization.uscc,
            "filters": [list(f) for f in filters],
            "fields": fields,
            **(
                {"refused": outcome["refused"]}
                if "refused" in outcome
                else {"rows": len(outcome["rows"])}
            ),
        },
    )
    return outcome


# --- what the upper platform's operator sees ---------------------------------------------------


def list_inbound(db_session: Session, *, actor: Actor) -> list[InboundBundle]:
    from govshare.core.permissions import require

    require(actor, *READERS, action="查看下级平台的整体授权申请")
    return list(
        db_session.execute(select(InboundBundle).order_by(InboundBundle.id.desc())).scalars()
    )
