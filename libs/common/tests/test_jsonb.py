"""What jsonb refuses is refused before the database sees it, with a reason."""

import math

import pytest

from sportslog_common.jsonb import NotStorable, jsonb_bytes


def test_compact_utf8():
    assert jsonb_bytes({"a": [1, 2.5], "é": "ü"}) == '{"a":[1,2.5],"é":"ü"}'.encode()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"x": math.nan}, "must not contain NaN or Infinity"),
        ([math.inf], "must not contain NaN or Infinity"),
        ({"x": "a\x00b"}, "must not contain NUL characters"),
        ({"a\x00": 1}, "must not contain NUL characters"),
        ({"x": "\ud800"}, "must be valid Unicode (no lone surrogates)"),
    ],
)
def test_what_jsonb_refuses(value, reason):
    with pytest.raises(NotStorable, match=reason.replace("(", r"\(").replace(")", r"\)")):
        jsonb_bytes(value)
