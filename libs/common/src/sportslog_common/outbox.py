"""The transactional outbox: events written with the state change, published after commit.

The producing service's migrations create
`outbox (id uuid PRIMARY KEY, type text, envelope jsonb, created_at timestamptz)`.
`write_event` runs inside the caller's transaction: a rollback drops the event with the
change, and the NOTIFY is only delivered on commit. `OutboxRelay` publishes and deletes
each row after its own broker confirm; while RabbitMQ is down rows simply wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from aio_pika.exceptions import PublishError

from sportslog_common import db
from sportslog_common.bus.publisher import Publisher
from sportslog_common.db import Connection, Pool
from sportslog_common.events import Envelope, EventData
from sportslog_common.metrics import OUTBOX_PENDING

log = structlog.get_logger("sportslog.outbox")

CHANNEL = "sportslog_outbox"
POLL_SECONDS = 2.0
BATCH_SIZE = 100


async def write_event(
    conn: Connection,
    data: EventData,
    *,
    producer: str,
    request_id: str | None = None,
) -> Envelope:
    if request_id is None:
        # The request being served (bound by RequestIdMiddleware), so it travels with the event.
        request_id = structlog.contextvars.get_contextvars().get("request_id")
    envelope = Envelope.wrap(data, producer=producer, request_id=request_id)
    await conn.execute(
        "INSERT INTO outbox (id, type, envelope, created_at) VALUES ($1, $2, $3, $4)",
        envelope.id,
        envelope.type,
        envelope.model_dump(mode="json"),
        envelope.occurred_at,
    )
    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
    return envelope


class OutboxRelay:
    def __init__(self, pool: Pool, dsn: str, publisher: Publisher) -> None:
        self._pool = pool
        self._dsn = dsn
        self._publisher = publisher
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: Connection | None = None
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 10)
        await self._close_listener()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            await self._ensure_listener()
            try:
                published = await self.drain_once()
                failures = 0
            except Exception as exc:
                failures += 1
                published = 0
                log.warning("outbox_relay_failed", error=f"{type(exc).__name__}: {exc}")
            if published == BATCH_SIZE:
                continue  # more may be waiting
            delay = POLL_SECONDS if failures == 0 else min(30.0, 0.5 * 2**failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            self._wake.clear()

    async def _ensure_listener(self) -> None:
        # A dedicated connection outside the pool; re-LISTEN after it drops. Polling
        # every POLL_SECONDS covers any NOTIFY lost in between.
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await db.connect(self._dsn)
            await self._listener.add_listener(CHANNEL, self._on_notify)
        except Exception as exc:
            log.warning("outbox_listen_failed", error=type(exc).__name__)
            await self._close_listener()
            self._listener = None

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            with contextlib.suppress(Exception):
                await self._listener.close()

    async def drain_once(self) -> int:
        """Publish one batch; return how many rows were published and deleted."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """
                SELECT id, envelope FROM outbox
                ORDER BY created_at, id
                LIMIT $1
                FOR UPDATE SKIP LOCKED
                """,
                BATCH_SIZE,
            )
            if not rows:
                OUTBOX_PENDING.set(0)
                return 0
            envelopes = [Envelope.model_validate(row["envelope"]) for row in rows]
            results = await asyncio.gather(
                *(self._publisher.publish(e) for e in envelopes), return_exceptions=True
            )
            done = []
            for envelope, result in zip(envelopes, results, strict=True):
                if result is None:
                    done.append(envelope.id)
                elif isinstance(result, PublishError):
                    # Unroutable: no queue binds this type (DESIGN.md §5 "no consumers").
                    log.info("event_unroutable", event_type=envelope.type)
                    done.append(envelope.id)
                else:
                    log.warning("event_publish_failed", event_type=envelope.type, error=str(result))
            if done:
                await conn.execute("DELETE FROM outbox WHERE id = ANY($1::uuid[])", done)
            OUTBOX_PENDING.set(await conn.fetchval("SELECT count(*) FROM outbox"))
        if len(done) < len(envelopes):
            # Raised after the commit, so the confirmed rows stay deleted.
            raise RuntimeError(f"{len(envelopes) - len(done)} events not confirmed")
        return len(done)
