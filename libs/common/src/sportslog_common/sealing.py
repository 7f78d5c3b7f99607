"""Sealing of the secrets an event must carry (tokens, codes) with AES-256-GCM.

A sealed value is `v1.` + base64url(nonce || ciphertext+tag). The broker, the outbox table
and the logs only ever see that; the notifier opens it with the same `EVENT_SEAL_KEY`.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1."
_AAD = b"sportslog.event-seal.v1"


class SealError(ValueError):
    pass


class Sealer:
    def __init__(self, key_b64: str, context: bytes = _AAD) -> None:
        """`context` is bound into every seal (AES-GCM associated data), so a value sealed
        for one purpose does not open for another even under the same key."""
        key = base64.b64decode(key_b64, validate=True)
        if len(key) != 32:
            raise ValueError("the sealing key must be base64 of 32 bytes")
        self._aead = AESGCM(key)
        self._context = context

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, plaintext.encode(), self._context)
        return _PREFIX + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, sealed: str) -> str:
        if not sealed.startswith(_PREFIX):
            raise SealError("not a sealed value")
        body = sealed[len(_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return self._aead.decrypt(raw[:12], raw[12:], self._context).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise SealError("sealed value is corrupt or was sealed with another key") from None


def generate_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()
