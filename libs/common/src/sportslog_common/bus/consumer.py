"""Consuming one queue: ack after the handler, retry with backoff, dead-letter with reason.

Handlers raise `PermanentError` for a message that can never succeed, `SafeMessage` for a
failure whose text may be logged, and ask `is_last_attempt()` before the dead letters.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from pydantic import ValidationError

from sportslog_common.bus.topology import (
    CONSUMER_BINDINGS,
    DELIVERY_LIMIT,
    REPLICA_BINDINGS,
    declare_consumer_queue,
    declare_events_exchange,
    declare_replica_queue,
    declare_retry_queue,
    queue_name,
    replica_queue_name,
    retry_queue_name,
)
from sportslog_common.events import Envelope
from sportslog_common.metrics import EVENTS_CONSUMED
from sportslog_common.settings import CommonSettings

log = structlog.get_logger("sportslog.bus")


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

    @classmethod
    def for_replica(
        cls,
        connection: AbstractRobustConnection,
        settings: CommonSettings,
        consumer: str,
        handler: Handler,
        prefetch: int,
    ) -> Consumer:
        """The consumer of this replica's own exclusive queue, bound as `REPLICA_BINDINGS`
        says, so that every replica hears every such event."""
        return cls(
            connection,
            queue=replica_queue_name(settings.events_exchange, consumer),
            exchange=settings.events_exchange,
            dead_letter_exchange=settings.dead_letter_exchange,
            routing_keys=REPLICA_BINDINGS[consumer],
            handler=handler,
            prefetch=prefetch,
            exclusive=True,
        )

    async def start(self) -> None:
        self._channel = await self._connection.channel()
        await self._channel.set_qos(prefetch_count=self._prefetch)
        self._dead_channel = await self._connection.channel(publisher_confirms=True)
        events = await declare_events_exchange(self._channel, self._exchange)
        if self._exclusive:
            self._queue = await declare_replica_queue(self._channel, self.queue_name)
        else:
            self._queue = await declare_consumer_queue(
                self._channel, self.queue_name, self._dead_letter_exchange
            )
            await declare_retry_queue(self._channel, self.queue_name)
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


def _retries(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get("x-retries")
    return value if isinstance(value, int) else 0


def _delivery_count(message: AbstractIncomingMessage) -> int:
    """How often a quorum queue delivered this message before (0 the first time)."""
    value = (message.headers or {}).get("x-delivery-count")
    return value if isinstance(value, int) else 0
