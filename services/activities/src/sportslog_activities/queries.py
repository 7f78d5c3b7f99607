"""Every SQL statement of the activities service."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from sportslog_activities.schemas import ActivityFilter
from sportslog_common.db import Connection as Conn
from sportslog_common.pruning import delete_older_than

# The writable columns, in the order the INSERT and UPDATE below take them.
WRITABLE = (
    "activity_type",
    "started_at",
    "duration_secs",
    "distance_meters",
    "calories",
    "notes",
    "source",
    "external_id",
    "device_data",
)


# What a read returns (the ETag's `version` included) and what the CSV export holds.
COLUMNS = ", ".join(("id", *WRITABLE, "created_at", "updated_at", "version"))
EXPORT_COLUMNS = ("id", *(c for c in WRITABLE if c != "device_data"), "created_at", "updated_at")


def _values(fields: dict[str, Any]) -> list[Any]:
    return [fields[name] for name in WRITABLE]


async def insert_activity(conn: Conn, user_id: uuid.UUID, fields: dict[str, Any]) -> asyncpg.Record:
    record = await conn.fetchrow(
        f"""
        INSERT INTO activities (user_id, {", ".join(WRITABLE)})
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        RETURNING {COLUMNS}
        """,
        user_id,
        *_values(fields),
    )
    assert record is not None  # INSERT ... RETURNING always returns the row
    return record


async def lock_activity(
    conn: Conn, user_id: uuid.UUID, activity_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {COLUMNS} FROM activities WHERE id = $1 AND user_id = $2 FOR UPDATE",
        activity_id,
        user_id,
    )


async def update_activity(
    conn: Conn, user_id: uuid.UUID, activity_id: uuid.UUID, fields: dict[str, Any]
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        UPDATE activities SET
            activity_type = $3, started_at = $4, duration_secs = $5, distance_meters = $6,
            calories = $7, notes = $8, source = $9, external_id = $10, device_data = $11,
            version = version + 1, updated_at = now()
        WHERE id = $1 AND user_id = $2
        RETURNING {COLUMNS}
        """,
        activity_id,
        user_id,
        *_values(fields),
    )


async def delete_activity(
    conn: Conn, user_id: uuid.UUID, activity_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "DELETE FROM activities WHERE id = $1 AND user_id = $2 "
        "RETURNING id, activity_type, started_at",
        activity_id,
        user_id,
    )


async def claim_idempotency_key(
    conn: Conn, user_id: uuid.UUID, key: str, request_hash: str
) -> bool:
    """True if this request is the first with the key (a concurrent twin waits here)."""
    claimed: bool | None = await conn.fetchval(
        """
        INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        user_id,
        key,
        request_hash,
    )
    return bool(claimed)


async def get_idempotency_key(conn: Conn, user_id: uuid.UUID, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT request_hash, activity_id FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        user_id,
        key,
    )


async def set_idempotency_result(
    conn: Conn, user_id: uuid.UUID, key: str, activity_id: uuid.UUID
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET activity_id = $3 WHERE user_id = $1 AND key = $2",
        user_id,
        key,
        activity_id,
    )


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


def _binder(params: list[Any]) -> Callable[[Any], str]:
    """Adds a value to `params` and returns its `$n` placeholder."""

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    return param


def _filters(param: Callable[[Any], str], f: ActivityFilter) -> list[str]:
    """The shared WHERE clauses of listing and stats: only the filters in use."""
    where = []
    if f.activity_type is not None:
        where.append(f"activity_type = {param(f.activity_type)}")
    if f.started_from is not None:
        where.append(f"started_at >= {param(f.started_from)}")
    if f.started_to is not None:
        where.append(f"started_at < {param(f.started_to)}")
    return where


def list_query(
    user_id: uuid.UUID,
    f: ActivityFilter,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    offset: int,
    limit: int,
) -> tuple[str, list[Any]]:
    """Newest first, keyset on (started_at, id). Only the filters in use are in the SQL
    (values always as $n): a catch-all `$n IS NULL OR ...` would let a generic plan lose
    the keyset as an index condition and walk a deep page from the top. Every variant is
    served by activities_user_started; tests/test_listing.py reads the plans."""
    params: list[Any] = [user_id]
    param = _binder(params)
    where = ["user_id = $1", *_filters(param, f)]
    if after is not None:
        where.append(f"(started_at, id) < ({param(after[0])}, {param(after[1])})")
    sql = (
        f"SELECT {COLUMNS} FROM activities WHERE {' AND '.join(where)}"
        f" ORDER BY started_at DESC, id DESC OFFSET {param(offset)} LIMIT {param(limit)}"
    )
    return sql, params


async def list_activities(
    conn: Conn,
    user_id: uuid.UUID,
    f: ActivityFilter,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    offset: int,
    limit: int,
) -> list[asyncpg.Record]:
    sql, params = list_query(user_id, f, after=after, offset=offset, limit=limit)
    records: list[asyncpg.Record] = await conn.fetch(sql, *params)
    return records


async def delete_activities_of_user(conn: Conn, user_id: uuid.UUID) -> int:
    result = await conn.execute("DELETE FROM activities WHERE user_id = $1", user_id)
    return int(result.split()[-1])


async def stats_rows(
    conn: Conn, user_id: uuid.UUID, group_by: str, f: ActivityFilter
) -> list[asyncpg.Record]:
    """Per period (UTC day, ISO week from Monday, or month) and type: the sums and maxima."""
    params: list[Any] = [user_id, group_by]
    where = ["user_id = $1", *_filters(_binder(params), f)]
    records: list[asyncpg.Record] = await conn.fetch(
        f"""
        SELECT date_trunc($2, started_at AT TIME ZONE 'UTC')::date AS period,
               activity_type,
               count(*) AS count,
               sum(duration_secs)::bigint AS duration_secs,
               COALESCE(sum(distance_meters), 0)::float8 AS distance_meters,
               COALESCE(sum(calories), 0)::bigint AS calories,
               max(duration_secs) AS longest_duration_secs
        FROM activities
        WHERE {" AND ".join(where)}
        GROUP BY 1, 2
        ORDER BY 1, 2
        """,
        *params,
    )
    return records


def cursor_for_export(conn: Conn, user_id: uuid.UUID) -> Any:
    """Every activity of the user, oldest first, fetched 500 rows at a time (use inside a
    transaction): the export never holds a whole history in memory."""
    return conn.cursor(
        f"SELECT {', '.join(EXPORT_COLUMNS)} FROM activities WHERE user_id = $1"
        " ORDER BY started_at, id",
        user_id,
        prefetch=500,
    )


# What the periodic prune deletes (sportslog_common.pruning): $1 = retention, $2 = batch size.
PRUNE_IDEMPOTENCY_KEYS = delete_older_than("idempotency_keys", "created_at", key="user_id, key")

PRUNE_PROCESSED_EVENTS = delete_older_than(
    "processed_events", "processed_at", key="event_id, consumer"
)
