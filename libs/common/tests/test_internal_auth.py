import time

import pytest
from pydantic import ValidationError

from sportslog_common.internal_auth import HEADER, MAX_SKEW_SECONDS, InternalAuth
from sportslog_common.settings import InternalApiSettings

KEY, OLD = "k" * 32, "o" * 32
PATH = "/internal/users/1/token-state"


def test_a_signed_call_verifies_for_its_method_and_path_only():
    signer = InternalAuth(KEY)
    value = signer.headers("GET", PATH)[HEADER]
    assert signer.verify(value, "GET", PATH)
    assert not signer.verify(value, "POST", PATH)
    assert not signer.verify(value, "GET", PATH + "x")
    assert not InternalAuth("x" * 32).verify(value, "GET", PATH)


@pytest.mark.parametrize(
    "value", [None, "", "v1", "v1..", "v2.1.x", "v1.abc.x", "v1.1.", "v1.99999999999999.x"]
)
def test_malformed_values_are_refused(value):
    assert not InternalAuth(KEY).verify(value, "GET", PATH)


def test_a_signature_outside_the_clock_skew_is_refused():
    signer = InternalAuth(KEY)
    now = time.time()
    old = signer.headers("GET", PATH, now=now - MAX_SKEW_SECONDS - 5)[HEADER]
    future = signer.headers("GET", PATH, now=now + MAX_SKEW_SECONDS + 5)[HEADER]
    assert not signer.verify(old, "GET", PATH, now=now)
    assert not signer.verify(future, "GET", PATH, now=now)
    assert signer.verify(old, "GET", PATH, now=now - MAX_SKEW_SECONDS)


def test_a_rotation_accepts_the_previous_key_and_signs_with_the_new():
    callee = InternalAuth("n" * 32, previous=[KEY])
    assert callee.verify(InternalAuth(KEY).headers("GET", PATH)[HEADER], "GET", PATH)
    signed = callee.headers("GET", PATH)[HEADER]
    assert InternalAuth("n" * 32).verify(signed, "GET", PATH)
    assert not InternalAuth(KEY).verify(signed, "GET", PATH)


def test_settings_refuse_weak_keys():
    with pytest.raises(ValidationError, match="internal_api_key"):
        InternalApiSettings(internal_api_key="short")
    with pytest.raises(ValidationError, match="internal_api_previous_keys"):
        InternalApiSettings(internal_api_key=KEY, internal_api_previous_keys=f"{OLD},short")
    settings = InternalApiSettings(internal_api_key=KEY, internal_api_previous_keys=f"{OLD}, ")
    value = InternalAuth(OLD).headers("GET", PATH)[HEADER]
    assert settings.internal_auth().verify(value, "GET", PATH)
