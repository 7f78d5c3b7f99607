from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI

from sportslog_activities import queries
from sportslog_activities.consumers import UserPurger
from sportslog_activities.context import ActivitiesContext
from sportslog_activities.importer import Importer
from sportslog_activities.pagination import CursorSigner
from sportslog_activities.routes import activities, exports, imports, stats
from sportslog_activities.settings import ActivitiesSettings
from sportslog_common.bus.consumer import Consumer
from sportslog_common.jwt import JwksVerifier
from sportslog_common.logging import configure_logging
from sportslog_common.pruning import PruneRule
from sportslog_common.service import (
    broker,
    build_app,
    database,
    outbox_relay,
    pruning,
    ready_checks,
)

# An Idempotency-Key replays its activity for 24 hours; then the prune forgets it.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


def prune_rules(settings: ActivitiesSettings) -> list[PruneRule]:
    """What the periodic prune deletes."""
    return [
        PruneRule("idempotency_keys", queries.PRUNE_IDEMPOTENCY_KEYS, IDEMPOTENCY_KEY_LIFETIME),
        PruneRule(
            "processed_events",
            queries.PRUNE_PROCESSED_EVENTS,
            timedelta(days=settings.processed_event_retention_days),
        ),
    ]


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
            await stack.enter_async_context(pruning(pool, settings, prune_rules(settings)))
            app.state.ctx = ActivitiesContext(
                settings=settings,
                pool=pool,
                importer=Importer(pool, settings.max_device_data_bytes),
                cursor_signer=CursorSigner(settings.cursor_secret.get_secret_value().encode()),
                verifier=JwksVerifier(
                    settings.jwks_url,
                    issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience,
                    http=http,
                ),
            )
            app.state.pool = pool  # for common's /metrics (pool gauges)
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
