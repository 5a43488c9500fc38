"""Requests to the level above (上级资源申请, SHR-8, SR§15–§16), the lower platform's side.

A department's data officer files a request for a resource of the upper platform: the
resource's code (the upper describes it: `catalog.describe`), the data items wanted, purpose,
basis, the department's registered system and period, and the documents the upper's rules
require. The operator here pre-reviews it (本级预审: pass or return with the reason).
Passed requests for the same upper resource not yet sent go up together as one authorization
request (整体授权申请, `request.bundle`): the bundle is claimed first, then sent, so two
operators never send a request twice, and a bundle not delivered hands its requests back.
The upper answers each item (`request.status`, pulled every minute and on demand) with its
state, deadline, decision and grant; each grant is mirrored here (`federation_mirrored_grant`)
for its department, which then queries it through this platform (`relay`).

Functions that talk to the peer take the runtime and run their own transactions around
`transport.send`, which commits its own; the others take the caller's session."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.core import clock, stored_documents
from govshare.core.audit import record
from govshare.core.errors import Conflict, Forbidden, Invalid, NotFound
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role, own_organization, require
from govshare.core.policy import VALUE_LABELS
from govshare.federation import service as federation
from govshare.federation import transport
from govshare.federation.models import Peer, PeerState, Relation
from govshare.federation.request_models import (
    Bundle,
    BundleState,
    MirroredGrant,
    RequestAttachment,
    RequestState,
    UpperRequest,
)
from govshare.federation.request_schemas import ReviewIn, UpperRequestIn
from govshare.sharing.schemas import Upload
from govshare.sharing.service.applications import check_uploads
from govshare.sharing.service.common import next_number
from govshare.systems import service as systems_service

if TYPE_CHECKING:
    from govshare.core.runtime import Runtime

log = logging.getLogger(__name__)

APPLICANTS = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD)  # who files for the department
DEPARTMENT = (Role.DATA_OFFICER, Role.DEPARTMENT_HEAD, Role.DEPARTMENT_STAFF)
OVERSEERS = (Role.PLATFORM_OPERATOR, Role.AUTHORITY, Role.AUDITOR)
WORKER = Actor(label="worker:federation")

# The upper application's state → the request's state here.
_UPPER_STATES = {
    "pre_review": RequestState.FORWARDED,
    "deciding": RequestState.FORWARDED,
    "approved": RequestState.APPROVED,
    "refused": RequestState.REFUSED,
    "returned": RequestState.UPPER_RETURNED,
    "not_accepted": RequestState.UPPER_RETURNED,
    "withdrawn": RequestState.CLOSED,
    "closed": RequestState.CLOSED,
}


def link(request: UpperRequest) -> str:
    return f"/federation/upper-requests/{request.id}"


def _notify_department(db_session: Session, request: UpperRequest, title: str, body: str) -> None:
    inbox.notify(
        db_session,
        user_ids=inbox.recipients(db_session, organization_ids=[request.organization_id]),
        notice=inbox.Notice("federation.request", title, body, link(request)),
    )


def upper_peer(db_session: Session, peer_id: int | None = None) -> Peer:
    """The active upper platform (the given one, if any)."""
    uppers = federation.active_peers(db_session, Relation.UPPER)
    if peer_id is not None:
        uppers = [p for p in uppers if p.id == peer_id]
    if not uppers:
        raise Conflict("本平台没有对接中的上级平台", field="peer_id")
    return uppers[0]


# --- describing an upper resource --------------------------------------------------------------


@dataclass(frozen=True)
class UpperResource:
    """An upper platform's resource as it described it."""

    peer_id: int
    peer_name: str
    code: str
    name: str
    provider: str
    share_type: str
    share_type_label: str
    items: list[dict[str, Any]]
    attachments: list[str]  # the documents an application there must carry

    @property
    def item_names(self) -> list[str]:
        return [str(i["name"]) for i in self.items]

    @property
    def attachment_labels(self) -> list[tuple[str, str]]:
        return [(a, VALUE_LABELS.get(a, a)) for a in self.attachments]


def describe(
    runtime: Runtime, *, actor: Actor, code: str, peer_id: int | None = None
) -> UpperResource:
    """Asks the upper platform what resource `code` holds (`catalog.describe`)."""
    require(actor, *DEPARTMENT, *OVERSEERS, action="查询上级资源")
    code = code.strip()
    if not code:
        raise Invalid("请填写上级资源代码", field="resource_code")
    with runtime.transaction() as db_session:
        peer = upper_peer(db_session, peer_id)
        peer_id, peer_name = peer.id, peer.name
    try:
        reply = transport.send(
            runtime,
            peer_id=peer_id,
            kind="catalog.describe",
            body={"code": code},
            actor=actor,
            details={"resource": code},
        )
    except transport.PeerUnavailable as exc:
        raise Invalid(
            f"上级平台未能提供资源“{code}”：{exc.message}", field="resource_code"
        ) from exc
    body = reply.body
    return UpperResource(
        peer_id,
        peer_name,
        str(body.get("code") or code),
        str(body.get("name") or code),
        str(body.get("provider") or ""),
        str(body.get("share_type") or ""),
        str(body.get("share_type_label") or ""),
        [i for i in body.get("items") or [] if isinstance(i, dict) and i.get("name")],
        [str(a) for a in body.get("attachments") or []],
    )


# --- filing and pre-review -----------------------------------------------------------------------


def file_request(
    runtime: Runtime,
    *,
    actor: Actor,
    data: UpperRequestIn,
    uploads: Sequence[Upload] = (),
) -> int:
    """A department's data officer files a request for an upper resource; the upper
    describes the resource first, so the items and documents are checked against it."""
    require(actor, *APPLICANTS, action="申请上级资源")
    org_id = own_organization(actor)
    described = describe(runtime, actor=actor, code=data.resource_code, peer_id=data.peer_id)
    if described.share_type != "conditional":
        raise Conflict(
            f"上级资源“{described.name}”为{described.share_type_label or '不可申请的'}资源，"
            "不需要或不能提出共享申请",
            field="resource_code",
        )
    unknown = [f for f in data.fields if f not in described.item_names]
    if unknown:
        raise Invalid(f"上级资源没有信息项“{'、'.join(unknown)}”", field="fields")
    if not data.accept_restrictions:
        raise Invalid("请阅读并接受共享数据使用约定", field="accept_restrictions")
    check_uploads(uploads, described.attachments)
    with runtime.transaction() as db_session:
        system = systems_service.system_for_use(
            db_session, actor=actor, organization_id=org_id, system_id=data.system_id
        )
        pending = db_session.execute(
            select(UpperRequest.number).where(
                UpperRequest.organization_id == org_id,
                UpperRequest.peer_id == described.peer_id,
                UpperRequest.resource_code == described.code,
                UpperRequest.state.in_([s for s in RequestState if s.open]),
            )
        ).scalar()
        if pending is not None:
            raise Conflict(f"本单位已有该上级资源的申请 {pending} 正在办理", field="resource_code")
        order = {n: i for i, n in enumerate(described.item_names)}
        request = UpperRequest(
            number=next_number(db_session, "SJ"),
            peer_id=described.peer_id,
            organization_id=org_id,
            resource_code=described.code,
            resource_name=described.name[:200],
            provider_name=described.provider[:100],
            fields=sorted(data.fields, key=order.__getitem__),
            purpose=data.purpose,
            basis=data.basis,
            system_id=system.id,
            system_name=system.name,
            valid_from=data.valid_from,
            valid_until=data.valid_until,
            contact=data.contact,
            state=RequestState.PRE_REVIEW,
            created_at=clock.now(),
            created_by=actor.label,
        )
        db_session.add(request)
        db_session.flush()
        for upload in uploads:
            db_session.add(
                RequestAttachment(
                    request_id=request.id,
                    kind=upload.kind,
                    **stored_documents.columns_of(upload, actor),
                )
            )
        db_session.flush()
        record(
            db_session,
            actor=actor,
            action="federation.request.file",
            object_type="federation_upper_request",
            object_id=request.id,
            details={
                "number": request.number,
                "peer": described.peer_name,
                "resource": request.resource_code,
                "fields": request.fields,
                "purpose": request.purpose,
                "basis": request.basis,
                "system_id": system.id,
                "valid_from": request.valid_from.isoformat(),
                "valid_until": request.valid_until.isoformat(),
                "attachments": [u.kind for u in uploads],
            },
        )
        inbox.notify(
            db_session,
            user_ids=inbox.recipients(db_session, roles=[Role.PLATFORM_OPERATOR]),
            notice=inbox.Notice(
                "federation.request",
                f"上级资源申请待预审：{request.number}",
                f"{request.organization.name}申请上级资源“{request.resource_name}”",
                link(request),
            ),
        )
        return request.id


def _visible(db_session: Session, actor: Actor, request_id: int) -> UpperRequest:
    require(actor, *DEPARTMENT, *OVERSEERS, action="查看上级资源申请")
    request = db_session.get(UpperRequest, request_id)
    if request is None or not (
        actor.has(*OVERSEERS) or actor.organization_id == request.organization_id
    ):
        raise NotFound(f"上级资源申请 {request_id} 不存在", field="request_id")
    return request


def get_request(db_session: Session, *, actor: Actor, request_id: int) -> UpperRequest:
    return _visible(db_session, actor, request_id)


def list_requests(
    db_session: Session, *, actor: Actor, state: RequestState | None = None
) -> list[UpperRequest]:
    """The department's own requests; every request for those who oversee."""
    require(actor, *DEPARTMENT, *OVERSEERS, action="查看上级资源申请")
    stmt = select(UpperRequest).order_by(UpperRequest.id.desc())
    if not actor.has(*OVERSEERS):
        stmt = stmt.where(UpperRequest.organization_id == own_organization(actor))
    if state is not None:
        stmt = stmt.where(UpperRequest.state == state)
    return list(db_session.execute(stmt.limit(500)).scalars())


def review(db_session: Session, *, actor: Actor, request_id: int, data: ReviewIn) -> UpperRequest:
    """The operator's pre-review (本级预审, SR§15): pass it on, or return it with the reason."""
    require(actor, Role.PLATFORM_OPERATOR, action="预审上级资源申请")
    request = _visible(db_session, actor, request_id)
    if request.state is not RequestState.PRE_REVIEW:
        raise Conflict(f"申请 {request.number} 当前为“{request.state.label}”，不能预审")
    if not data.approve and not data.comment:
        raise Invalid("退回须说明理由", field="comment")
    request.state = RequestState.READY if data.approve else RequestState.RETURNED
    request.reviewed_at, request.reviewed_by = clock.now(), actor.label
    request.review_comment = data.comment or None
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action="federation.request.review",
        object_type="federation_upper_request",
        object_id=request.id,
        details={"number": request.number, "approve": data.approve, "comment": data.comment},
    )
    if not data.approve:
        _notify_department(
            db_session,
            request,
            f"上级资源申请被退回：{request.number}",
            f"平台管理单位预审意见：{data.comment}",
        )
    return request


def get_attachment(db_session: Session, *, actor: Actor, attachment_id: int) -> RequestAttachment:
    attachment = db_session.get(RequestAttachment, attachment_id)
    if attachment is None:
        raise NotFound(f"附件 {attachment_id} 不存在", field="attachment_id")
    _visible(db_session, actor, attachment.request_id)
    record(
        db_session,
        actor=actor,
        action="federation.request.attachment",
        object_type="federation_request_attachment",
        object_id=attachment.id,
        details=stored_documents.described(attachment),
    )
    return attachment


# --- bundling and forwarding ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    """Passed requests for one upper resource, waiting to go up together."""

    peer_id: int
    peer_name: str
    resource_code: str
    resource_name: str
    requests: list[UpperRequest]


def ready_groups(db_session: Session, *, actor: Actor) -> list[Ready]:
    require(actor, *OVERSEERS, action="查看待报送的上级资源申请")
    found = db_session.execute(
        select(UpperRequest)
        .where(UpperRequest.state == RequestState.READY, UpperRequest.bundle_id.is_(None))
        .order_by(UpperRequest.peer_id, UpperRequest.resource_code, UpperRequest.id)
    ).scalars()
    groups: dict[tuple[int, str], list[UpperRequest]] = {}
    for request in found:
        groups.setdefault((request.peer_id, request.resource_code), []).append(request)
    return [
        Ready(rs[0].peer_id, rs[0].peer.name, code, rs[0].resource_name, rs)
        for (_, code), rs in groups.items()
    ]


def list_bundles(db_session: Session, *, actor: Actor) -> list[Bundle]:
    require(actor, *OVERSEERS, action="查看整体授权申请")
    return list(db_session.execute(select(Bundle).order_by(Bundle.id.desc()).limit(200)).scalars())


def bundle_requests(db_session: Session, bundle_id: int) -> list[UpperRequest]:
    return list(
        db_session.execute(
            select(UpperRequest)
            .where(UpperRequest.bundle_id == bundle_id)
            .order_by(UpperRequest.id)
        ).scalars()
    )


def _item(db_session: Session, request: UpperRequest) -> dict[str, Any]:
    """One department's request as the bundle carries it."""
    system = request.system_name
    from govshare.systems.models import InformationSystem

    registered = db_session.get(InformationSystem, request.system_id)
    attachments = db_session.execute(
        select(RequestAttachment).where(RequestAttachment.request_id == request.id)
    ).scalars()
    return {
        "number": request.number,
        "department": {"name": request.organization.name, "uscc": request.organization.uscc},
        "system": {
            "name": system,
            "purpose": registered.purpose if registered else "",
            "owner": registered.owner if registered else "",
            "level": registered.level.value if registered else "city",
        },
        "purpose": request.purpose,
        "basis": request.basis,
        "fields": request.fields,
        "valid_from": request.valid_from.isoformat(),
        "valid_until": request.valid_until.isoformat(),
        "contact": request.contact,
        "accept_restrictions": True,
        "attachments": [
            {
                "kind": a.kind,
                "filename": a.filename,
                "content_type": a.content_type,
                "content": base64.b64encode(a.content).decode(),
            }
            for a in attachments
        ],
    }


def forward(runtime: Runtime, *, actor: Actor, peer_id: int, resource_code: str) -> int:
    """Sends every passed request for one upper resource as one authorization request
    (`request.bundle`); returns the bundle's id. Claimed before it is sent, so a request is
    never sent twice; a bundle not delivered gives its requests back to 待报送."""
    require(actor, Role.PLATFORM_OPERATOR, action="报送整体授权申请")
    with runtime.transaction() as db_session:
        peer = upper_peer(db_session, peer_id)
        requests = list(
            db_session.execute(
                select(UpperRequest)
                .where(
                    UpperRequest.peer_id == peer.id,
                    UpperRequest.resource_code == resource_code,
                    UpperRequest.state == RequestState.READY,
                    UpperRequest.bundle_id.is_(None),
                )
                .order_by(UpperRequest.id)
            ).scalars()
        )
        if not requests:
            raise Conflict(f"上级资源“{resource_code}”没有待报送的申请", field="resource_code")
        bundle = Bundle(
            number=next_number(db_session, "ZT"),
            peer_id=peer.id,
            resource_code=resource_code,
            resource_name=requests[0].resource_name,
            state=BundleState.SENDING,
            created_at=clock.now(),
            created_by=actor.label,
        )
        db_session.add(bundle)
        db_session.flush()
        for request in requests:
            request.bundle_id = bundle.id
        body = {
            "number": bundle.number,
            "resource_code": resource_code,
            "items": [_item(db_session, r) for r in requests],
        }
        bundle_id, number = bundle.id, bundle.number
        record(
            db_session,
            actor=actor,
            action="federation.bundle.create",
            object_type="federation_bundle",
            object_id=bundle_id,
            details={
                "number": number,
                "peer": peer.code,
                "resource": resource_code,
                "requests": [r.number for r in requests],
            },
        )
    try:
        reply = transport.send(
            runtime,
            peer_id=peer_id,
            kind="request.bundle",
            body=body,
            actor=actor,
            details={"bundle": number, "resource": resource_code, "items": len(requests)},
        )
    except transport.PeerUnavailable as exc:
        with runtime.transaction() as db_session:
            bundle = db_session.get(Bundle, bundle_id)
            assert bundle is not None
            bundle.state, bundle.error = BundleState.FAILED, exc.message
            for request in bundle_requests(db_session, bundle_id):
                request.bundle_id = None
            record(
                db_session,
                actor=actor,
                action="federation.bundle.failed",
                object_type="federation_bundle",
                object_id=bundle_id,
                details={
                    "number": number,
                    "message_id": exc.extra.get("message_id"),
                    "error": exc.message,
                },
            )
        raise
    with runtime.transaction() as db_session:
        bundle = db_session.get(Bundle, bundle_id)
        assert bundle is not None
        bundle.state, bundle.message_id = BundleState.OPEN, reply.message_id
        bundle.upper_number = str(reply.body.get("number") or "")[:20] or None
        answers = {a.get("number"): a for a in reply.body.get("items") or []}
        items = []
        for request in bundle_requests(db_session, bundle_id):
            answer = answers.get(request.number) or {}
            request.upper_number = answer.get("application")
            if answer.get("error") or not request.upper_number:
                request.state = RequestState.UPPER_RETURNED
                request.upper_state = "未受理"
                request.upper_reason = answer.get("error") or "上级平台未答复该项"
            else:
                request.state = RequestState.FORWARDED
            request.upper_updated_at = clock.now()
            items.append(
                {
                    "number": request.number,
                    "upper": request.upper_number,
                    "error": answer.get("error"),
                }
            )
        record(
            db_session,
            actor=actor,
            action="federation.bundle.forward",
            object_type="federation_bundle",
            object_id=bundle_id,
            details={
                "number": number,
                "message_id": reply.message_id,
                "upper_number": bundle.upper_number,
                "resource": resource_code,
                "items": items,
            },
        )
        for request in bundle_requests(db_session, bundle_id):
            _notify_department(
                db_session,
                request,
                f"上级资源申请已报送：{request.number}",
                f"已随整体授权申请 {number} 报送{request.peer.name}"
                + (
                    f"；上级未受理：{request.upper_reason}"
                    if request.state is RequestState.UPPER_RETURNED
                    else ""
                ),
            )
    return bundle_id


def forward_all(runtime: Runtime, *, actor: Actor) -> list[int]:
    """Forwards every group of passed requests (CLI `govshare federation forward`)."""
    with runtime.transaction() as db_session:
        groups = [(g.peer_id, g.resource_code) for g in ready_groups(db_session, actor=actor)]
    return [forward(runtime, actor=actor, peer_id=p, resource_code=c) for p, c in groups]


# --- pulling decisions ---------------------------------------------------------------------------


def _mirror(db_session: Session, request: UpperRequest, facts: dict[str, Any]) -> MirroredGrant:
    number = str(facts["number"])[:20]
    grant = db_session.execute(
        select(MirroredGrant).where(
            MirroredGrant.peer_id == request.peer_id, MirroredGrant.number == number
        )
    ).scalar()
    if grant is None:
        grant = MirroredGrant(
            peer_id=request.peer_id,
            request_id=request.id,
            organization_id=request.organization_id,
            number=number,
        )
        db_session.add(grant)
    grant.resource_code = str(facts.get("resource_code") or request.resource_code)[:40]
    grant.resource_name = str(facts.get("resource_name") or request.resource_name)[:200]
    grant.fields = list(facts.get("fields") or [])
    grant.row_filter = list(facts.get("row_filter") or [])
    grant.masking = list(facts.get("masking") or [])
    grant.conditions = str(facts.get("conditions") or "")
    grant.valid_from = date.fromisoformat(facts["valid_from"])
    grant.valid_until = (
        date.fromisoformat(facts["valid_until"]) if facts.get("valid_until") else None
    )
    grant.state = str(facts.get("state") or "active")[:16]
    grant.state_reason = facts.get("state_reason")
    grant.mirrored_at = clock.now()
    db_session.flush()
    return grant


def _apply_status(
    db_session: Session, actor: Actor, request: UpperRequest, entry: dict[str, Any]
) -> list[str]:
    """Brings one request in line with what the upper said; what changed, for the audit."""
    changed = []
    before = (request.state, request.upper_state, request.upper_due_on)
    state = _UPPER_STATES.get(str(entry.get("state")))
    if state is not None:
        request.state = state
    request.upper_number = entry.get("application") or request.upper_number
    request.upper_state = str(entry.get("state_label") or entry.get("state") or "")[:40] or None
    due = entry.get("due_on")
    request.upper_due_on = date.fromisoformat(due) if due else None
    request.upper_reason = entry.get("reason") or entry.get("error")
    request.upper_basis = entry.get("basis")
    request.upper_conditions = entry.get("conditions")
    request.upper_updated_at = clock.now()
    if before != (request.state, request.upper_state, request.upper_due_on):
        changed.append(request.number)
        if request.state in (
            RequestState.APPROVED,
            RequestState.REFUSED,
            RequestState.UPPER_RETURNED,
        ):
            _notify_department(
                db_session,
                request,
                f"上级资源申请{request.state.label}：{request.number}",
                request.upper_reason or request.upper_conditions or "",
            )
    if entry.get("grant"):
        grant = _mirror(db_session, request, entry["grant"])
        record(
            db_session,
            actor=actor,
            action="federation.upper_grant.mirror",
            object_type="federation_mirrored_grant",
            object_id=grant.id,
            details={
                "number": grant.number,
                "request": request.number,
                "organization_id": grant.organization_id,
                "fields": grant.fields,
                "valid_until": grant.valid_until.isoformat() if grant.valid_until else None,
                "state": grant.state,
            },
        )
    return changed


def pull(runtime: Runtime, *, actor: Actor, bundle_id: int) -> list[str]:
    """Asks the upper where each item of a bundle stands (`request.status`) and mirrors the
    grants; returns the numbers of the requests whose state changed."""
    if not (actor.has(*OVERSEERS) or actor.label == WORKER.label):
        raise Forbidden("当前身份无权同步上级办理进度")
    with runtime.transaction() as db_session:
        bundle = db_session.get(Bundle, bundle_id)
        if bundle is None or bundle.state not in (BundleState.OPEN, BundleState.DONE):
            raise NotFound(f"整体授权申请 {bundle_id} 不存在或尚未报送", field="bundle_id")
        peer_id, number = bundle.peer_id, bundle.number
    reply = transport.send(
        runtime,
        peer_id=peer_id,
        kind="request.status",
        body={"number": number},
        actor=actor,
        details={"bundle": number},
    )
    with runtime.transaction() as db_session:
        bundle = db_session.get(Bundle, bundle_id)
        assert bundle is not None
        entries = {e.get("number"): e for e in reply.body.get("items") or []}
        changed: list[str] = []
        requests = bundle_requests(db_session, bundle_id)
        for request in requests:
            if request.number in entries:
                changed += _apply_status(db_session, actor, request, entries[request.number])
        bundle.pulled_at = clock.now()
        if all(not r.state.open for r in requests):
            bundle.state = BundleState.DONE
        record(
            db_session,
            actor=actor,
            action="federation.bundle.pull",
            object_type="federation_bundle",
            object_id=bundle_id,
            details={"number": number, "message_id": reply.message_id, "changed": changed},
        )
        return changed


def pull_all(runtime: Runtime) -> None:
    """The periodic pull (`federation.requests`): every open bundle, every minute."""
    with runtime.transaction() as db_session:
        if federation.identity(db_session) is None:
            return
        open_ids = list(
            db_session.execute(
                select(Bundle.id)
                .join(Peer, Peer.id == Bundle.peer_id)
                .where(Bundle.state == BundleState.OPEN, Peer.state == PeerState.ACTIVE)
            ).scalars()
        )
    for bundle_id in open_ids:
        try:
            pull(runtime, actor=WORKER, bundle_id=bundle_id)
        except transport.PeerUnavailable as exc:
            log.warning("federation status pull failed: %s", exc.message)


# --- mirrored grants ------------------------------------------------------------------------------


def list_mirrored(db_session: Session, *, actor: Actor) -> list[MirroredGrant]:
    require(actor, *DEPARTMENT, *OVERSEERS, action="查看上级授权")
    stmt = select(MirroredGrant).order_by(MirroredGrant.id.desc())
    if not actor.has(*OVERSEERS):
        stmt = stmt.where(MirroredGrant.organization_id == own_organization(actor))
    return list(db_session.execute(stmt).scalars())


def mirrored_of(db_session: Session, request_id: int) -> list[MirroredGrant]:
    return list(
        db_session.execute(
            select(MirroredGrant)
            .where(MirroredGrant.request_id == request_id)
            .order_by(MirroredGrant.id)
        ).scalars()
    )


def get_mirrored(db_session: Session, *, actor: Actor, grant_id: int) -> MirroredGrant:
    """A mirrored upper grant, for its department and those who oversee."""
    require(actor, *DEPARTMENT, *OVERSEERS, action="查看上级授权")
    grant = db_session.get(MirroredGrant, grant_id)
    if grant is None or not (
        actor.has(*OVERSEERS) or actor.organization_id == grant.organization_id
    ):
        raise NotFound(f"上级授权 {grant_id} 不存在", field="grant_id")
    return grant
