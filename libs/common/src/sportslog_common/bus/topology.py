"""The broker's map: every exchange, queue, argument and binding sports-log declares.

Two names come from settings (`EVENTS_EXCHANGE`, default `sportslog.events`, and
`DEAD_LETTER_EXCHANGE`, default `sportslog.dead`); every other name derives from them.
With the defaults:

    outbox relays ── routing key = event type, persistent, mandatory, confirmed
        │
        ▼
    sportslog.events                  topic exchange, durable
        ├─► sportslog.events.notifier        quorum   CONSUMER_BINDINGS["notifier"]
        ├─► sportslog.events.activities      quorum   CONSUMER_BINDINGS["activities"]
        └─► sportslog.events.gateway.<hex>   one per gateway replica: classic, exclusive,
                                             auto-delete   REPLICA_BINDINGS["gateway"]

    sportslog.events.<consumer>.retry        quorum, bound to nothing: a failed delivery
        waits out its backoff here (per-message TTL), then dead-letters back to
        sportslog.events.<consumer> through the default exchange ("").

    sportslog.dead                    fanout exchange, durable
        └─► sportslog.dead                   quorum: every dead letter, `x-error` attached

A consumer queue (`quorum_arguments`) dead-letters at least once to `sportslog.dead` what
expires there (EXPIRING_TYPES carry a TTL that ends with their code) and what reaches its
`x-delivery-limit`; the consumer itself dead-letters before that, with the reason (see
`consumer.py`). At-least-once dead-lettering is what requires `x-overflow: reject-publish`.

Every service declares the exchanges, the dead-letter queue and the consumer queues at
start-up (`declare_topology`), so an event published before its consumer first ran is
kept; each consumer declares its own queue, its retry queue and bindings again when it
starts. A per-replica queue lives only as long as its connection, so it has no retry queue.

These queues are durable quorum queues on a live broker: RabbitMQ refuses to redeclare a
queue with other arguments, so changing any argument here means a new queue name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

# Durable consumer queues and what they bind: the routing half of the event contract.
CONSUMER_BINDINGS: dict[str, tuple[str, ...]] = {
    "notifier": (
        "user.registered",
        "user.verification_requested",
        "user.registration_attempted",
        "user.password_reset_requested",
        "user.password_changed",
        "user.otp_requested",
        "user.phone_verification_requested",
        "user.otp_locked",
        "user.deleted",
    ),
    "activities": ("user.deleted",),
}

# Per-replica queues and what they bind: every replica must hear every one of these events
# (the gateway's revocation cache), so each has its own queue instead of sharing one.
REPLICA_BINDINGS: dict[str, tuple[str, ...]] = {
    "gateway": (
        "user.tokens_revoked",
        "user.password_changed",
        "user.session_revoked",
        "user.deleted",
    ),
}

# Events whose payload is a short-lived code: the broker drops them when the code dies, so
# a stale code is never delivered (they end in the dead-letter queue, x-death "expired").
EXPIRING_TYPES = frozenset({"user.otp_requested", "user.phone_verification_requested"})

DELIVERY_LIMIT = 5


def queue_name(exchange: str, consumer: str) -> str:
    return f"{exchange}.{consumer}"


def retry_queue_name(queue: str) -> str:
    return f"{queue}.retry"


def replica_queue_name(exchange: str, consumer: str) -> str:
    """A fresh name for this process's own queue."""
    return f"{queue_name(exchange, consumer)}.{uuid.uuid4().hex[:12]}"


def quorum_arguments(dead_letter_exchange: str) -> dict[str, Any]:
    # The same arguments on every declaration: changing them means a new queue name.
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": dead_letter_exchange,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def retry_arguments(queue: str) -> dict[str, Any]:
    # Messages wait out their own TTL here, then go back to `queue` through the default
    # exchange: quorum, at-least-once dead-lettering, so a broker crash loses none.
    return {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": queue,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def dead_letter_arguments() -> dict[str, Any]:
    return {"x-queue-type": "quorum"}


async def declare_events_exchange(channel: AbstractChannel, exchange: str) -> AbstractExchange:
    return await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)


async def declare_dead_letters(channel: AbstractChannel, dead_letter_exchange: str) -> None:
    """The dead-letter exchange and the one queue, of the same name, that keeps them all."""
    dead = await channel.declare_exchange(
        dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead_queue = await channel.declare_queue(
        dead_letter_exchange, durable=True, arguments=dead_letter_arguments()
    )
    await dead_queue.bind(dead)


async def declare_consumer_queue(
    channel: AbstractChannel, queue: str, dead_letter_exchange: str
) -> AbstractQueue:
    return await channel.declare_queue(
        queue, durable=True, arguments=quorum_arguments(dead_letter_exchange)
    )


async def declare_retry_queue(channel: AbstractChannel, queue: str) -> AbstractQueue:
    return await channel.declare_queue(
        retry_queue_name(queue), durable=True, arguments=retry_arguments(queue)
    )


async def declare_replica_queue(channel: AbstractChannel, queue: str) -> AbstractQueue:
    # Lives as long as the connection: the broker deletes it when the replica goes.
    return await channel.declare_queue(queue, exclusive=True, auto_delete=True)


async def declare_topology(
    channel: AbstractChannel,
    exchange: str,
    dead_letter_exchange: str,
    bindings: dict[str, Iterable[str]] | None = None,
) -> AbstractExchange:
    """The shared part, declared by every service at start-up; `bindings` (tests) replaces
    CONSUMER_BINDINGS."""
    events = await declare_events_exchange(channel, exchange)
    await declare_dead_letters(channel, dead_letter_exchange)
    for consumer, keys in (CONSUMER_BINDINGS if bindings is None else bindings).items():
        queue = await declare_consumer_queue(
            channel, queue_name(exchange, consumer), dead_letter_exchange
        )
        for key in keys:
            await queue.bind(events, routing_key=key)
    return events
