"""`build_app`: the FastAPI app every service starts from, so all four behave alike."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from sportslog_common import db, health
from sportslog_common.http import (
    BodySizeLimitMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
    install_error_handlers,
)
from sportslog_common.metrics import MetricsMiddleware

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def build_app(
    service: str,
    lifespan: Lifespan,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_limit_overrides: dict[str, int] | None = None,
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
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, service=service)
    app.add_middleware(RequestIdMiddleware)
    return app


def postgres_check(pool: db.Pool) -> health.ReadyCheck:
    async def check() -> None:
        await db.ping(pool)

    return check


def rabbitmq_check(connection: AbstractRobustConnection) -> health.ReadyCheck:
    async def check() -> None:
        if connection.is_closed or not connection.connected.is_set():
            raise ConnectionError("RabbitMQ connection is down")

    return check
