"""Every SQL statement of the notifier: the delivery log."""

from __future__ import annotations

import uuid

from sportslog_common.db import Connection as Conn


async def get_delivery_status(conn: Conn, event_id: uuid.UUID) -> str | None:
    status: str | None = await conn.fetchval(
        "SELECT status FROM deliveries WHERE event_id = $1", event_id
    )
    return status


async def claim_delivery(
    conn: Conn,
    *,
    event_id: uuid.UUID,
    event_type: str,
    channel: str,
    destination_masked: str,
    template: str,
    lease_seconds: float,
) -> bool:
    """One statement, so two copies racing cannot both win: a concurrent INSERT waits for
    the first to commit, then finds the row leased and claims nothing."""
    claimed: bool | None = await conn.fetchval(
        """
        INSERT INTO deliveries (event_id, event_type, channel, destination_masked, template,
                                status, attempts, claimed_until)
        VALUES ($1, $2, $3, $4, $5, 'sending', 1, now() + make_interval(secs => $6))
        ON CONFLICT (event_id) DO UPDATE
        SET status = 'sending',
            attempts = deliveries.attempts + 1,
            claimed_until = EXCLUDED.claimed_until,
            updated_at = now()
        WHERE deliveries.status = 'failed'
           OR (deliveries.status = 'sending' AND deliveries.claimed_until <= now())
        RETURNING true
        """,
        event_id,
        event_type,
        channel,
        destination_masked,
        template,
        lease_seconds,
    )
    return bool(claimed)


async def finish_delivery(conn: Conn, event_id: uuid.UUID, status: str, error: str | None) -> None:
    await conn.execute(
        """
        UPDATE deliveries
        SET status = $2, last_error = $3, claimed_until = NULL, updated_at = now(),
            sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END
        WHERE event_id = $1
        """,
        event_id,
        status,
        error,
    )


# What the periodic prune deletes (sportslog_common.pruning): $1 = retention, $2 = batch
# size. A delivery untouched for that long is final (a send holds its lease for seconds);
# the lease test only makes sure a live one is never taken from under its worker.
PRUNE_DELIVERIES = """
DELETE FROM deliveries WHERE id IN (
    SELECT id FROM deliveries
    WHERE updated_at < now() - $1::interval
      AND (status <> 'sending' OR claimed_until < now())
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""
