"""Events produced by the auth service. Fields named `*_token` / `code` are sealed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints

from sportslog_common.events.envelope import EventData

Sealed = Annotated[str, StringConstraints(pattern=r"^v1\.[A-Za-z0-9_-]{40,}$")]
"""A value sealed with `sportslog_common.sealing.Sealer`: a raw token fails validation, so
it can never reach the outbox or the broker by mistake."""


class UserRegistered(EventData):
    TYPE = "user.registered"
    user_id: uuid.UUID
    email: str
    verify_token: Sealed
    expires_at: datetime


class UserVerificationRequested(EventData):
    TYPE = "user.verification_requested"
    user_id: uuid.UUID
    email: str
    verify_token: Sealed
    expires_at: datetime
    # Set when the address already had a pending registration: the mail says that someone
    # registered again, and when, so an owner who did not knows to ignore it.
    repeat_registration_at: datetime | None = None
    # False for a link that proves the address without setting any password (a resend
    # while several registrations are pending: none of their passwords can be trusted).
    sets_password: bool = True


class UserRegistrationAttempted(EventData):
    TYPE = "user.registration_attempted"
    user_id: uuid.UUID
    email: str


class UserEmailVerified(EventData):
    TYPE = "user.email_verified"
    user_id: uuid.UUID


class UserPasswordResetRequested(EventData):
    TYPE = "user.password_reset_requested"
    user_id: uuid.UUID
    email: str
    reset_token: Sealed
    expires_at: datetime


class UserPasswordChanged(EventData):
    TYPE = "user.password_changed"
    user_id: uuid.UUID
    email: str
    token_version: int


class UserOtpRequested(EventData):
    TYPE = "user.otp_requested"
    user_id: uuid.UUID
    channel: Literal["email", "sms"]
    destination: str
    code: Sealed
    expires_at: datetime


class UserPhoneVerificationRequested(EventData):
    TYPE = "user.phone_verification_requested"
    user_id: uuid.UUID
    phone_number: str
    code: Sealed
    expires_at: datetime


class UserOtpLocked(EventData):
    """Too many wrong sign-in codes in 24 h: code sign-in is off until `until`."""

    TYPE = "user.otp_locked"
    user_id: uuid.UUID
    email: str
    failures: int
    until: datetime


class UserTokensRevoked(EventData):
    TYPE = "user.tokens_revoked"
    user_id: uuid.UUID
    token_version: int


class UserSessionRevoked(EventData):
    TYPE = "user.session_revoked"
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime


class UserDeleted(EventData):
    TYPE = "user.deleted"
    user_id: uuid.UUID
    email: str
