"""What PostgreSQL's jsonb can store: checked before a value reaches the database, so a
client hears which rule its JSON broke (422) instead of a 500 from the insert."""

from __future__ import annotations

import json
from typing import Any


class NotStorable(ValueError):
    """Its message completes a sentence about the value: "... must not contain NUL"."""


def jsonb_bytes(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON, or NotStorable: jsonb refuses NaN and Infinity
    (which Python's JSON accepts), NUL characters and lone surrogates."""
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise NotStorable("must not contain NaN or Infinity") from None
    if "\\u0000" in text:
        raise NotStorable("must not contain NUL characters")
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate ("\ud800")
        raise NotStorable("must be valid Unicode (no lone surrogates)") from None
