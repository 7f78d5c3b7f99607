from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from sportslog_common.bus.consumer import Consumer
from sportslog_common.jwt import JwksVerifier
from sportslog_common.logging import configure_logging
from sportslog_common.service import broker, build_app, ready_checks
from sportslog_gateway import proxy
from sportslog_gateway.auth import token_state_fetcher
from sportslog_gateway.clients import parse_trusted
from sportslog_gateway.context import GatewayContext
from sportslog_gateway.cors import JsonCorsMiddleware
from sportslog_gateway.openapi import OpenApiMerger
from sportslog_gateway.ratelimit import RateLimits
from sportslog_gateway.revocations import RevocationCache
from sportslog_gateway.routes import docs, gateway
from sportslog_gateway.routes.gateway import PROXY_METHODS
from sportslog_gateway.settings import GatewaySettings

CORS_ALLOW_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "X-Request-ID",
]
CORS_EXPOSE_HEADERS = [
    "ETag",
    "Location",
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]


def create_app(
    settings: GatewaySettings, *, jwks_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`jwks_transport` lets a test serve the JWKS without an auth process."""
    configure_logging("gateway", settings.log_level, settings.log_format)
    upstream_urls = {"auth": settings.auth_url, "activities": settings.activities_url}
    # Made with the app, not per lifespan: the counters live as long as the app does.
    trusted = parse_trusted(settings.trusted_proxies)
    limits = RateLimits(
        settings.rate_limit_storage, settings.rate_limit_default, settings.rate_limit_auth
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            connection = await stack.enter_async_context(broker(settings))
            # Its Redis connections close with the app: nothing else closes them.
            stack.callback(limits.close)
            session = proxy.create_session()
            stack.push_async_callback(session.close)
            http = await stack.enter_async_context(httpx.AsyncClient(transport=jwks_transport))
            revocations = RevocationCache(
                token_state_fetcher(session, settings.auth_url, settings.internal_auth())
            )
            # Each replica its own queue: every replica must hear every revocation.
            consumer = Consumer.for_replica(
                connection, settings, "gateway", revocations.apply, prefetch=50
            )
            await consumer.start()
            stack.push_async_callback(consumer.stop)
            connection.close_callbacks.add(revocations.disconnected)
            connection.reconnect_callbacks.add(revocations.reconnected)
            app.state.ctx = GatewayContext(
                settings=settings,
                session=session,
                verifier=JwksVerifier(
                    settings.jwks_url,
                    issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience,
                    http=http,
                ),
                revocations=revocations,
                openapi=OpenApiMerger(session, upstream_urls),
                limits=limits,
                trusted_proxies=trusted,
                upstream_urls=upstream_urls,
            )
            app.state.ready_checks = ready_checks(None, connection)
            yield

    hsts = (
        [(b"strict-transport-security", f"max-age={settings.hsts_max_age}".encode())]
        if settings.hsts_max_age
        else []
    )
    app = build_app(
        "gateway",
        lifespan,
        max_body_bytes=settings.max_body_bytes,
        body_limit_overrides={"/activities/import": settings.max_import_bytes},
        extra_security_headers=hsts,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    # Outermost, so preflights are answered before routing and every answer (errors too)
    # carries the CORS headers a browser needs to read it.
    app.add_middleware(
        JsonCorsMiddleware,
        allow_origins=settings.cors_origin_list(),
        allow_credentials=True,
        allow_methods=PROXY_METHODS,
        allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        max_age=600,
    )
    app.include_router(docs.router)
    # Last: it matches every path, so any route after it would never be reached.
    app.include_router(gateway.router)
    return app
