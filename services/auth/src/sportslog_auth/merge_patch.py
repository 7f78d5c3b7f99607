"""RFC 7396 JSON Merge Patch: null deletes a key, objects merge recursively, anything else
replaces."""

from __future__ import annotations

from typing import Any

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
