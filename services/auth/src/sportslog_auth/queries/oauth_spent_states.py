"""Callback states already used: a replayed callback finds its state here."""

from __future__ import annotations

from datetime import datetime

from sportslog_common.db import Connection as Conn


async def spend_state(conn: Conn, state_hash: str, expires_at: datetime) -> bool:
    """False when this callback state was already used (a replayed callback)."""
    spent: str | None = await conn.fetchval(
        """
        INSERT INTO oauth_spent_states (state_hash, expires_at) VALUES ($1, $2)
        ON CONFLICT (state_hash) DO NOTHING RETURNING state_hash
        """,
        state_hash,
        expires_at,
    )
    return spent is not None
