"""Calls between our services (auth's `/internal/` endpoints): a header signed with a key
the caller and the callee share, so the network alone is never what protects them.

`X-Internal-Auth: v1.<unix seconds>.<base64url HMAC-SHA256(key, "<seconds>\\n<METHOD>\\n<path>")>`.
The callee accepts a signature made in the last (or next) `MAX_SKEW_SECONDS` by
`INTERNAL_API_KEY` or one of `INTERNAL_API_PREVIOUS_KEYS`, so a key is rotated like the
others: the new key goes to every callee first (the old one still accepted beside it),
then to the callers, then the old one is dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

HEADER = "X-Internal-Auth"
VERSION = "v1"
MAX_SKEW_SECONDS = 60


def _mac(key: bytes, seconds: int, method: str, path: str) -> str:
    message = f"{seconds}\n{method.upper()}\n{path}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class InternalAuth:
    def __init__(self, key: str, previous: Sequence[str] = ()) -> None:
        self._key = key.encode()
        self._accepted = [self._key, *(k.encode() for k in previous)]

    def headers(self, method: str, path: str, now: float | None = None) -> dict[str, str]:
        seconds = int(time.time() if now is None else now)
        return {HEADER: f"{VERSION}.{seconds}.{_mac(self._key, seconds, method, path)}"}

    def verify(self, value: str | None, method: str, path: str, now: float | None = None) -> bool:
        version, _, rest = (value or "").partition(".")
        stamp, _, signature = rest.partition(".")
        if version != VERSION or not stamp.isdigit() or len(stamp) > 12:
            return False
        seconds = int(stamp)
        if abs((time.time() if now is None else now) - seconds) > MAX_SKEW_SECONDS:
            return False
        # Every key is tried, so the time taken says nothing about which one matched.
        matched = False
        for key in self._accepted:
            expected = _mac(key, seconds, method, path)
            matched |= hmac.compare_digest(expected.encode(), signature.encode())
        return matched
