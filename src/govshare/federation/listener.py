"""The federation port (`GOVSHARE_FEDERATION_PORT`, run by `govshare serve`): a threaded
server that does the TLS handshake itself, requiring a client certificate from an active
peer's trust anchor, so that a refused handshake (unknown CA, no certificate) is audited
rather than lost in a server log, then hands each message to `transport.receive`."""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from govshare.federation import envelope
from govshare.federation import service as federation
from govshare.federation.transport import HANDSHAKE_SECONDS, receive, server_context

if TYPE_CHECKING:
    from govshare.core.runtime import Runtime

log = logging.getLogger(__name__)

# --- the listener -------------------------------------------------------------------------

_VERIFY_REASONS = {
    9: "not_yet_valid",
    10: "expired",
    18: "untrusted_issuer",
    19: "untrusted_issuer",
    20: "untrusted_issuer",
    21: "untrusted_issuer",
    23: "revoked",
}


class _Handler(BaseHTTPRequestHandler):
    server: Listener
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        if self.path != envelope.PATH:
            self._plain(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > self.server.runtime.settings.max_body_bytes:
            self._plain(413, {"error": "消息过大"})
            return
        raw = self.rfile.read(length)
        der = self.connection.getpeercert(binary_form=True)  # type: ignore[attr-defined]
        status, reply, signature = receive(
            self.server.runtime,
            raw=raw,
            signature=self.headers.get(envelope.SIGNATURE_HEADER, ""),
            peer_der=der,
            source_ip=self.client_address[0],
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.send_header(envelope.SIGNATURE_HEADER, signature)
        self.end_headers()
        self.wfile.write(reply)

    def do_GET(self) -> None:
        self._plain(405, {"error": "只接受 POST 消息"})

    def _plain(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("federation %s " + format, self.client_address[0], *args)


class Listener(ThreadingHTTPServer):
    """The federation port: mutual TLS with the active peers' trust anchors."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, runtime: Runtime, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.runtime = runtime
        self._context: ssl.SSLContext | None = None
        self._context_key: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def context(self) -> ssl.SSLContext | None:
        """The server context for the current identity and peers; rebuilt when they change,
        so a new or suspended peering takes effect with the next connection."""
        with self.runtime.transaction() as db_session:
            own = federation.identity(db_session)
            if own is None:
                return None
            peers = federation.active_peers(db_session)
            key = (own.certificate.fingerprint, *(p.anchor_fingerprint for p in peers))
            with self._lock:
                if key != self._context_key or self._context is None:
                    creds = federation.credentials_of(db_session, self.runtime.settings)
                    self._context = server_context(creds, [p.anchor_pem for p in peers])
                    self._context_key = key
                return self._context

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_SECONDS)
        source_ip = client_address[0] if client_address else None
        try:
            context = self.context()
        except Exception:
            log.exception("federation listener has no usable TLS context")
            return
        if context is None:
            return
        try:
            connection = context.wrap_socket(request, server_side=True)
        except ssl.SSLCertVerificationError as exc:
            reason = _VERIFY_REASONS.get(exc.verify_code, "certificate")
            self._refused(source_ip, reason, f"对方证书未通过验证：{exc.verify_message}")
            return
        except ssl.SSLError as exc:
            text = exc.reason or str(exc)
            if "PEER_DID_NOT_RETURN_A_CERTIFICATE" in text:
                self._refused(source_ip, "no_certificate", "对方没有出示平台证书")
            else:
                self._refused(source_ip, "tls", f"TLS 握手失败：{text}")
            return
        except (TimeoutError, OSError):
            return
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                connection.close()

    def _refused(self, source_ip: str | None, reason: str, message: str) -> None:
        try:
            with self.runtime.transaction() as db_session:
                federation.record_connection_refused(
                    db_session, source_ip=source_ip, reason=reason, message=message
                )
        except Exception:
            log.exception("could not audit a refused federation connection")


@contextlib.contextmanager
def listening(runtime: Runtime, host: str, port: int) -> Iterator[Listener]:
    """The listener in a background thread until the block ends."""
    server = Listener(runtime, host, port)
    thread = threading.Thread(target=server.serve_forever, name="federation", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
