"""Auth's own error codes (DESIGN.md §4); rendered by libs/common's one handler."""

from sportslog_common.errors import AppError, NotFound


class InvalidCredentials(AppError):
    status, code, message = 401, "invalid_credentials", "Invalid email or password"


class EmailNotVerified(AppError):
    status, code, message = 403, "email_not_verified", "Email address is not verified"


class InvalidOrExpiredToken(AppError):
    status, code, message = 400, "invalid_or_expired_token", "Token is invalid or has expired"


class SessionNotFound(NotFound):
    message = "Session not found"


class UserNotFound(NotFound):
    message = "User not found"


class ReauthenticationRequired(AppError):
    status, code, message = 403, "reauthentication_required", "Confirm with a one-time code"


class InvalidCode(AppError):
    status, code, message = 400, "invalid_code", "The code is wrong, expired or used up"


class NoPhoneNumber(AppError):
    status, code, message = 409, "no_phone_number", "Add a phone number to your profile first"


class SmsUnavailable(AppError):
    """The deployment's SMS_DAILY_BUDGET is spent: `Retry-After` says when a send frees up."""

    status, code, message = (
        503,
        "sms_unavailable",
        "SMS cannot be sent right now; use email instead or try again later",
    )
    sends_retry_after = True

    def __init__(self, retry_after: int, *, fallback: str | None = None) -> None:
        super().__init__(
            details={"fallback": fallback} if fallback else None,
            headers={"Retry-After": str(max(1, retry_after))},
        )


class OAuthStateInvalid(AppError):
    status, code, message = (
        400,
        "oauth_state_invalid",
        "This sign-in is missing its state, was begun elsewhere, has expired or was already"
        " completed; start again",
    )


class OAuthProviderError(AppError):
    status, code, message = 400, "oauth_provider_error", "The provider did not sign you in"


class OAuthProviderUnavailable(AppError):
    status, code, message = 502, "oauth_provider_unavailable", "The provider could not be reached"


class ProviderNotFound(NotFound):
    message = "No such sign-in provider"


class ConnectionNotFound(NotFound):
    message = "This provider is not linked to your account"


class LastSignInMethod(AppError):
    status, code, message = (
        409,
        "last_sign_in_method",
        "This is your only way to sign in: set a password or link another provider first",
    )
