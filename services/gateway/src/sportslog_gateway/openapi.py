"""One API description at the gateway: the services' OpenAPI documents merged, limited to
the routes the gateway serves, with the bearer scheme on every protected operation."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import structlog

from sportslog_common.errors import UpstreamUnavailable
from sportslog_gateway.upstreams import route_for

log = structlog.get_logger("sportslog.gateway.openapi")
CACHE_SECONDS = 60.0
BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}


def merge(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for document in documents.values():
        for path, operations in document.get("paths", {}).items():
            route = route_for(path)
            if route is None:
                continue  # /internal/*, /health, /metrics...: not served to clients
            if route.protected:
                operations = {
                    method: {**operation, "security": [{"bearerAuth": []}]}
                    for method, operation in operations.items()
                }
            paths[path] = operations
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(name, schema)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sports-log API",
            "version": "1.0.0",
            "description": "Every route a client can call, through the gateway.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas, "securitySchemes": BEARER},
    }


class OpenApiMerger:
    def __init__(self, session: aiohttp.ClientSession, upstreams: dict[str, str]) -> None:
        self._session = session
        self._upstreams = upstreams
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0
        self._lock = asyncio.Lock()

    async def document(self) -> dict[str, Any]:
        async with self._lock:
            if self._cached is None or time.monotonic() - self._cached_at > CACHE_SECONDS:
                documents = await self._fetch_all()
                if not documents:
                    raise UpstreamUnavailable("No service could describe its API right now")
                self._cached, self._cached_at = merge(documents), time.monotonic()
                if len(documents) < len(self._upstreams):
                    self._cached_at -= CACHE_SECONDS - 5  # incomplete: try again soon
            return self._cached

    async def _fetch_all(self) -> dict[str, dict[str, Any]]:
        results = await asyncio.gather(
            *(self._fetch(url) for url in self._upstreams.values()), return_exceptions=True
        )
        documents = {}
        for name, result in zip(self._upstreams, results, strict=True):
            if isinstance(result, dict):
                documents[name] = result
            else:
                log.warning("openapi_fetch_failed", upstream=name, error=type(result).__name__)
        return documents

    async def _fetch(self, base_url: str) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=5, connect=1)
        async with self._session.get(f"{base_url.rstrip('/')}/openapi.json", timeout=timeout) as r:
            r.raise_for_status()
            document: dict[str, Any] = await r.json()
            return document
