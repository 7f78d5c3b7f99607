"""Phone numbers in, E.164 out (the only form we store and send SMS to)."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str) -> str:
    """`+44 20 7946 0958` -> `+442079460958`; ValueError for anything not a valid number."""
    try:
        number = phonenumbers.parse(raw, None)  # no default region: the + prefix is required
    except phonenumbers.NumberParseException:
        raise ValueError(
            "must be a phone number in international form, e.g. +442079460958"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
