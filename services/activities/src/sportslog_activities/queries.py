"""Every SQL statement of the activities service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from sportslog_common.db import Connection as Conn

COLUMNS = """id, activity_type, started_at, duration_secs, distance_meters, calories, notes,
    source, external_id, device_data, created_at, updated_at"""


async def insert_activity(conn: Conn, user_id: uuid.UUID, fields: dict[str, Any]) -> asyncpg.Record:
    record = await conn.fetchrow(
        f"""
        INSERT INTO activities (user_id, activity_type, started_at, duration_secs,
            distance_meters, calories, notes, source, external_id, device_data)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        RETURNING {COLUMNS}
        """,
        user_id,
        fields["activity_type"],
        fields["started_at"],
        fields["duration_secs"],
        fields["distance_meters"],
        fields["calories"],
        fields["notes"],
        fields["source"],
        fields["external_id"],
        fields["device_data"],
    )
    assert record is not None  # INSERT ... RETURNING always returns the row
    return record


async def get_activity(
    conn: Conn, user_id: uuid.UUID, activity_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM activities WHERE id = $1 AND user_id = $2", activity_id, user_id
    )


async def find_activity_by_external_id(
    conn: Conn, user_id: uuid.UUID, source: str, external_id: str
) -> uuid.UUID | None:
    activity_id: uuid.UUID | None = await conn.fetchval(
        "SELECT id FROM activities WHERE user_id = $1 AND source = $2 AND external_id = $3",
        user_id,
        source,
        external_id,
    )
    return activity_id


async def list_activities(
    conn: Conn,
    user_id: uuid.UUID,
    *,
    activity_type: str | None,
    started_from: datetime | None,
    started_to: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    offset: int,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first; `after` is the keyset position (started_at, id) of the previous page."""
    after_started, after_id = after if after else (None, None)
    records: list[asyncpg.Record] = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM activities
        WHERE user_id = $1
          AND ($2::text IS NULL OR activity_type = $2)
          AND ($3::timestamptz IS NULL OR started_at >= $3)
          AND ($4::timestamptz IS NULL OR started_at < $4)
          AND ($5::timestamptz IS NULL OR (started_at, id) < ($5, $6::uuid))
        ORDER BY started_at DESC, id DESC
        OFFSET $7 LIMIT $8
        """,
        user_id,
        activity_type,
        started_from,
        started_to,
        after_started,
        after_id,
        offset,
        limit,
    )
    return records


async def delete_activities_of_user(conn: Conn, user_id: uuid.UUID) -> int:
    result = await conn.execute("DELETE FROM activities WHERE user_id = $1", user_id)
    return int(result.split()[-1])
