"""One API description at the gateway: the services' OpenAPI documents merged, limited to
the routes the gateway serves, with the bearer scheme on every protected operation and the
error contract's bodies (DESIGN.md §4) where FastAPI documents them wrong or not at all."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import structlog

from sportslog_common.errors import ErrorBody, UpstreamUnavailable
from sportslog_gateway.upstreams import route_for

log = structlog.get_logger("sportslog.gateway.openapi")
CACHE_SECONDS = 60.0
BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}
# FastAPI's own 422 models: our handlers never answer with them.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def merge(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for document in documents.values():
        for path, operations in document.get("paths", {}).items():
            route = route_for(path)
            if route is None:
                continue  # /internal/*, /health, /metrics...: not served to clients
            security: dict[str, Any] = {"security": [{"bearerAuth": []}]} if route.protected else {}
            paths[path] = {
                method: {**with_error_contract(operation), **security}
                for method, operation in operations.items()
            }
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(name, schema)
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
    for name in FASTAPI_VALIDATION_SCHEMAS:
        if f'"#/components/schemas/{name}"' not in json.dumps([paths, schemas]):
            schemas.pop(name, None)
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


def with_error_contract(operation: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents its own 422 body, which our handlers never send, and not the 400
    they send for a body that cannot be parsed (not JSON, not UTF-8, a broken multipart
    form): every service answers both as an ErrorBody, through sportslog_common.http. The
    gateway itself answers 400 `invalid_request` on any route to a request with more than
    one credential in `Authorization`."""
    responses = dict(operation.get("responses", {}))
    if "HTTPValidationError" in json.dumps(responses.get("422", {})):
        responses["422"] = {
            "description": "Validation failed (`validation_error`, the fields in `details`)",
            "content": {"application/json": {"schema": ERROR_BODY}},
        }
    if "400" not in responses:
        causes = "more than one credential in `Authorization` (`invalid_request`)"
        if "requestBody" in operation:
            causes = f"a body that cannot be parsed (`invalid_json`), or {causes}"
        responses["400"] = {
            "description": f"The request is malformed: {causes}",
            "content": {"application/json": {"schema": ERROR_BODY}},
        }
    return {**operation, "responses": responses}


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
