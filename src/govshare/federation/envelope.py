"""The signed message between platforms (级联消息): a JSON envelope in canonical form, signed
with the sending platform's key (ECDSA P-256, SHA-256), the signature sent beside it."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

PATH = "/federation/v1/messages"
SIGNATURE_HEADER = "X-Govshare-Signature"
MAX_SKEW_SECONDS = 300  # a message sent further from our clock than this is refused


def canonical(envelope: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def build(
    *, message_id: str, kind: str, sender: str, recipient: str, sent_at: datetime, **rest: Any
) -> dict[str, Any]:
    return {
        "id": message_id,
        "kind": kind,
        "from": sender,
        "to": recipient,
        "sent_at": sent_at.isoformat(),
        **rest,
    }


def sign(key: ec.EllipticCurvePrivateKey, raw: bytes) -> str:
    return base64.b64encode(key.sign(raw, ec.ECDSA(hashes.SHA256()))).decode()


def signature_valid(cert: x509.Certificate, raw: bytes, signature: str) -> bool:
    public_key = cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        return False
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True), raw, ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, ValueError):
        return False
    return True
