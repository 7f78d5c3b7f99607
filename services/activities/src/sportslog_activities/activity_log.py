"""The activity log use cases: create (idempotently), read, replace, patch, delete, list.

Every write bumps the row's `version`, exposed as the ETag; `If-Match` makes a write
conditional on it. Every write publishes its event through the outbox.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sportslog_activities import queries
from sportslog_activities.errors import (
    ActivityNotFound,
    DuplicateActivity,
    IdempotencyKeyReused,
    PreconditionFailed,
)
from sportslog_activities.metrics import ACTIVITIES_CREATED
from sportslog_activities.pagination import Cursor, CursorSigner
from sportslog_activities.schemas import Activity, ActivityFilter, ActivityIn, ActivityPage
from sportslog_common.db import Connection, Pool, Record, UniqueViolation
from sportslog_common.errors import ValidationFailed
from sportslog_common.events import ActivityCreated, ActivityDeleted, ActivityUpdated
from sportslog_common.jsonb import NotStorable, jsonb_bytes
from sportslog_common.merge_patch import merge_patch
from sportslog_common.outbox import write_event

PRODUCER = "activities"


@dataclass(frozen=True)
class Versioned:
    activity: Activity
    etag: str
    replayed: bool = False  # an Idempotency-Key replay of an earlier create


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int
    cursor: str | None


def _versioned(record: Record, replayed: bool = False) -> Versioned:
    return Versioned(Activity.model_validate(dict(record)), f'"{record["version"]}"', replayed)


def _matches(if_match: str | None, etag: str) -> bool:
    if if_match is None:
        return True
    candidates = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    return "*" in candidates or etag in candidates


def _request_hash(body: ActivityIn) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def create_activity(
    pool: Pool,
    user_id: uuid.UUID,
    body: ActivityIn,
    max_device_data_bytes: int,
    idempotency_key: str | None = None,
) -> Versioned:
    _check_device_data(body.device_data, max_device_data_bytes)
    try:
        async with pool.acquire() as conn, conn.transaction():
            if idempotency_key is not None:
                replay = await _replay(conn, user_id, idempotency_key, _request_hash(body))
                if replay is not None:
                    return replay
            record = await queries.insert_activity(conn, user_id, body.model_dump())
            if idempotency_key is not None:
                await queries.set_idempotency_result(conn, user_id, idempotency_key, record["id"])
            await _publish(conn, ActivityCreated, user_id, record)
    except UniqueViolation:
        raise await _duplicate(pool, user_id, body) from None
    created = _versioned(record)
    ACTIVITIES_CREATED.labels(created.activity.source).inc()
    return created


async def _replay(
    conn: Connection, user_id: uuid.UUID, key: str, request_hash: str
) -> Versioned | None:
    """None if this request is the first with the key; else the activity it created."""
    if await queries.claim_idempotency_key(conn, user_id, key, request_hash):
        return None
    earlier = await queries.get_idempotency_key(conn, user_id, key)
    if earlier is None or earlier["request_hash"] != request_hash:
        raise IdempotencyKeyReused()
    record = await queries.get_activity(conn, user_id, earlier["activity_id"])
    if record is None:
        raise ActivityNotFound("The activity created with this Idempotency-Key was deleted")
    return _versioned(record, replayed=True)


async def _duplicate(pool: Pool, user_id: uuid.UUID, body: ActivityIn) -> DuplicateActivity:
    # The same device record (source, external_id) again: point at the one we have.
    async with pool.acquire() as conn:
        existing = await queries.find_activity_by_external_id(
            conn, user_id, body.source, body.external_id or ""
        )
    return DuplicateActivity(details={"activity_id": str(existing)})


async def get_activity(pool: Pool, user_id: uuid.UUID, activity_id: uuid.UUID) -> Versioned:
    async with pool.acquire() as conn:
        record = await queries.get_activity(conn, user_id, activity_id)
    if record is None:
        # Another user's activity is indistinguishable from a missing one.
        raise ActivityNotFound()
    return _versioned(record)


async def replace_activity(
    pool: Pool,
    user_id: uuid.UUID,
    activity_id: uuid.UUID,
    body: ActivityIn,
    max_device_data_bytes: int,
    if_match: str | None,
) -> Versioned:
    return await _update(
        pool, user_id, activity_id, if_match, max_device_data_bytes, lambda _: body
    )


async def patch_activity(
    pool: Pool,
    user_id: uuid.UUID,
    activity_id: uuid.UUID,
    patch: dict[str, Any],
    max_device_data_bytes: int,
    if_match: str | None,
) -> Versioned:
    def apply(current: Activity) -> ActivityIn:
        writable = current.model_dump(mode="json", include=set(ActivityIn.model_fields))
        try:
            return ActivityIn.model_validate(merge_patch(writable, patch))
        except ValidationError as exc:
            details = [
                {"field": ".".join(["body", *map(str, err["loc"])]), "message": err["msg"]}
                for err in exc.errors()
            ]
            raise ValidationFailed(details=details) from None

    return await _update(pool, user_id, activity_id, if_match, max_device_data_bytes, apply)


async def _update(
    pool: Pool,
    user_id: uuid.UUID,
    activity_id: uuid.UUID,
    if_match: str | None,
    max_device_data_bytes: int,
    build: Callable[[Activity], ActivityIn],
) -> Versioned:
    body: ActivityIn | None = None
    try:
        async with pool.acquire() as conn, conn.transaction():
            current = await _lock_matching(conn, user_id, activity_id, if_match)
            body = build(Activity.model_validate(dict(current)))
            _check_device_data(body.device_data, max_device_data_bytes)
            record = await queries.update_activity(conn, user_id, activity_id, body.model_dump())
            assert record is not None  # locked above
            await _publish(conn, ActivityUpdated, user_id, record)
    except UniqueViolation:
        assert body is not None
        raise await _duplicate(pool, user_id, body) from None
    return _versioned(record)


async def delete_activity(
    pool: Pool, user_id: uuid.UUID, activity_id: uuid.UUID, if_match: str | None
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        current = await _lock_matching(conn, user_id, activity_id, if_match)
        await queries.delete_activity(conn, user_id, activity_id)
        await _publish(conn, ActivityDeleted, user_id, current)


async def _lock_matching(
    conn: Connection, user_id: uuid.UUID, activity_id: uuid.UUID, if_match: str | None
) -> Record:
    """The user's activity, locked for the write, if `If-Match` (when given) names its
    current version: 404 when there is none, 412 when the client's copy is stale."""
    current = await queries.lock_activity(conn, user_id, activity_id)
    if current is None:
        raise ActivityNotFound()
    if not _matches(if_match, f'"{current["version"]}"'):
        raise PreconditionFailed()
    return current


async def _publish(
    conn: Connection,
    event: type[ActivityCreated] | type[ActivityUpdated] | type[ActivityDeleted],
    user_id: uuid.UUID,
    record: Record,
) -> None:
    data = event(
        id=record["id"],
        user_id=user_id,
        activity_type=record["activity_type"],
        started_at=record["started_at"],
    )
    await write_event(conn, data, producer=PRODUCER)


def _check_device_data(device_data: dict[str, object] | None, max_bytes: int) -> None:
    if device_data is None:
        return

    def invalid(message: str) -> ValidationFailed:
        return ValidationFailed(details=[{"field": "body.device_data", "message": message}])

    try:
        size = len(jsonb_bytes(device_data))
    except NotStorable as exc:
        raise invalid(str(exc)) from None
    if size > max_bytes:
        raise invalid(f"is {size} bytes, over the limit of {max_bytes}")


async def list_activities(
    pool: Pool, user_id: uuid.UUID, f: ActivityFilter, page: PageRequest, signer: CursorSigner
) -> ActivityPage:
    after = signer.decode(page.cursor, user_id) if page.cursor else None
    async with pool.acquire() as conn:
        records = await queries.list_activities(
            conn,
            user_id,
            f,
            after=(after.started_at, after.id) if after else None,
            offset=0 if after else page.offset,
            limit=page.limit + 1,  # one more tells whether a next page exists
        )
    items = [Activity.model_validate(dict(r)) for r in records[: page.limit]]
    next_cursor = None
    if len(records) > page.limit:
        last = items[-1]
        next_cursor = signer.encode(Cursor(last.started_at, last.id), user_id)
    return ActivityPage(items=items, next_cursor=next_cursor)
