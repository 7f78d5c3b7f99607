from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI

from sportslog_activities import queries
from sportslog_activities.consumers import UserPurger
from sportslog_activities.importer import Importer
from sportslog_activities.pagination import CursorSigner
from sportslog_activities.routes import activities, exports, imports, stats
from sportslog_activities.settings import ActivitiesSettings
from sportslog_common.bus import Consumer
from sportslog_common.db import Pool
from sportslog_common.jwt import JwksVerifier
from sportslog_common.logging import configure_logging
from sportslog_common.service import (
    broker,
    build_app,
    database,
    outbox_relay,
    periodic,
    ready_checks,
)

PRUNE_SECONDS = 600.0
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


def _pruner(pool: Pool) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        async with pool.acquire() as conn:
            await queries.delete_idempotency_keys_before(conn, IDEMPOTENCY_KEY_LIFETIME)

    return run


def create_app(
    settings: ActivitiesSettings, *, jwks_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`jwks_transport` lets a test serve the JWKS without an auth process."""
    configure_logging("activities", settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            pool = await stack.enter_async_context(database(settings, "sportslog_activities"))
            connection = await stack.enter_async_context(broker(settings))
            await stack.enter_async_context(outbox_relay(pool, settings, connection))
            consumer = Consumer.for_service(
                connection, settings, "activities", UserPurger(pool).handle, prefetch=10
            )
            await consumer.start()
            stack.push_async_callback(consumer.stop)
            http = await stack.enter_async_context(httpx.AsyncClient(transport=jwks_transport))
            await stack.enter_async_context(periodic(PRUNE_SECONDS, _pruner(pool)))
            app.state.settings = settings
            app.state.importer = Importer(pool, settings.max_device_data_bytes)
            app.state.cursor_signer = CursorSigner(
                settings.cursor_secret.get_secret_value().encode()
            )
            app.state.pool = pool
            app.state.verifier = JwksVerifier(
                settings.jwks_url,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                http=http,
            )
            app.state.ready_checks = ready_checks(pool, connection)
            yield

    # A body holds device_data up to its own limit plus the other fields.
    app = build_app(
        "activities",
        lifespan,
        max_body_bytes=settings.max_device_data_bytes + 64 * 1024,
        body_limit_overrides={"/activities/import": settings.max_import_bytes},
    )
    # Fixed paths (/activities/stats, ...) before /activities/{activity_id}.
    app.include_router(stats.router)
    app.include_router(exports.router)
    app.include_router(imports.router)
    app.include_router(activities.router)
    return app
