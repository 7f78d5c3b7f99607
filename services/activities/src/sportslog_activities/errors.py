from __future__ import annotations

from sportslog_common.errors import AppError, NotFound


class ActivityNotFound(NotFound):
    message = "Activity not found"


class InvalidCursor(AppError):
    status, code, message = 422, "validation_error", "Invalid cursor"

    @classmethod
    def for_query(cls) -> InvalidCursor:
        return cls(details=[{"field": "query.cursor", "message": "Invalid or foreign cursor"}])


class DuplicateActivity(AppError):
    status, code, message = 409, "duplicate_activity", "This activity was already recorded"


class PreconditionFailed(AppError):
    status, code, message = 412, "precondition_failed", "The activity changed since you read it"


class IdempotencyKeyReused(AppError):
    status, code, message = (
        422,
        "idempotency_key_reused",
        "This Idempotency-Key was used with a different request body",
    )


class NoTrack(NotFound):
    message = "This activity has no GPS track"
