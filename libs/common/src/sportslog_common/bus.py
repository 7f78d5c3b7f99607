"""RabbitMQ: the topology, a publisher with confirms, and a consumer helper (DESIGN.md §5, §8).

Every service declares the same topology at start-up, so an event published before its
consumer first started still lands in that consumer's durable queue, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from aio_pika.exceptions import AMQPConnectionError
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from sportslog_common.events import Envelope
from sportslog_common.metrics import EVENTS_CONSUMED, EVENTS_PUBLISHED
from sportslog_common.settings import CommonSettings

log = structlog.get_logger("sportslog.bus")

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

DELIVERY_LIMIT = 5
PUBLISH_TIMEOUT_SECONDS = 10.0


def queue_name(exchange: str, consumer: str) -> str:
    return f"{exchange}.{consumer}"


def quorum_arguments(dead_letter_exchange: str) -> dict[str, Any]:
    # The same arguments on every declaration: changing them means a new queue name.
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": dead_letter_exchange,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


async def connect(
    url: str, *, wait_seconds: float = 30, reconnect_interval: float = 2
) -> AbstractRobustConnection:
    """One robust connection per process; waits for the broker at start-up."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type((OSError, AMQPConnectionError)),
        wait=wait_exponential(multiplier=0.2, max=2),
        stop=stop_after_delay(wait_seconds),
        reraise=True,
    ):
        with attempt:
            connection = await aio_pika.connect_robust(
                url, heartbeat=30, reconnect_interval=reconnect_interval
            )
    return connection


async def declare_topology(
    channel: AbstractChannel,
    exchange: str,
    dead_letter_exchange: str,
    bindings: dict[str, Iterable[str]] | None = None,
) -> AbstractExchange:
    events = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    dead = await channel.declare_exchange(
        dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead_queue = await channel.declare_queue(
        dead_letter_exchange, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_queue.bind(dead)
    for consumer, keys in (CONSUMER_BINDINGS if bindings is None else bindings).items():
        queue = await channel.declare_queue(
            queue_name(exchange, consumer),
            durable=True,
            arguments=quorum_arguments(dead_letter_exchange),
        )
        for key in keys:
            await queue.bind(events, routing_key=key)
    return events


# Events whose payload is a short-lived code: the broker drops them when the code dies, so
# a stale code is never delivered (they end in the dead-letter queue, x-death "expired").
EXPIRING_TYPES = frozenset({"user.otp_requested", "user.phone_verification_requested"})


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
        self._exchange = await self._channel.declare_exchange(
            self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )

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


_LAST_ATTEMPT: ContextVar[bool] = ContextVar("last_attempt", default=False)


def is_last_attempt() -> bool:
    """Inside a handler: if this attempt fails, the message goes to the dead letters."""
    return _LAST_ATTEMPT.get()


class SafeMessage(Exception):
    """An exception whose text we wrote and may log (it quotes no payload)."""


class PermanentError(SafeMessage):
    """The handler can never succeed with this message: dead-letter it at once."""


Handler = Callable[[Envelope], Awaitable[None]]


class Consumer:
    """Consumes one queue: ack after the handler, retry with backoff, dead-letter with reason.

    A transient failure is re-published to the queue's delayed retry queue (`<queue>.retry`,
    per-message TTL, dead-lettered back to the queue when it expires) and acked, so the
    handler never sleeps on a message and the prefetch window keeps moving. At the
    `max_attempts`-th attempt, or at once on `PermanentError` or an unreadable envelope,
    the message is re-published to the dead-letter exchange with an `x-error` header.
    """

    def __init__(
        self,
        connection: AbstractRobustConnection,
        *,
        queue: str,
        exchange: str,
        dead_letter_exchange: str,
        routing_keys: Iterable[str],
        handler: Handler,
        prefetch: int = 20,
        max_attempts: int = DELIVERY_LIMIT,
        handler_timeout: float = 60.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        exclusive: bool = False,
    ) -> None:
        self._connection = connection
        self.queue_name = queue
        self._exchange = exchange
        self._dead_letter_exchange = dead_letter_exchange
        self._routing_keys = tuple(routing_keys)
        self._handler = handler
        self._prefetch = prefetch
        self._max_attempts = max_attempts
        self._handler_timeout = handler_timeout
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._exclusive = exclusive
        self._channel: AbstractChannel | None = None
        self._dead_channel: AbstractChannel | None = None
        self._consumer_tag: str | None = None
        self._queue: Any = None
        self._in_flight: set[asyncio.Task[None]] = set()

    @classmethod
    def for_service(
        cls,
        connection: AbstractRobustConnection,
        settings: CommonSettings,
        consumer: str,
        handler: Handler,
        prefetch: int,
        backoff_base: float = 0.5,
    ) -> Consumer:
        """The consumer of a service's durable queue, bound as `CONSUMER_BINDINGS` says."""
        return cls(
            connection,
            queue=queue_name(settings.events_exchange, consumer),
            exchange=settings.events_exchange,
            dead_letter_exchange=settings.dead_letter_exchange,
            routing_keys=CONSUMER_BINDINGS[consumer],
            handler=handler,
            prefetch=prefetch,
            backoff_base=backoff_base,
        )

    async def start(self) -> None:
        self._channel = await self._connection.channel()
        await self._channel.set_qos(prefetch_count=self._prefetch)
        self._dead_channel = await self._connection.channel(publisher_confirms=True)
        events = await self._channel.declare_exchange(
            self._exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        if self._exclusive:
            # A per-replica queue (gateway): lives as long as the connection.
            self._queue = await self._channel.declare_queue(
                self.queue_name, exclusive=True, auto_delete=True
            )
        else:
            self._queue = await self._channel.declare_queue(
                self.queue_name,
                durable=True,
                arguments=quorum_arguments(self._dead_letter_exchange),
            )
            await self._channel.declare_queue(
                retry_queue_name(self.queue_name),
                durable=True,
                arguments=retry_arguments(self.queue_name),
            )
        for key in self._routing_keys:
            await self._queue.bind(events, routing_key=key)
        self._consumer_tag = await self._queue.consume(self._on_message)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, let the ones in flight finish, then close. Every step is
        bounded: a shutdown must never hang on a broker that stopped answering."""
        if self._queue is not None and self._consumer_tag is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._queue.cancel(self._consumer_tag), 5)
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=timeout)
        for channel in (self._channel, self._dead_channel):
            if channel is not None and not channel.is_closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(channel.close(), 5)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._handle(message)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    def _backoff(self, attempt: int) -> float:
        return float(min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1)))

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        event_type = message.type or message.routing_key or "unknown"
        try:
            envelope = Envelope.model_validate_json(message.body)
        except ValidationError as exc:
            await self._dead_letter(message, f"unreadable envelope: {exc.error_count()} errors")
            EVENTS_CONSUMED.labels(self.queue_name, event_type, "dead").inc()
            return
        attempt = _retries(message) + _delivery_count(message) + 1
        bound = structlog.contextvars.bound_contextvars(
            event_id=str(envelope.id), event_type=envelope.type, request_id=envelope.request_id
        )
        with bound:
            token = _LAST_ATTEMPT.set(attempt >= self._max_attempts)
            try:
                async with asyncio.timeout(self._handler_timeout):
                    await self._handler(envelope)
            except PermanentError as exc:
                log.warning("event_rejected", reason=str(exc))
                await self._dead_letter(message, f"permanent: {exc}")
                EVENTS_CONSUMED.labels(self.queue_name, envelope.type, "dead").inc()
            except Exception as exc:
                # Only the type of a foreign exception: its text may quote the payload.
                reason = type(exc).__name__
                if isinstance(exc, SafeMessage):
                    reason = f"{reason}: {exc}"
                if attempt >= self._max_attempts:
                    log.error("event_dead_lettered", attempt=attempt, reason=reason)
                    await self._dead_letter(message, f"failed {attempt} times: {reason}")
                    EVENTS_CONSUMED.labels(self.queue_name, envelope.type, "dead").inc()
                else:
                    delay = self._backoff(attempt)
                    log.warning("event_retry", attempt=attempt, delay=delay, reason=reason)
                    await self._retry_later(message, delay)
                    EVENTS_CONSUMED.labels(self.queue_name, envelope.type, "retry").inc()
            else:
                await message.ack()
                EVENTS_CONSUMED.labels(self.queue_name, envelope.type, "ok").inc()
            finally:
                _LAST_ATTEMPT.reset(token)

    async def _retry_later(self, message: AbstractIncomingMessage, delay: float) -> None:
        """Park a copy in the retry queue for `delay` seconds, then ack this delivery."""
        assert self._dead_channel is not None
        target = retry_queue_name(self.queue_name)
        expiration: float | None = max(0.001, delay)
        if self._exclusive:
            # A per-replica queue has no retry queue (and a classic queue counts no
            # redeliveries): pause, then put a counted copy back on the queue itself, so a
            # poison message reaches the dead letters after `max_attempts` like anywhere else.
            await asyncio.sleep(delay)
            target, expiration = self.queue_name, None
        copy = _copy(message, {"x-retries": _retries(message) + 1}, expiration=expiration)
        try:
            await self._dead_channel.default_exchange.publish(
                copy, routing_key=target, mandatory=True, timeout=10
            )
        except Exception:
            log.exception("retry_publish_failed")
            await message.nack(requeue=True)  # never lost: back on the queue at once
            return
        await message.ack()

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        assert self._dead_channel is not None
        extra = {
            "x-error": reason[:1000],
            "x-original-queue": self.queue_name,
            "x-original-routing-key": message.routing_key or "",
        }
        copy = _copy(message, extra)
        try:
            exchange = await self._dead_channel.get_exchange(self._dead_letter_exchange)
            await exchange.publish(copy, routing_key=message.routing_key or "", timeout=10)
        except Exception:
            # Never lose it: leave it on the queue to be tried again.
            log.exception("dead_letter_publish_failed")
            await message.nack(requeue=True)
            return
        await message.ack()


def _copy(
    message: AbstractIncomingMessage, extra_headers: dict[str, Any], expiration: float | None = None
) -> aio_pika.Message:
    """A persistent copy of a delivery for re-publishing (retry or dead letter)."""
    headers = {k: v for k, v in (message.headers or {}).items() if k != "x-delivery-count"}
    headers.update(extra_headers)
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        message_id=message.message_id,
        type=message.type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        expiration=expiration,
    )


def retry_queue_name(queue: str) -> str:
    return f"{queue}.retry"


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


def _retries(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get("x-retries")
    return value if isinstance(value, int) else 0


def _delivery_count(message: AbstractIncomingMessage) -> int:
    """How often a quorum queue delivered this message before (0 the first time)."""
    value = (message.headers or {}).get("x-delivery-count")
    return value if isinstance(value, int) else 0
