"""Signed checkpoints of the audit chain (签名检查点), checkable with the public key alone.

The log's Ed25519 key is derived from the platform's secret key (or set as
GOVSHARE_AUDIT_SIGNING_KEY, 64 hex digits), like the platform's other keys; its public half is
given out (`govshare audit public-key`), and a checkpoint line — `seq hash time key-id
signature` — can be checked by anyone holding it, without the database, as transparency logs
publish signed tree heads. SM2 signatures are not offered: the `cryptography` library the
platform uses has no SM2 signing, and no maintained SM2 library is among its dependencies."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from govshare.core.audit.hashing import timestamp
from govshare.core.errors import Invalid
from govshare.core.settings import Settings, derived_key


def private_key(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def key_of(settings: Settings) -> Ed25519PrivateKey:
    """The audit log's signing key: GOVSHARE_AUDIT_SIGNING_KEY, or derived from the secret key."""
    if settings.audit_signing_key:
        return private_key(bytes.fromhex(settings.audit_signing_key))
    return private_key(derived_key(settings, "govshare audit checkpoints"))


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(pem: bytes, *, field: str = "public_key") -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise Invalid("公钥文件不是 PEM 格式的公钥", field=field) from None
    if not isinstance(key, Ed25519PublicKey):
        raise Invalid("公钥须为审计日志的 Ed25519 公钥", field=field)
    return key


def message(seq: int, head_hash: str, signed_at: str) -> bytes:
    """What a checkpoint's signature covers."""
    return f"govshare-audit-checkpoint\n{seq}\n{head_hash}\n{signed_at}\n".encode()


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment, kept outside the database (a file on another host, a
    report to the authority) so that a rewound or rewritten chain can be proven. Signed ones
    also carry the time, the key's id and the Ed25519 signature; unsigned `seq hash` lines,
    as written before signing existed, are still accepted."""

    seq: int
    hash: str
    signed_at: str | None = None
    key_id: str | None = None
    signature: bytes | None = None

    @property
    def signed(self) -> bool:
        return self.signature is not None

    def line(self) -> str:
        if self.signature is None:
            return f"{self.seq} {self.hash}"
        sig = base64.b64encode(self.signature).decode()
        return f"{self.seq} {self.hash} {self.signed_at} {self.key_id} {sig}"

    @classmethod
    def parse(cls, line: str, *, where: str) -> Checkpoint:
        parts = line.split()
        if len(parts) not in (2, 5) or not parts[0].isdigit() or len(parts[1]) != 64:
            raise Invalid(
                f"{where}: 检查点格式应为“序号 哈希值”或“序号 哈希值 时间 密钥标识 签名”",
                field="checkpoints",
            )
        if len(parts) == 2:
            return cls(int(parts[0]), parts[1].lower())
        try:
            signature = base64.b64decode(parts[4], validate=True)
        except ValueError:
            raise Invalid(f"{where}: 签名不是 Base64 编码", field="checkpoints") from None
        return cls(int(parts[0]), parts[1].lower(), parts[2], parts[3], signature)

    def signature_valid(self, public: Ed25519PublicKey) -> bool:
        """True when signed by the holder of `public`'s private key; needs nothing else."""
        if self.signature is None or self.signed_at is None:
            return False
        try:
            public.verify(self.signature, message(self.seq, self.hash, self.signed_at))
        except InvalidSignature:
            return False
        return True


def sign(key: Ed25519PrivateKey, seq: int, head_hash: str, at: datetime) -> Checkpoint:
    signed_at = timestamp(at)
    signature = key.sign(message(seq, head_hash, signed_at))
    return Checkpoint(seq, head_hash, signed_at, key_id(key.public_key()), signature)
