"""The error contract (DESIGN.md §4): every error has a status, a stable `code` and a message.

Domain code raises these; `http.install_error_handlers` renders them, and FastAPI's and
Starlette's own errors, as `{"error", "code", "details"?}`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    message: ClassVar[str] = "Internal server error"
    sends_retry_after: ClassVar[bool] = False  # documented in the OpenAPI responses

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail_message = message or self.message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.detail_message)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.detail_message, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body

    @classmethod
    def openapi(cls) -> dict[int | str, dict[str, Any]]:
        """Entry for a route's `responses=`."""
        entry: dict[str, Any] = {"model": ErrorBody, "description": cls.message}
        if cls.sends_retry_after:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
        return {cls.status: entry}


class InvalidJson(AppError):
    status, code, message = 400, "invalid_json", "Request body is not valid JSON"


class InvalidRequest(AppError):
    status, code, message = 400, "invalid_request", "The request is malformed"


class CorsOriginNotAllowed(AppError):
    status, code, message = 403, "cors_origin_not_allowed", "This origin may not call the API"


class ValidationFailed(AppError):
    status, code, message = 422, "validation_error", "Request validation failed"


class InvalidToken(AppError):
    status, code, message = 401, "invalid_token", "Missing, invalid or expired token"

    def __init__(self, message: str | None = None, *, reason: str = "invalid") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})
        self.reason = reason  # a bounded label for metrics, never shown to clients


class NotFound(AppError):
    status, code, message = 404, "not_found", "Not found"


class PayloadTooLarge(AppError):
    status, code, message = 413, "payload_too_large", "Request body is too large"


class RateLimited(AppError):
    status, code, message = 429, "rate_limited", "Too many requests"
    sends_retry_after = True

    def __init__(
        self, retry_after: int, message: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(
            message, headers={**(headers or {}), "Retry-After": str(max(1, retry_after))}
        )


class Busy(AppError):
    """Overloaded on purpose: a bounded queue is full, so the request is refused at once
    rather than left to wait (and hold memory) without limit. Safe to retry."""

    status, code, message = 503, "busy", "The server is busy; try again shortly"

    sends_retry_after = True

    def __init__(self, retry_after: int = 1, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})


class UpstreamUnavailable(AppError):
    status, code, message = 503, "upstream_unavailable", "Upstream service unavailable"


class UpstreamTimeout(AppError):
    status, code, message = 504, "upstream_timeout", "Upstream service timed out"


# Status -> code for errors raised as plain Starlette HTTPExceptions.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "upstream_unavailable",
    504: "upstream_timeout",
}


class ErrorBody(BaseModel):
    error: str
    code: str
    details: Any = None
