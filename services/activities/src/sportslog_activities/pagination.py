"""The opaque keyset cursor: the (started_at, id) of the last row of a page."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sportslog_activities.errors import InvalidCursor


@dataclass(frozen=True)
class Cursor:
    started_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.started_at.isoformat(), str(self.id)], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            started_at, id_ = json.loads(raw)
            cursor = cls(datetime.fromisoformat(started_at), uuid.UUID(id_))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise InvalidCursor(
                details=[{"field": "query.cursor", "message": "Invalid cursor"}]
            ) from None
        if cursor.started_at.tzinfo is None:
            raise InvalidCursor(details=[{"field": "query.cursor", "message": "Invalid cursor"}])
        return cursor
