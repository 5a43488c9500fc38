"""Connection passwords encrypted at rest (SEC-3): AES-256-GCM by default, SM4-GCM (国密)
when the deployment chooses it. The key comes from the settings (GOVSHARE_CREDENTIAL_KEY, or
derived from the secret key); a stored secret names the cipher it was sealed with in its
first byte, so switching the setting later still opens the old ones.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher as CipherImpl
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from govshare.core.settings import Settings, derived_key
from govshare.exchange.models import Cipher

_TAGS = {Cipher.AES_GCM: b"\x01", Cipher.SM4_GCM: b"\x02"}
_NONCE = 12
_MAC = 16


class CredentialError(RuntimeError):
    """A stored secret cannot be opened: the key changed or the bytes were altered."""


def key_of(settings: Settings) -> bytes:
    if settings.credential_key:
        return bytes.fromhex(settings.credential_key)
    return derived_key(settings, "govshare credentials")


def seal(plain: str, *, key: bytes, cipher: Cipher, context: str) -> bytes:
    """Encrypts `plain`; `context` (e.g. "connection:12") is authenticated, so a secret
    copied onto another row does not open there."""
    nonce = os.urandom(_NONCE)
    data = plain.encode()
    if cipher is Cipher.AES_GCM:
        body = AESGCM(key).encrypt(nonce, data, context.encode())
    else:
        encryptor = CipherImpl(algorithms.SM4(key[:16]), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(context.encode())
        body = encryptor.update(data) + encryptor.finalize() + encryptor.tag
    return _TAGS[cipher] + nonce + body


def open_sealed(sealed: bytes, *, key: bytes, context: str) -> str:
    tag, nonce, body = sealed[:1], sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :]
    try:
        if tag == _TAGS[Cipher.AES_GCM]:
            plain = AESGCM(key).decrypt(nonce, body, context.encode())
        elif tag == _TAGS[Cipher.SM4_GCM]:
            decryptor = CipherImpl(
                algorithms.SM4(key[:16]), modes.GCM(nonce, body[-_MAC:])
            ).decryptor()
            decryptor.authenticate_additional_data(context.encode())
            plain = decryptor.update(body[:-_MAC]) + decryptor.finalize()
        else:
            raise CredentialError("未知的加密方式")
    except InvalidTag:
        raise CredentialError("连接密码无法解密：密钥已更换或密文被改动") from None
    return plain.decode()


def cipher_of(sealed: bytes) -> Cipher:
    return next(c for c, t in _TAGS.items() if t == sealed[:1])
