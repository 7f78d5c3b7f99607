from sportslog_common.errors import AppError, NotFound


class ActivityNotFound(NotFound):
    message = "Activity not found"


class InvalidCursor(AppError):
    status, code, message = 422, "validation_error", "Invalid cursor"


class DuplicateActivity(AppError):
    status, code, message = 409, "duplicate_activity", "This activity was already recorded"
