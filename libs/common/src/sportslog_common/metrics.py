"""Every metric of DESIGN.md §6 that more than one service uses, defined once.

Service-specific business metrics live in the service (e.g. sportslog_auth.metrics).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_POOL = Gauge("sportslog_db_pool_connections", "asyncpg pool connections", ["state"])
EVENTS_PUBLISHED = Counter("sportslog_events_published_total", "Events published", ["type"])
EVENTS_CONSUMED = Counter(
    "sportslog_events_consumed_total", "Events consumed", ["queue", "type", "result"]
)
OUTBOX_PENDING = Gauge("sportslog_outbox_pending", "Outbox rows not yet published")
ROWS_PRUNED = Counter(
    "sportslog_rows_pruned_total", "Rows deleted past their retention (pruning.py)", ["table"]
)
# The default process collector has no thread count; a growing one means a pool that leaks.
PYTHON_THREADS = Gauge(
    "sportslog_python_threads", "Live Python threads (event loop, argon2 pool, executors)"
)
PYTHON_THREADS.set_function(threading.active_count)

log = structlog.get_logger("sportslog.access")

UNMATCHED_ROUTE = "<unmatched>"
_SKIPPED_ROUTES = frozenset({"/metrics", "/health", "/ready"})


class MetricsMiddleware:
    """Counts and times requests by route *template*, so label cardinality stays bounded."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = _route_template(scope)
            if route not in _SKIPPED_ROUTES:
                method = scope["method"]
                elapsed = time.perf_counter() - started
                HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
                HTTP_DURATION.labels(self.service, method, route).observe(elapsed)
                # The access log: route template, not the path with its ids and query.
                log.info(
                    "request",
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                )


def _route_template(scope: Scope) -> str:
    # A catch-all (the gateway's proxy) names its own template in the scope state.
    override = scope.get("state", {}).get("route_template")
    if override:
        return str(override)
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else UNMATCHED_ROUTE


def observe_pool(pool: Any) -> None:
    if pool is None:
        return
    DB_POOL.labels("size").set(pool.get_size())
    DB_POOL.labels("idle").set(pool.get_idle_size())


async def metrics_endpoint(request: Request) -> Response:
    observe_pool(getattr(request.app.state, "pool", None))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
