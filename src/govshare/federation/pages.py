"""Federation pages (级联对接): this platform's identity, the peered platforms and the message
log, with the operator's forms to set the identity, add a peer, suspend, resume and greet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govshare.core.inputs import Id
from govshare.core.permissions import Actor, Role
from govshare.federation import schemas, transport
from govshare.federation import service as federation
from govshare.federation.models import KIND_LABELS, PeerState, PlatformLevel
from govshare.pki import service as pki
from govshare.supervision.detectors import platform_unit
from govshare.web.deps import DB, PageActor, runtime_of
from govshare.web.forms import PostedForm, attempt, filled, validated
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)


def _context(request: Request, db_session: DB, actor: Actor, **extra: Any) -> dict[str, Any]:
    peers = federation.list_peers(db_session, actor=actor)
    overseer = actor.has(*federation.OVERSEERS)
    message_id = (request.query_params.get("message_id") or "").strip()[:36]
    messages = (
        federation.list_messages(db_session, actor=actor, message_id=message_id, limit=30)
        if overseer
        else []
    )
    return {
        "own": federation.identity(db_session),
        "has_ca": pki.ca_certificate(db_session) is not None,
        "peers": peers,
        "messages": messages,
        "message_id": message_id,
        "overseer": overseer,
        "is_operator": actor.has(Role.PLATFORM_OPERATOR),
        "levels": list(PlatformLevel),
        "kind_labels": KIND_LABELS,
        "form": {},
        "errors": {},
        "failed": "",
        **extra,
    }


@router.get("/federation", response_class=HTMLResponse)
def federation_page(request: Request, db_session: DB, actor: PageActor) -> Response:
    return render(request, "federation/index.html", _context(request, db_session, actor))


def _write(
    request: Request, db_session: DB, actor: Actor, form: dict[str, Any], name: str, step: Any
) -> Response:
    def again(errors: dict[str, str], status: int) -> Response:
        context = _context(request, db_session, actor, form=form, errors=errors, failed=name)
        return render(request, "federation/index.html", context, status)

    return attempt(db_session, step, done="/federation", again=again)


@router.post("/federation/identity", response_class=HTMLResponse)
def identity_set(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    runtime = runtime_of(request)

    def step() -> str:
        data = validated(schemas.IdentityIn, filled(form))
        unit = actor.organization_id or platform_unit(db_session)
        own = federation.init_identity(
            db_session,
            actor=actor,
            settings=runtime.settings,
            validity_days=runtime.profile.rules.certificate_validity_days.value,
            organization_id=unit or 0,
            code=data.code,
            name=data.name,
            level=data.level,
            url=data.url,
        )
        return f"已设置级联身份并签发平台证书 {own.certificate.serial[:16]}…"

    return _write(request, db_session, actor, form, "identity", step)


@router.post("/federation/peers", response_class=HTMLResponse)
def peer_add(request: Request, db_session: DB, actor: PageActor, form: PostedForm) -> Response:
    def step() -> str:
        data = validated(schemas.PeerIn, filled(form))
        peer = federation.add_peer(
            db_session,
            actor=actor,
            code=data.code,
            name=data.name,
            level=data.level,
            url=data.url,
            anchor_pem=data.anchor,
        )
        return f"已与“{peer.name}”对接（{peer.relation.label}）。对方也添加本平台后，请点“握手”"

    return _write(request, db_session, actor, form, "peer", step)


@router.post("/federation/peers/{peer_id}/state", response_class=HTMLResponse)
def peer_state(
    request: Request, db_session: DB, actor: PageActor, peer_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        data = validated(schemas.ReasonIn, filled(form))
        state = PeerState.SUSPENDED if form.get("state") == "suspended" else PeerState.ACTIVE
        peer = federation.set_peer_state(
            db_session, actor=actor, peer_id=peer_id, state=state, reason=data.reason
        )
        return f"“{peer.name}”：{state.label}"

    return _write(request, db_session, actor, form, f"state-{peer_id}", step)


@router.post("/federation/peers/{peer_id}/hello", response_class=HTMLResponse)
def peer_hello(
    request: Request, db_session: DB, actor: PageActor, peer_id: Id, form: PostedForm
) -> Response:
    def step() -> str:
        federation.require_operator(actor)
        peer = federation.get_peer(db_session, actor=actor, peer_id=peer_id)
        name = peer.name
        db_session.commit()  # the message commits its own log
        reply = transport.greet(runtime_of(request), peer_id=peer_id, actor=actor)
        return f"与“{name}”握手成功，消息编号 {reply.message_id}"

    return _write(request, db_session, actor, form, f"hello-{peer_id}", step)
