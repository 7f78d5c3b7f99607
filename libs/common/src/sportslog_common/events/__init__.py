"""The event contract: the envelope and one model per `type` (DESIGN.md §5)."""

from __future__ import annotations

from sportslog_common.events.activities import ActivityCreated, ActivityDeleted, ActivityUpdated
from sportslog_common.events.auth import (
    Sealed,
    UserDeleted,
    UserEmailVerified,
    UserOtpLocked,
    UserOtpRequested,
    UserPasswordChanged,
    UserPasswordResetRequested,
    UserPhoneVerificationRequested,
    UserRegistered,
    UserRegistrationAttempted,
    UserSessionRevoked,
    UserTokensRevoked,
    UserVerificationRequested,
)
from sportslog_common.events.envelope import Envelope, EventData

EVENT_MODELS: dict[str, type[EventData]] = {
    model.TYPE: model
    for model in (
        UserRegistered,
        UserVerificationRequested,
        UserRegistrationAttempted,
        UserEmailVerified,
        UserPasswordResetRequested,
        UserPasswordChanged,
        UserOtpLocked,
        UserOtpRequested,
        UserPhoneVerificationRequested,
        UserTokensRevoked,
        UserSessionRevoked,
        UserDeleted,
        ActivityCreated,
        ActivityUpdated,
        ActivityDeleted,
    )
}


def parse_data(envelope: Envelope) -> EventData:
    """Validate `data` against its type's model; KeyError for an unknown type."""
    return EVENT_MODELS[envelope.type].model_validate(envelope.data)


__all__ = [
    "EVENT_MODELS",
    "ActivityCreated",
    "ActivityDeleted",
    "ActivityUpdated",
    "Envelope",
    "EventData",
    "Sealed",
    "UserDeleted",
    "UserEmailVerified",
    "UserOtpLocked",
    "UserOtpRequested",
    "UserPasswordChanged",
    "UserPasswordResetRequested",
    "UserPhoneVerificationRequested",
    "UserRegistered",
    "UserRegistrationAttempted",
    "UserSessionRevoked",
    "UserTokensRevoked",
    "UserVerificationRequested",
    "parse_data",
]
