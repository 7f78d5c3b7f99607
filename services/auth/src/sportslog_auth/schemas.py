"""Request and response bodies of the auth API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from sportslog_auth.phones import to_e164


def _lower(value: str) -> str:
    return value.lower()


Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(_lower)]
Password = Annotated[str, Field(min_length=8, max_length=128)]
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(Body):
    email: Email
    password: Password


class LoginRequest(Body):
    email: Email
    # Not limited to 8 chars here: a short wrong password must still be a 401, not a 422.
    password: str = Field(min_length=1, max_length=128)


class EmailRequest(Body):
    email: Email


class ResetPasswordRequest(Body):
    token: str = Field(min_length=1, max_length=256)
    new_password: Password


class ChangePasswordRequest(Body):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: Password


class TokenRequest(Body):
    token: str = Field(min_length=1, max_length=256)


class MessageResponse(BaseModel):
    message: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=1, max_length=256)


class SessionOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool


class SessionsResponse(BaseModel):
    items: list[SessionOut]


class TokenState(BaseModel):
    """For the gateway's revocation cache (internal, never routed to clients)."""

    token_version: int
    revoked_sessions: list[uuid.UUID]


def _e164(value: str | None) -> str | None:
    return None if value is None else to_e164(value)


def _display_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or any(ord(ch) < 32 for ch in value):
        raise ValueError("must be 1 to 100 printable characters")
    return value


class ProfileUpdate(Body):
    """Only the fields sent change; `null` clears a display name or phone number."""

    display_name: Annotated[str | None, Field(max_length=100), AfterValidator(_display_name)] = None
    preferred_units: Literal["metric", "imperial"] = "metric"
    phone_number: Annotated[str | None, Field(max_length=32), AfterValidator(_e164)] = None


class ProfileOut(BaseModel):
    display_name: str | None
    preferred_units: Literal["metric", "imperial"]
    phone_number: str | None
    phone_verified: bool
    preferences: dict[str, Any]


class MeResponse(BaseModel):
    id: uuid.UUID
    email: str
    email_verified: bool
    created_at: datetime
    auth_methods: list[str]
    profile: ProfileOut


Code = Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class DeleteAccountRequest(Body):
    """An account with a password confirms with it; a password-less one with a fresh code."""

    password: str | None = Field(default=None, min_length=1, max_length=128)
    code: Code | None = None


class OtpRequest(Body):
    channel: Literal["email", "sms"]  # declared first: the identifier's check reads it
    identifier: str = Field(min_length=3, max_length=254)

    @field_validator("identifier")
    @classmethod
    def _normalise(cls, value: str, info: ValidationInfo) -> str:
        return normalise_identifier(value, info.data.get("channel", "email"))


class OtpVerify(Body):
    identifier: str = Field(min_length=3, max_length=254)
    code: Code

    @field_validator("identifier")
    @classmethod
    def _normalise(cls, value: str) -> str:
        return normalise_identifier(value, "email" if "@" in value else "sms")


class PhoneCode(Body):
    code: Code


def provider_email(value: str | None) -> str | None:
    """A provider's email, lowercased, or None when it is not a usable address."""
    try:
        return None if value is None else _EMAIL.validate_python(value)
    except ValidationError:
        return None


def provider_display_name(value: str | None) -> str | None:
    """A provider's name, trimmed to what PUT /me/profile accepts, or None."""
    cleaned = "".join(ch for ch in value or "" if ord(ch) >= 32).strip()[:100]
    return cleaned or None


# RFC 7636 §4.1: 43 to 128 characters of [A-Za-z0-9-._~]; its S256 challenge is 43.
CodeVerifier = Annotated[str, Field(min_length=43, max_length=128, pattern=r"^[A-Za-z0-9._~-]+$")]
CodeChallenge = Annotated[str, Field(min_length=43, max_length=43, pattern=r"^[A-Za-z0-9_-]+$")]


class OAuthExchangeRequest(Body):
    code: str = Field(min_length=1, max_length=256)
    code_verifier: CodeVerifier


def normalise_identifier(identifier: str, channel: str) -> str:
    """An email (lowercased, validated) for `email`, an E.164 number for `sms`."""
    if channel == "email":
        try:
            return _EMAIL.validate_python(identifier)
        except ValidationError:
            raise ValueError("identifier must be an email address for channel email") from None
    return to_e164(identifier)
