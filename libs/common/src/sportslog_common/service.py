"""`build_app`: the FastAPI app every service starts from, so all four behave alike."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import structlog
import uvicorn
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from sportslog_common import db, health
from sportslog_common.bus.connection import connect
from sportslog_common.bus.publisher import Publisher
from sportslog_common.bus.topology import declare_topology
from sportslog_common.http import (
    BodySizeLimitMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
    install_error_handlers,
)
from sportslog_common.logging import configure_library_logging
from sportslog_common.metrics import MetricsMiddleware
from sportslog_common.migrations import migrate
from sportslog_common.outbox import OutboxRelay
from sportslog_common.pruning import Pruner, PruneRule
from sportslog_common.settings import CommonSettings, DatabaseSettings

log = structlog.get_logger("sportslog.service")

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def build_app(
    service: str,
    lifespan: Lifespan,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_limit_overrides: dict[str, int] | None = None,
    extra_security_headers: list[tuple[bytes, bytes]] | None = None,
    **fastapi_kwargs: Any,
) -> FastAPI:
    app = FastAPI(title=f"sports-log {service}", lifespan=lifespan, **fastapi_kwargs)
    app.state.ready_checks = {}
    install_error_handlers(app)
    app.include_router(health.router)
    # Added innermost first: the request id is bound before anything else runs.
    app.add_middleware(
        BodySizeLimitMiddleware, max_bytes=max_body_bytes, overrides=body_limit_overrides
    )
    app.add_middleware(SecurityHeadersMiddleware, extra=extra_security_headers)
    app.add_middleware(MetricsMiddleware, service=service)
    app.add_middleware(RequestIdMiddleware)
    return app


def ready_checks(
    pool: db.Pool | None, connection: AbstractRobustConnection
) -> dict[str, health.ReadyCheck]:
    """`/ready` = this service's PostgreSQL (if it has one) and RabbitMQ answer."""
    checks = {"rabbitmq": rabbitmq_check(connection)}
    if pool is not None:
        checks = {"postgres": postgres_check(pool), **checks}
    return checks


def postgres_check(pool: db.Pool) -> health.ReadyCheck:
    async def check() -> None:
        await db.ping(pool)

    return check


def rabbitmq_check(connection: AbstractRobustConnection) -> health.ReadyCheck:
    async def check() -> None:
        if connection.is_closed or not connection.connected.is_set():
            raise ConnectionError("RabbitMQ connection is down")

    return check


@asynccontextmanager
async def database(settings: DatabaseSettings, migrations_package: str) -> AsyncIterator[db.Pool]:
    """The process's pool, with the service's migrations applied before anything runs."""
    pool = await db.create_pool(
        settings.database_url,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
    )
    try:
        await migrate(pool, migrations_package)
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def broker(settings: CommonSettings) -> AsyncIterator[AbstractRobustConnection]:
    """The process's robust connection, with the shared topology declared."""
    connection = await connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        await declare_topology(channel, settings.events_exchange, settings.dead_letter_exchange)
        await channel.close()
        yield connection
    finally:
        await connection.close()


@asynccontextmanager
async def outbox_relay(
    pool: db.Pool, settings: DatabaseSettings, connection: AbstractRobustConnection
) -> AsyncIterator[OutboxRelay]:
    publisher = Publisher(connection, settings.events_exchange)
    await publisher.start()
    relay = OutboxRelay(pool, settings.database_url, publisher)
    await relay.start()

    def wake(_: object) -> None:
        # Back from a broker outage: publish what waited now, not when the relay's
        # failure backoff (up to 30 s by then) runs out.
        relay.wake()

    connection.reconnect_callbacks.add(wake)
    try:
        yield relay
    finally:
        connection.reconnect_callbacks.discard(wake)
        await relay.stop()
        await publisher.close()


@asynccontextmanager
async def periodic(
    interval: float, job: Callable[[], Awaitable[None]]
) -> AsyncIterator[asyncio.Task[None]]:
    """Run `job` every `interval` seconds while the service runs; a failure is logged."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await job()
            except Exception as exc:
                log.warning(
                    "periodic_job_failed",
                    job=getattr(job, "__qualname__", "?"),
                    error=type(exc).__name__,
                )

    task = asyncio.create_task(loop())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@asynccontextmanager
async def pruning(
    pool: db.Pool, settings: DatabaseSettings, rules: list[PruneRule]
) -> AsyncIterator[Pruner]:
    """Prune `rules` every PRUNE_INTERVAL_SECONDS while the service runs."""
    pruner = Pruner(pool, rules, batch_size=settings.prune_batch_size)
    async with periodic(settings.prune_interval_seconds, pruner.run):
        yield pruner


def serve(app: FastAPI, settings: CommonSettings) -> None:
    """Run one service process (its `python -m` entry point)."""
    configure_library_logging()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=20,
    )
