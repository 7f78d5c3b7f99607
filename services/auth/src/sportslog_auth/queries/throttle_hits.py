"""Throttle counters: one row per counted attempt."""

from __future__ import annotations

from datetime import datetime, timedelta

from sportslog_common.db import Connection as Conn


async def insert_hit_if_under(
    conn: Conn, scope: str, key: str, window: timedelta, limit: int
) -> int | None:
    """Count one more attempt unless `limit` are already in the window; None when full.
    One statement and no lock: concurrent attempts never queue on each other (a busy
    account must not tie up the pool), at the price of overshooting the limit by at most
    the attempts in flight at the same instant."""
    hit_id: int | None = await conn.fetchval(
        """
        INSERT INTO throttle_hits (scope, key)
        SELECT $1, $2
        WHERE (SELECT count(*) FROM throttle_hits
               WHERE scope = $1 AND key = $2 AND hit_at > now() - $3::interval) < $4
        RETURNING id
        """,
        scope,
        key,
        window,
        limit,
    )
    return hit_id


async def oldest_hit(conn: Conn, scope: str, key: str, window: timedelta) -> datetime | None:
    oldest: datetime | None = await conn.fetchval(
        "SELECT min(hit_at) FROM throttle_hits"
        " WHERE scope = $1 AND key = $2 AND hit_at > now() - $3::interval",
        scope,
        key,
        window,
    )
    return oldest


async def delete_hits(conn: Conn, hit_ids: list[int]) -> None:
    await conn.execute("DELETE FROM throttle_hits WHERE id = ANY($1::bigint[])", hit_ids)


async def count_hits(conn: Conn, scope: str, key: str, window: timedelta) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM throttle_hits"
        " WHERE scope = $1 AND key = $2 AND hit_at > now() - $3::interval",
        scope,
        key,
        window,
    )
    return count
