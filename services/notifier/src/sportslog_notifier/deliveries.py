"""Exactly once as the user sees it: claim a delivery before sending, record the outcome.

The claim is one upsert with a lease: of two copies of one event handled at once, one
sends and the other waits its turn (a transient failure, so it is retried, never lost);
a copy arriving after the send is acknowledged without sending. A worker killed mid-send
leaves a lease that lapses, so the redelivered copy is sent then.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum

from sportslog_common.db import Pool
from sportslog_notifier import queries
from sportslog_notifier.metrics import NOTIFICATIONS

# Long enough for one send (10 s per SMTP step), shorter than the consumer's retry window
# (RETRY_BACKOFF_BASE, 2 s by default: 2+4+8+16 s), so a copy redelivered after a crash
# mid-send still finds the lease lapsed before its last attempt.
LEASE_SECONDS = 25.0
FINAL_STATUSES = frozenset({"sent", "dead", "expired"})


class DeliveryInFlight(Exception):
    """Another worker holds this delivery right now; try again later."""


class Claim(Enum):
    CLAIMED = "claimed"
    ALREADY_DONE = "already_done"


@dataclass(frozen=True)
class Delivery:
    event_id: uuid.UUID
    event_type: str
    channel: str
    destination: str
    template: str

    @property
    def masked(self) -> str:
        return mask(self.destination)


def mask(destination: str) -> str:
    """`a***@example.com`, `+44******1234`: enough to recognise, too little to reuse."""
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain}"
    return destination[:3] + "*" * max(0, len(destination) - 7) + destination[-4:]


async def claim(pool: Pool, delivery: Delivery, lease_seconds: float = LEASE_SECONDS) -> Claim:
    async with pool.acquire() as conn:
        claimed = await queries.claim_delivery(
            conn,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            channel=delivery.channel,
            destination_masked=delivery.masked,
            template=delivery.template,
            lease_seconds=lease_seconds,
        )
        if claimed:
            return Claim.CLAIMED
        if await queries.get_delivery_status(conn, delivery.event_id) in FINAL_STATUSES:
            return Claim.ALREADY_DONE
    raise DeliveryInFlight(str(delivery.event_id))


async def finish(pool: Pool, delivery: Delivery, status: str, error: str | None = None) -> None:
    async with pool.acquire() as conn:
        await queries.finish_delivery(
            conn, delivery.event_id, status, error[:500] if error else None
        )
    NOTIFICATIONS.labels(delivery.channel, delivery.template, status).inc()
