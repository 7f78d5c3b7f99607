from sportslog_common.errors import AppError, NotFound


class ActivityNotFound(NotFound):
    message = "Activity not found"


class InvalidCursor(AppError):
    status, code, message = 422, "validation_error", "Invalid cursor"
