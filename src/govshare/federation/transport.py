"""Moving signed messages between platforms over mutual TLS.

`send` is the client: it signs an envelope with this platform's key, posts it to the peer
with this platform's certificate, checks that the answer comes from the peer's certificate
and carries its signature, and logs the message. `Listener` is the server on the federation
port (`GOVSHARE_FEDERATION_PORT`): it does the TLS handshake itself, requiring a client
certificate from an active peer's trust anchor, so that a refused handshake (unknown CA,
expired, no certificate) is audited rather than lost in a server log; `receive` then checks
the peer, the signature and the clock, and hands the message to its handler.

A platform that terminates TLS elsewhere still runs this port directly: the peer's
certificate is part of the message's proof, as in X-Road's security server.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib
import json
import logging
import os
import secrets
import ssl
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govshare.core import clock
from govshare.core.errors import DomainError
from govshare.core.permissions import Actor
from govshare.federation import envelope
from govshare.federation import service as federation
from govshare.federation.models import Direction, Outcome, Peer, PeerMessage, PeerState

if TYPE_CHECKING:
    from govshare.core.runtime import Runtime

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0
HANDSHAKE_SECONDS = 15.0

# Message kinds and their handlers (`module:function`, imported when a message arrives), each
# taking (session, runtime, Incoming) and returning the reply's body.
HANDLERS: dict[str, str] = {
    "hello": "govshare.federation.transport:hello",
    # requests to the level above (SHR-8): answered by the upper platform
    "catalog.describe": "govshare.federation.inbound:describe",
    "request.bundle": "govshare.federation.inbound:receive_bundle",
    "request.status": "govshare.federation.inbound:bundle_status",
    "data.query": "govshare.federation.inbound:data_query",
    "gateway.call": "govshare.federation.gateway_relay:receive",
    "catalog.export": "govshare.federation.catalogs:export",
}


class PeerUnavailable(DomainError):
    """A message to a peer was not delivered or not answered as it should be."""

    status = 502
    kind = "peer_unavailable"
    title = "对接平台不可用"


@dataclass(frozen=True)
class Incoming:
    """A message a peer sent, once its certificate, signature and clock checked out."""

    peer: Peer
    message_id: str
    kind: str
    body: dict[str, Any]
    actor: Actor  # the peer platform, as audit entries name it


@dataclass(frozen=True)
class Later:
    """A handler's answer finished after its transaction has committed, for work that must
    not hold the transaction (and the audit chain) open, such as a call to another service:
    `finish(runtime)` runs its own transactions and gives the reply's body."""

    finish: Callable[[Runtime], dict[str, Any]]


@dataclass(frozen=True)
class Reply:
    message_id: str
    body: dict[str, Any]


# --- TLS contexts ---------------------------------------------------------------------------


@contextlib.contextmanager
def _chain_file(creds: federation.Credentials) -> Iterator[tuple[str, str]]:
    """The certificate and key in a temporary file, the key encrypted with a one-off
    password, for `load_cert_chain`; removed once loaded."""
    password = secrets.token_urlsafe(24)
    key_pem = creds.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    ).decode()
    handle, path = tempfile.mkstemp(prefix="govshare-federation-", suffix=".pem")
    try:
        with os.fdopen(handle, "w") as fh:
            fh.write(creds.certificate_pem + key_pem)
        yield path, password
    finally:
        Path(path).unlink(missing_ok=True)


def _load_chain(context: ssl.SSLContext, creds: federation.Credentials) -> None:
    with _chain_file(creds) as (path, password):
        context.load_cert_chain(path, password=password)


# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: the TLS layer checks the chain and signatures, and the
# platform checks validity periods itself against its own clock (`check_peer_certificate`),
# as it does every other deadline, so both sides judge time the same way.
_NO_CHECK_TIME = 0x200000


def client_context(creds: federation.Credentials, anchor_pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata=anchor_pem)
    context.verify_flags |= _NO_CHECK_TIME
    _load_chain(context, creds)
    return context


def server_context(creds: federation.Credentials, anchors: list[str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= _NO_CHECK_TIME
    if anchors:
        context.load_verify_locations(cadata="".join(anchors))
    _load_chain(context, creds)
    return context


# --- sending ------------------------------------------------------------------------------


def _post(
    url: str, context: ssl.SSLContext, raw: bytes, signature: str, timeout: float
) -> tuple[int, bytes, str, bytes | None]:
    connection = http.client.HTTPSConnection(
        federation.host_of(url), federation.port_of(url), timeout=timeout, context=context
    )
    try:
        connection.request(
            "POST",
            envelope.PATH,
            body=raw,
            headers={
                "Content-Type": "application/json",
                envelope.SIGNATURE_HEADER: signature,
            },
        )
        sock = connection.sock
        assert isinstance(sock, ssl.SSLSocket)
        server_der = sock.getpeercert(binary_form=True)
        response = connection.getresponse()
        body = response.read()
        return (
            response.status,
            body,
            response.getheader(envelope.SIGNATURE_HEADER) or "",
            server_der,
        )
    finally:
        connection.close()


def send(
    runtime: Runtime,
    *,
    peer_id: int,
    kind: str,
    body: dict[str, Any],
    actor: Actor,
    timeout: float = TIMEOUT_SECONDS,
    details: dict[str, object] | None = None,
) -> Reply:
    """Sends one message to a peer and returns its answer, logging it (with `details`) on
    this side whatever happens. Raises PeerUnavailable when it was not delivered, refused,
    or answered by anyone but the peer. Call it outside a transaction that has written:
    it commits its own."""
    with runtime.transaction() as db_session:
        peer = db_session.get(Peer, peer_id)
        if peer is None:
            raise PeerUnavailable(f"对接平台 {peer_id} 不存在", field="peer_id")
        if peer.state is not PeerState.ACTIVE:
            raise PeerUnavailable(f"与“{peer.name}”的对接已暂停", field="peer_id")
        creds = federation.credentials_of(db_session, runtime.settings)
        url, anchor_pem, code, name = peer.url, peer.anchor_pem, peer.code, peer.name
    message_id = str(uuid.uuid4())
    raw = envelope.canonical(
        envelope.build(
            message_id=message_id,
            kind=kind,
            sender=creds.code,
            recipient=code,
            sent_at=clock.now(),
            body=body,
        )
    )
    digest = federation.digest_of(raw)
    status, error, reply = 0, None, None
    server_der: bytes | None = None
    try:
        status, reply_raw, reply_signature, server_der = _post(
            url, client_context(creds, anchor_pem), raw, envelope.sign(creds.key, raw), timeout
        )
    except ssl.SSLCertVerificationError as exc:
        error = f"“{name}”的证书未通过验证：{exc.verify_message}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"无法连接“{name}”（{url}）：{_plain_error(exc)}"
    with runtime.transaction() as db_session:
        peer = db_session.get(Peer, peer_id)
        assert peer is not None
        if error is None:
            reply, error = _read_reply(
                db_session, peer, message_id, reply_raw, reply_signature, server_der
            )
        if error is None and (status != 200 or reply is None or reply.get("status") != "ok"):
            problem = (reply or {}).get("error") or {}
            error = f"“{name}”拒绝了该消息：{problem.get('message') or f'HTTP {status}'}"
        outcome = Outcome.OK if error is None else (Outcome.REFUSED if status else Outcome.FAILED)
        federation.log_message(
            db_session,
            actor=actor,
            message_id=message_id,
            peer=peer,
            direction=Direction.SENT,
            kind=kind,
            outcome=outcome,
            status=status,
            digest=digest,
            error=error,
            details=details,
        )
    if error is not None or reply is None:
        raise PeerUnavailable(error or "对接平台没有回复", message_id=message_id)
    return Reply(message_id, reply.get("body") or {})


def _plain_error(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason
    return str(exc) or type(exc).__name__


def _read_reply(
    db_session: Session,
    peer: Peer,
    message_id: str,
    raw: bytes,
    signature: str,
    server_der: bytes | None,
) -> tuple[dict[str, Any] | None, str | None]:
    """The peer's answer, once its certificate and signature are the peer's; else the error."""
    if server_der is None:
        return None, "对方没有出示证书"
    cert = x509.load_der_x509_certificate(server_der)
    try:
        federation.check_peer_certificate(db_session, cert, expected=peer)
    except federation.PeerRefused as refused:
        return None, refused.message
    if not envelope.signature_valid(cert, raw, signature):
        return None, f"“{peer.name}”的回复没有有效签名"
    try:
        reply = json.loads(raw)
    except ValueError:
        return None, f"“{peer.name}”的回复不是 JSON"
    if (
        not isinstance(reply, dict)
        or reply.get("id") != message_id
        or reply.get("from") != peer.code
    ):
        return None, f"“{peer.name}”的回复与消息不符"
    return reply, None


# --- receiving ----------------------------------------------------------------------------


def _handler(
    kind: str,
) -> Callable[[Session, Runtime, Incoming], dict[str, Any] | Later] | None:
    target = HANDLERS.get(kind)
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _parsed(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    if not all(isinstance(value.get(k), str) for k in ("id", "kind", "from", "to", "sent_at")):
        return None
    if not isinstance(value.get("body"), dict):
        return None
    try:
        uuid.UUID(value["id"])
    except ValueError:
        return None
    return value


@dataclass(frozen=True)
class _Arrival:
    """A message as it arrived, before anything about it is trusted."""

    creds: federation.Credentials  # this platform's, to sign the answer
    message_id: str
    kind: str
    sender: str
    digest: str
    source_ip: str | None

    def actor(self, peer: Peer | None) -> Actor:
        if peer is None:
            return Actor.anonymous(self.source_ip)
        return Actor(label=f"platform:{peer.code}", source_ip=self.source_ip)

    def answer(self, **outcome: Any) -> tuple[bytes, str]:
        raw = envelope.canonical(
            envelope.build(
                message_id=self.message_id,
                kind=self.kind,
                sender=self.creds.code,
                recipient=self.sender,
                sent_at=clock.now(),
                **outcome,
            )
        )
        return raw, envelope.sign(self.creds.key, raw)

    def refuse(
        self, runtime: Runtime, status: int, refused: federation.PeerRefused, peer_id: int | None
    ) -> tuple[int, bytes, str]:
        """Logs the refusal (once: a replay of a logged id is only audited) and answers it."""
        with runtime.transaction() as db_session:
            peer = db_session.get(Peer, peer_id) if peer_id else None
            try:
                with db_session.begin_nested():
                    federation.log_message(
                        db_session,
                        actor=self.actor(peer),
                        message_id=self.message_id,
                        peer=peer,
                        direction=Direction.RECEIVED,
                        kind=self.kind,
                        outcome=Outcome.REFUSED,
                        status=status,
                        digest=self.digest,
                        error=refused.message,
                        details={"reason": refused.reason},
                    )
            except IntegrityError:
                federation.record_message_refused(
                    db_session,
                    actor=self.actor(peer),
                    message_id=self.message_id,
                    reason=refused.reason,
                )
        error = {"code": refused.reason, "message": refused.message}
        raw, signature = self.answer(status="error", error=error)
        return status, raw, signature


def _checked_peer(
    db_session: Session,
    cert: x509.Certificate,
    message: dict[str, Any] | None,
    signature: str,
    raw: bytes,
    arrival: _Arrival,
) -> Peer:
    """The active peer that sent this message, or PeerRefused saying why not."""
    peer = federation.check_peer_certificate(db_session, cert)
    if message is None:
        raise federation.PeerRefused("消息格式不正确", "malformed", peer)
    if message["from"] != peer.code:
        raise federation.PeerRefused("消息的发送方与证书不符", "sender_mismatch", peer)
    if message["to"] != arrival.creds.code:
        raise federation.PeerRefused("消息不是发给本平台的", "wrong_recipient", peer)
    if not envelope.signature_valid(cert, raw, signature):
        raise federation.PeerRefused("消息签名无效", "bad_signature", peer)
    if not federation.sent_at_valid(message["sent_at"]):
        raise federation.PeerRefused(
            "消息时间与本平台时钟相差过大（超过 5 分钟）", "clock_skew", peer
        )
    if db_session.scalar(
        select(PeerMessage.id).where(
            PeerMessage.peer_id == peer.id,
            PeerMessage.direction == Direction.RECEIVED,
            PeerMessage.message_id == arrival.message_id,
        )
    ):
        raise federation.PeerRefused("该消息已收到过（重放）", "duplicate", peer)
    if _handler(arrival.kind) is None:
        raise federation.PeerRefused(f"本平台不处理“{arrival.kind}”类消息", "unknown_kind", peer)
    return peer


def receive(
    runtime: Runtime, *, raw: bytes, signature: str, peer_der: bytes, source_ip: str | None
) -> tuple[int, bytes, str]:
    """Checks and handles one message; the HTTP status and the signed reply."""
    cert = x509.load_der_x509_certificate(peer_der)
    with runtime.transaction() as db_session:
        creds = federation.credentials_of(db_session, runtime.settings)
    message = _parsed(raw)
    arrival = _Arrival(
        creds=creds,
        message_id=message["id"] if message else str(uuid.uuid4()),
        kind=message["kind"] if message else "?",
        sender=message["from"] if message else (federation.platform_code_of(cert) or "?"),
        digest=federation.digest_of(raw),
        source_ip=source_ip,
    )
    with runtime.transaction() as db_session:
        try:
            peer_id = _checked_peer(db_session, cert, message, signature, raw, arrival).id
        except federation.PeerRefused as refused:
            peer_id, failure = (refused.peer.id if refused.peer else None), refused
        else:
            failure = None
    if failure is not None:
        return arrival.refuse(runtime, 403, failure, peer_id)
    assert message is not None and peer_id is not None
    handler = _handler(arrival.kind)
    assert handler is not None
    try:
        with runtime.transaction() as db_session:
            peer = db_session.get(Peer, peer_id)
            assert peer is not None
            actor = arrival.actor(peer)
            federation.log_message(
                db_session,
                actor=actor,
                message_id=arrival.message_id,
                peer=peer,
                direction=Direction.RECEIVED,
                kind=arrival.kind,
                outcome=Outcome.OK,
                status=200,
                digest=arrival.digest,
            )
            incoming = Incoming(peer, arrival.message_id, arrival.kind, message["body"], actor)
            body = handler(db_session, runtime, incoming)
        if isinstance(body, Later):
            body = body.finish(runtime)
    except DomainError as error:
        refused = federation.PeerRefused(error.message, error.kind)
        return arrival.refuse(runtime, error.status, refused, peer_id)
    except IntegrityError:  # the same id arrived twice at once: one of them is refused
        duplicate = federation.PeerRefused("该消息已收到过（重放）", "duplicate")
        return arrival.refuse(runtime, 403, duplicate, peer_id)
    raw_reply, reply_signature = arrival.answer(status="ok", body=body)
    return 200, raw_reply, reply_signature


# --- the built-in message -------------------------------------------------------------------


def hello(db_session: Session, runtime: Runtime, incoming: Incoming) -> dict[str, Any]:
    """Who this platform is, and its CA's current CRL, so the peer can check revocations."""
    import base64

    from govshare.pki import service as pki

    own = federation.required_identity(db_session)
    if crl_der := incoming.body.get("crl"):
        with contextlib.suppress(ValueError, TypeError):
            federation.store_crl(
                db_session, incoming.peer, base64.b64decode(crl_der), actor=incoming.actor
            )
    crl = pki.current_crl(db_session)
    return {
        "code": own.code,
        "name": own.name,
        "level": own.level.value,
        "crl": base64.b64encode(crl).decode() if crl else None,
    }


def greet(runtime: Runtime, *, peer_id: int, actor: Actor) -> Reply:
    """Exchanges identities and CRLs with a peer (on peering, and periodically)."""
    import base64

    from govshare.pki import service as pki

    with runtime.transaction() as db_session:
        crl = pki.current_crl(db_session)
    reply = send(
        runtime,
        peer_id=peer_id,
        kind="hello",
        body={"crl": base64.b64encode(crl).decode() if crl else None},
        actor=actor,
    )
    if crl_b64 := reply.body.get("crl"):
        with runtime.transaction() as db_session:
            peer = db_session.get(Peer, peer_id)
            assert peer is not None
            with contextlib.suppress(ValueError, TypeError):
                federation.store_crl(db_session, peer, base64.b64decode(crl_b64), actor=actor)
    return reply


def greet_all(runtime: Runtime) -> None:
    """The periodic exchange of CRLs with every active peer (`federation.hello`)."""
    with runtime.transaction() as db_session:
        if federation.identity(db_session) is None:
            return
        peers = [p.id for p in federation.active_peers(db_session)]
    for peer_id in peers:
        try:
            greet(runtime, peer_id=peer_id, actor=Actor(label="worker:federation"))
        except PeerUnavailable as exc:
            log.warning("federation hello failed: %s", exc.message)
