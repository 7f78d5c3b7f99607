from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.responses import Response

from sportslog_common.bus.consumer import Consumer
from sportslog_common.errors import NotFound
from sportslog_common.jwt import JwksVerifier
from sportslog_common.logging import configure_logging
from sportslog_common.service import broker, build_app, ready_checks
from sportslog_gateway import proxy
from sportslog_gateway.auth import require_token, single_authorization, token_state_fetcher
from sportslog_gateway.clients import client_ip, parse_trusted
from sportslog_gateway.cors import JsonCorsMiddleware
from sportslog_gateway.openapi import OpenApiMerger
from sportslog_gateway.ratelimit import RateLimits
from sportslog_gateway.revocations import RevocationCache
from sportslog_gateway.settings import GatewaySettings
from sportslog_gateway.upstreams import route_for

DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'"
)
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
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
    configure_logging("gateway", settings.log_level, settings.log_format)
    upstream_urls = {"auth": settings.auth_url, "activities": settings.activities_url}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            connection = await stack.enter_async_context(broker(settings))
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
            app.state.revocations = revocations
            app.state.openapi = OpenApiMerger(session, upstream_urls)
            app.state.session = session
            app.state.verifier = JwksVerifier(
                settings.jwks_url,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                http=http,
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
    trusted = parse_trusted(settings.trusted_proxies)
    limits = RateLimits(
        settings.rate_limit_storage, settings.rate_limit_default, settings.rate_limit_auth
    )

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(await request.app.state.openapi.document())

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="sports-log API")
        # Swagger UI's own script and styles come from its CDN; nothing else may load.
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.api_route("/{path:path}", methods=PROXY_METHODS, include_in_schema=False)
    async def gateway(request: Request) -> Response:
        client = client_ip(request, trusted)
        limit_headers = await limits.hit(request.method, request.url.path, client)
        route = route_for(request.url.path, request.scope.get("raw_path"))
        if route is None:
            raise NotFound()
        request.scope.setdefault("state", {})["route_template"] = route.template
        credential = proxy.Credential(single_authorization(request))
        if route.protected:
            claims = await require_token(
                request.app.state.verifier, request.app.state.revocations, credential.authorization
            )
            credential = proxy.Credential(credential.authorization, claims)
        response = await proxy.forward(
            request.app.state.session,
            request,
            upstream_name=route.upstream,
            base_url=upstream_urls[route.upstream],
            client_ip=client,
            credential=credential,
            timeout=settings.upstream_timeout_seconds,
        )
        response.headers.update(limit_headers)
        return response

    return app
