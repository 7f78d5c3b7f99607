"""POST /activities/import: a device file becomes an activity, once per file."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from typing import Any

from pydantic import ValidationError

from sportslog_activities import activity_log
from sportslog_activities.activity_log import Versioned
from sportslog_activities.imports import InvalidFile, parse
from sportslog_activities.imports.model import Parsed
from sportslog_activities.schemas import ActivityIn
from sportslog_common.db import Pool


class Importer:
    def __init__(self, pool: Pool, max_device_data_bytes: int, parallel: int = 2) -> None:
        self._pool = pool
        self._max_device_data_bytes = max_device_data_bytes
        # Parsing is CPU-bound: a worker thread, and only a few at once.
        self._slots = asyncio.Semaphore(parallel)

    async def import_file(self, user_id: uuid.UUID, data: bytes) -> Versioned:
        if not data:
            raise InvalidFile("the file is empty")
        async with self._slots:
            parsed = await asyncio.to_thread(parse, data)
        body = self._activity(parsed, data)
        return await activity_log.create_activity(
            self._pool, user_id, body, self._max_device_data_bytes
        )

    def _activity(self, parsed: Parsed, data: bytes) -> ActivityIn:
        try:
            return ActivityIn(
                activity_type=parsed.activity_type(),
                started_at=parsed.start(),
                duration_secs=parsed.duration(),
                distance_meters=parsed.distance(),
                calories=parsed.calories,
                source="import",
                # The same file twice is the same activity (409 the second time).
                external_id="sha256:" + hashlib.sha256(data).hexdigest(),
                device_data=_fit(parsed.device_data(), self._max_device_data_bytes),
            )
        except ValidationError as exc:
            fields = ", ".join(str(err["loc"][0]) for err in exc.errors())
            raise InvalidFile(f"the file's values are out of range ({fields})") from None


def _fit(device_data: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """Thin the track (keeping its ends) until the document fits the device_data limit."""
    while len(json.dumps(device_data, separators=(",", ":"))) > max_bytes and device_data["track"]:
        track = device_data["track"]
        thinner = track[::2] if len(track) > 2 else []
        if thinner and thinner[-1] is not track[-1]:
            thinner.append(track[-1])
        device_data = {**device_data, "track": thinner}
    return device_data
