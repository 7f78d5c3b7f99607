"""The keyset cursor: the (started_at, id) of a page's last row, signed.

Opaque to clients and tamper-evident: HMAC-SHA256 over the position *and the user*, with
CURSOR_SECRET, so a cursor is neither forgeable nor usable by another account.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sportslog_activities.errors import InvalidCursor

_MAC_BYTES = 16


@dataclass(frozen=True)
class Cursor:
    started_at: datetime
    id: uuid.UUID


class CursorSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: bytes, user_id: uuid.UUID) -> bytes:
        message = user_id.bytes + payload
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, cursor: Cursor, user_id: uuid.UUID) -> str:
        payload = json.dumps(
            [cursor.started_at.isoformat(), str(cursor.id)], separators=(",", ":")
        ).encode()
        token = self._mac(payload, user_id) + payload
        return base64.urlsafe_b64encode(token).decode().rstrip("=")

    def decode(self, value: str, user_id: uuid.UUID) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            raise InvalidCursor.for_query() from None
        mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload, user_id)):
            raise InvalidCursor.for_query()
        try:
            started_at, id_ = json.loads(payload)
            cursor = Cursor(datetime.fromisoformat(started_at), uuid.UUID(id_))
        except (ValueError, TypeError):
            raise InvalidCursor.for_query() from None
        if cursor.started_at.tzinfo is None:
            raise InvalidCursor.for_query()
        return cursor
