"""structlog set-up: JSON lines with the request id, and secrets scrubbed before rendering."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_WORDS = ("password", "token", "secret", "code", "authorization", "cookie", "key")
REDACTED = "[redacted]"


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def redact(value: Any) -> Any:
    """Replace the value of every secret-looking key, recursively."""
    if isinstance(value, MutableMapping):
        return {k: REDACTED if _is_secret(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
    return {
        k: (REDACTED if k != "event" and _is_secret(k) else redact(v))
        for k, v in event_dict.items()
    }


def _exception_without_message(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
    """Render a traceback with each exception's type but not its message: messages of
    drivers and parsers quote the values they choke on (a password, a token)."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if isinstance(exc_info, BaseException):
            exc: BaseException | None = exc_info
        elif isinstance(exc_info, tuple):
            exc = exc_info[1]
        else:  # exc_info=True
            exc = sys.exc_info()[1]
        if exc is not None:
            event_dict["exception"] = _format(exc)
    return event_dict


def _format(exc: BaseException) -> str:
    parts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"{frames}{type(current).__module__}.{type(current).__qualname__}")
        current = current.__cause__ or current.__context__
    return "\n-- caused by --\n".join(parts)


class _DropAppTracebacks(logging.Filter):
    """uvicorn re-logs every unhandled app error with its message; ours is already logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Exception in ASGI application")


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_processor,
            _exception_without_message,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        # No file argument: each logger writes to the sys.stdout of the moment.
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)


def configure_library_logging() -> None:
    """Libraries that use stdlib logging (uvicorn, aio-pika): WARNING and above to stderr."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("uvicorn.error").addFilter(_DropAppTracebacks())


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
