"""RFC 7396 JSON Merge Patch: null deletes a key, objects merge recursively, anything else
replaces."""

from __future__ import annotations

import json
import math
from typing import Any

from sportslog_common.errors import InvalidJson, ValidationFailed
from sportslog_common.jsonb import NotStorable, jsonb_bytes

MAX_DEPTH = 16


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def depth(value: Any) -> int:
    """Nesting depth, computed without recursion (the input is untrusted)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, level = stack.pop()
        if isinstance(current, dict | list):
            deepest = max(deepest, level)
            children = current.values() if isinstance(current, dict) else current
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_patch(raw: bytes, what: str = "Patch") -> dict[str, Any]:
    """A request body that must be a JSON object (a merge patch), bounded in depth.
    Read by hand so that both application/json and application/merge-patch+json work."""
    try:
        patch = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NonFinite:
        raise invalid(f"{what} must not contain NaN or Infinity") from None
    except RecursionError:
        raise invalid(f"{what} is nested too deeply") from None
    except ValueError:  # malformed JSON or not UTF-8
        raise InvalidJson() from None
    if not isinstance(patch, dict):
        raise invalid(f"{what} must be a JSON object (an RFC 7396 merge patch)")
    if depth(patch) > MAX_DEPTH:
        raise invalid(f"{what} is nested deeper than {MAX_DEPTH} levels")
    try:
        jsonb_bytes(patch)
    except NotStorable as exc:
        raise invalid(f"{what} {exc}") from None
    return patch


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(name)


def _finite_float(text: str) -> float:
    # "1e999" is no NaN/Infinity literal, yet parses to inf.
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def invalid(message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": "body", "message": message}])


MERGE_PATCH_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"type": "object", "additionalProperties": True}}
            for media in ("application/json", "application/merge-patch+json")
        },
    }
}
