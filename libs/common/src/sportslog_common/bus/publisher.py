"""Envelopes out: persistent, routing key = event type, confirms awaited (DESIGN.md §5, §8)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from sportslog_common.bus.topology import EXPIRING_TYPES, declare_events_exchange
from sportslog_common.events import Envelope
from sportslog_common.metrics import EVENTS_PUBLISHED

PUBLISH_TIMEOUT_SECONDS = 10.0


def _ttl(envelope: Envelope) -> float | None:
    if envelope.type not in EXPIRING_TYPES:
        return None
    expires_at = envelope.data.get("expires_at")
    if not isinstance(expires_at, str):
        return None
    remaining = datetime.fromisoformat(expires_at) - datetime.now(UTC)
    return max(0.001, remaining.total_seconds())


def to_message(envelope: Envelope) -> aio_pika.Message:
    return aio_pika.Message(
        envelope.to_bytes(),
        content_type="application/json",
        message_id=str(envelope.id),
        type=envelope.type,
        timestamp=envelope.occurred_at,
        # aio-pika's default is transient; events must survive a broker restart.
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        headers={"x-request-id": envelope.request_id or ""},
        expiration=_ttl(envelope),
    )


class Publisher:
    """Publishes envelopes with confirms; `mandatory` makes an unroutable event an error."""

    def __init__(self, connection: AbstractRobustConnection, exchange: str) -> None:
        self._connection = connection
        self._exchange_name = exchange
        self._exchange: AbstractExchange | None = None
        self._channel: AbstractChannel | None = None

    async def start(self) -> None:
        self._channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._exchange = await declare_events_exchange(self._channel, self._exchange_name)

    async def publish(self, envelope: Envelope, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        if self._exchange is None:
            raise RuntimeError("Publisher.start() was not awaited")
        await self._exchange.publish(
            to_message(envelope), routing_key=envelope.type, mandatory=True, timeout=timeout
        )
        EVENTS_PUBLISHED.labels(envelope.type).inc()

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._channel.close(), 5)
