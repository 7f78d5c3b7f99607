"""Idempotent consumption: remember each envelope id a consumer has handled.

The consuming service's migrations create `processed_events (event_id uuid, consumer text,
processed_at timestamptz, PRIMARY KEY (event_id, consumer))`. Claim inside the same
transaction as the handler's own writes, so the claim and the effect commit together.
"""

from __future__ import annotations

import uuid

from sportslog_common.db import Connection


async def claim_event(conn: Connection, event_id: uuid.UUID, consumer: str) -> bool:
    """True the first time this consumer sees `event_id`, False on a redelivery."""
    inserted = await conn.fetchval(
        """
        INSERT INTO processed_events (event_id, consumer) VALUES ($1, $2)
        ON CONFLICT DO NOTHING
        RETURNING true
        """,
        event_id,
        consumer,
    )
    return bool(inserted)
