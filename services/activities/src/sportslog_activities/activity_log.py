"""The activity log use cases: create, read, list."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sportslog_activities import queries
from sportslog_activities.errors import ActivityNotFound, DuplicateActivity
from sportslog_activities.metrics import ACTIVITIES_CREATED
from sportslog_activities.pagination import Cursor
from sportslog_activities.schemas import Activity, ActivityIn, ActivityPage
from sportslog_common.db import Pool, UniqueViolation
from sportslog_common.errors import ValidationFailed
from sportslog_common.events import ActivityCreated
from sportslog_common.outbox import write_event

PRODUCER = "activities"


@dataclass(frozen=True)
class ListFilter:
    activity_type: str | None
    started_from: datetime | None
    started_to: datetime | None
    limit: int
    offset: int
    cursor: str | None


async def create_activity(
    pool: Pool, user_id: uuid.UUID, body: ActivityIn, max_device_data_bytes: int
) -> Activity:
    if body.device_data is not None:
        _check_device_data(body.device_data, max_device_data_bytes)
    try:
        async with pool.acquire() as conn, conn.transaction():
            record = await queries.insert_activity(conn, user_id, body.model_dump())
            activity = Activity.model_validate(dict(record))
            event = ActivityCreated(
                id=activity.id,
                user_id=user_id,
                activity_type=activity.activity_type,
                started_at=activity.started_at,
            )
            await write_event(conn, event, producer=PRODUCER)
    except UniqueViolation:
        # The same device record (source, external_id) again: point at the one we have.
        async with pool.acquire() as conn:
            existing = await queries.find_activity_by_external_id(
                conn, user_id, body.source, body.external_id or ""
            )
        raise DuplicateActivity(details={"activity_id": str(existing)}) from None
    ACTIVITIES_CREATED.labels(activity.source).inc()
    return activity


def _check_device_data(device_data: dict[str, object], max_bytes: int) -> None:
    def invalid(message: str) -> ValidationFailed:
        return ValidationFailed(details=[{"field": "body.device_data", "message": message}])

    try:
        # Python's JSON parser accepts NaN and Infinity; jsonb does not.
        encoded = json.dumps(device_data, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise invalid("must not contain NaN or Infinity") from None
    if "\\u0000" in encoded:
        raise invalid("must not contain NUL characters")
    if len(encoded.encode()) > max_bytes:
        raise invalid(f"is {len(encoded.encode())} bytes, over the limit of {max_bytes}")


async def get_activity(pool: Pool, user_id: uuid.UUID, activity_id: uuid.UUID) -> Activity:
    async with pool.acquire() as conn:
        record = await queries.get_activity(conn, user_id, activity_id)
    if record is None:
        # Another user's activity is indistinguishable from a missing one.
        raise ActivityNotFound()
    return Activity.model_validate(dict(record))


async def list_activities(pool: Pool, user_id: uuid.UUID, f: ListFilter) -> ActivityPage:
    after = Cursor.decode(f.cursor) if f.cursor else None
    async with pool.acquire() as conn:
        records = await queries.list_activities(
            conn,
            user_id,
            activity_type=f.activity_type,
            started_from=f.started_from,
            started_to=f.started_to,
            after=(after.started_at, after.id) if after else None,
            offset=0 if after else f.offset,
            limit=f.limit + 1,  # one more tells whether a next page exists
        )
    items = [Activity.model_validate(dict(r)) for r in records[: f.limit]]
    next_cursor = None
    if len(records) > f.limit:
        last = items[-1]
        next_cursor = Cursor(last.started_at, last.id).encode()
    return ActivityPage(items=items, next_cursor=next_cursor)
