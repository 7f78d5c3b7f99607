"""Throttle counters: one row per counted attempt."""

from __future__ import annotations

from datetime import datetime, timedelta

from sportslog_common.db import Connection as Conn


async def lock_key(conn: Conn, scope: str, key: str) -> None:
    """Serialise check-then-count for one key until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{scope}:{key}")


async def window_state(
    conn: Conn, scope: str, key: str, window: timedelta
) -> tuple[int, datetime | None]:
    """How many hits in the window, and when the oldest of them was."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS hits, min(hit_at) AS oldest FROM throttle_hits
        WHERE scope = $1 AND key = $2 AND hit_at > now() - $3::interval
        """,
        scope,
        key,
        window,
    )
    assert row is not None
    return int(row["hits"]), row["oldest"]


async def insert_hit(conn: Conn, scope: str, key: str) -> int:
    hit_id: int = await conn.fetchval(
        "INSERT INTO throttle_hits (scope, key) VALUES ($1, $2) RETURNING id", scope, key
    )
    return hit_id


async def delete_hits(conn: Conn, hit_ids: list[int]) -> None:
    await conn.execute("DELETE FROM throttle_hits WHERE id = ANY($1::bigint[])", hit_ids)


async def delete_hits_before(conn: Conn, cutoff: timedelta) -> int:
    result = await conn.execute(
        "DELETE FROM throttle_hits WHERE hit_at < now() - $1::interval", cutoff
    )
    return int(result.split()[-1])
