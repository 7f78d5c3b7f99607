"""HTTP plumbing shared by every service: request ids, the one error body, security headers."""

from __future__ import annotations

import re
import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sportslog_common import db
from sportslog_common.errors import (
    STATUS_CODES,
    AppError,
    InvalidJson,
    PayloadTooLarge,
    UpstreamUnavailable,
    ValidationFailed,
)

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = structlog.get_logger("sportslog.http")


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Accept the client's X-Request-ID (if sane) or make one; bind it to logs; echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = (
            incoming if incoming and _VALID_REQUEST_ID.match(incoming) else new_request_id()
        )
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", raw_id))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "")) or new_request_id()


def error_response(
    request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    all_headers = {REQUEST_ID_HEADER: request_id_of(request), **(headers or {})}
    return JSONResponse(body, status_code=status, headers=all_headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(request, exc.status, exc.body(), exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return await _app_error(request, InvalidJson())
    details = [{"field": _field_path(err["loc"]), "message": err["msg"]} for err in errors]
    return await _app_error(request, ValidationFailed(details=details))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = STATUS_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    if exc.status_code == 404:
        message = "Not found"
    elif exc.status_code == 405:
        message = "Method not allowed"
    return error_response(
        request, exc.status_code, {"error": message, "code": code}, dict(exc.headers or {})
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    if db.is_unavailable(exc):  # e.g. no route to PostgreSQL's host: no class of its own
        return await _database_unavailable(request, exc)
    # ServerErrorMiddleware runs outside RequestIdMiddleware: bind the id again here.
    with structlog.contextvars.bound_contextvars(request_id=request_id_of(request)):
        log.error("unhandled_error", exc_info=exc, path=request.url.path)
    return error_response(
        request, 500, {"error": "Internal server error", "code": "internal_error"}
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL away is a 503 the client may retry, not an internal error."""
    if not db.is_unavailable(exc):  # an asyncpg interface or internal error: a bug
        return await _unhandled(request, exc)
    with structlog.contextvars.bound_contextvars(request_id=request_id_of(request)):
        log.warning("database_unavailable", error=type(exc).__name__, path=request.url.path)
    error = UpstreamUnavailable("Service temporarily unavailable, try again shortly")
    return error_response(request, error.status, error.body(), {"Retry-After": "1"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in db.UNAVAILABLE_ERRORS:
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(Exception, _unhandled)


SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


class SecurityHeadersMiddleware:
    """Security headers on every response (the gateway's job; cheap enough for any service)."""

    def __init__(self, app: ASGIApp, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS + (extra or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """413 for a body over `max_bytes`: by Content-Length at once, else while it streams in."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, overrides: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides or {}  # path prefix -> larger limit (uploads)

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_too_large(scope, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException, because FastAPI turns anything else raised while
                    # it reads the body into a 400.
                    raise StarletteHTTPException(413, PayloadTooLarge.message)
            return message

        await self.app(scope, counting_receive, send)


async def _send_too_large(scope: Scope, send: Send) -> None:
    request_id = scope.get("state", {}).get("request_id") or new_request_id()
    response = JSONResponse(
        PayloadTooLarge().body(), status_code=413, headers={REQUEST_ID_HEADER: request_id}
    )
    await response({"type": "http"}, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}
