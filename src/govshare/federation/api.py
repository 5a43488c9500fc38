"""Federation API (级联对接): this platform's identity, its peers and the message log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from govshare.core.errors import NotFound
from govshare.core.inputs import Id
from govshare.core.permissions import Actor
from govshare.federation import schemas, transport
from govshare.federation import service as federation
from govshare.federation.models import PeerState, PlatformIdentity
from govshare.supervision.detectors import platform_unit
from govshare.web.deps import DB, SignedIn, runtime_of

router = APIRouter(prefix="/federation", tags=["级联对接"])


def _identity_out(own: PlatformIdentity) -> schemas.IdentityOut:
    return schemas.IdentityOut(
        code=own.code,
        name=own.name,
        level=own.level,
        url=own.url,
        certificate_serial=own.certificate.serial,
        certificate_not_after=own.certificate.not_after,
    )


@router.get("/identity", summary="本平台级联身份")
def get_identity(db_session: DB, actor: SignedIn) -> schemas.IdentityOut:
    federation.list_peers(db_session, actor=actor)  # the same readers as the peers
    own = federation.identity(db_session)
    if own is None:
        raise NotFound("本平台尚未设置级联身份", field="identity")
    return _identity_out(own)


@router.post("/identity", status_code=201, summary="设置本平台级联身份并签发平台证书")
def init_identity(
    request: Request, db_session: DB, actor: SignedIn, data: schemas.IdentityIn
) -> schemas.IdentityOut:
    runtime = runtime_of(request)
    unit = actor.organization_id or platform_unit(db_session)
    if unit is None:
        raise NotFound("找不到平台管理单位", field="organization_id")
    own = federation.init_identity(
        db_session,
        actor=actor,
        settings=runtime.settings,
        validity_days=runtime.profile.rules.certificate_validity_days.value,
        organization_id=unit,
        code=data.code,
        name=data.name,
        level=data.level,
        url=data.url,
    )
    return _identity_out(own)


@router.get("/peers", summary="对接平台")
def list_peers(db_session: DB, actor: SignedIn) -> list[schemas.PeerOut]:
    return [
        schemas.PeerOut.model_validate(p) for p in federation.list_peers(db_session, actor=actor)
    ]


@router.post("/peers", status_code=201, summary="添加对接平台（信任其 CA 证书）")
def add_peer(db_session: DB, actor: SignedIn, data: schemas.PeerIn) -> schemas.PeerOut:
    peer = federation.add_peer(
        db_session,
        actor=actor,
        code=data.code,
        name=data.name,
        level=data.level,
        url=data.url,
        anchor_pem=data.anchor,
    )
    return schemas.PeerOut.model_validate(peer)


def _set_state(
    db_session: DB, actor: Actor, peer_id: int, state: PeerState, reason: str
) -> schemas.PeerOut:
    peer = federation.set_peer_state(
        db_session, actor=actor, peer_id=peer_id, state=state, reason=reason
    )
    return schemas.PeerOut.model_validate(peer)


@router.post("/peers/{peer_id}/suspend", summary="暂停与对接平台的交换")
def suspend_peer(
    db_session: DB, actor: SignedIn, peer_id: Id, data: schemas.ReasonIn
) -> schemas.PeerOut:
    return _set_state(db_session, actor, peer_id, PeerState.SUSPENDED, data.reason)


@router.post("/peers/{peer_id}/resume", summary="恢复与对接平台的交换")
def resume_peer(
    db_session: DB, actor: SignedIn, peer_id: Id, data: schemas.ReasonIn
) -> schemas.PeerOut:
    return _set_state(db_session, actor, peer_id, PeerState.ACTIVE, data.reason)


@router.post(
    "/peers/{peer_id}/hello",
    summary="与对接平台握手",
    description="交换身份和证书吊销列表；消息在双方以同一消息编号记录。",
)
def hello(request: Request, db_session: DB, actor: SignedIn, peer_id: Id) -> schemas.HelloOut:
    federation.require_operator(actor)
    federation.get_peer(db_session, actor=actor, peer_id=peer_id)
    db_session.commit()  # the message commits its own log
    reply = transport.greet(runtime_of(request), peer_id=peer_id, actor=actor)
    return schemas.HelloOut(
        message_id=reply.message_id, code=reply.body.get("code"), name=reply.body.get("name")
    )


@router.get(
    "/messages",
    summary="级联消息记录",
    description="双方以同一消息编号（message_id）记录每条消息，可按编号核对。",
)
def list_messages(
    db_session: DB,
    actor: SignedIn,
    peer_id: Id | None = None,
    message_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[schemas.MessageOut]:
    rows = federation.list_messages(
        db_session, actor=actor, peer_id=peer_id, message_id=message_id, limit=limit
    )
    return [schemas.MessageOut.model_validate(m) for m in rows]
