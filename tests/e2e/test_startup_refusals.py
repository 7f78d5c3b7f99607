"""A service refuses to start, naming the variable, when a required one is missing or weak."""

import base64
import os
import subprocess
import sys

import pytest

SEAL = base64.b64encode(os.urandom(32)).decode()
AUTH_ENV = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
    "JWT_ISSUER": "http://x",
    "TOKEN_HMAC_SECRET": "s" * 32,
    "EVENT_SEAL_KEY": SEAL,
    "INTERNAL_API_KEY": "i" * 32,
}


def run(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("module", "env", "variable"),
    [
        (
            "sportslog_auth",
            {**AUTH_ENV, "JWT_PRIVATE_KEY_FILE": "/k"} | {"TOKEN_HMAC_SECRET": "short"},
            "TOKEN_HMAC_SECRET",
        ),
        (
            "sportslog_auth",
            {k: v for k, v in AUTH_ENV.items() if k != "DATABASE_URL"}
            | {"JWT_PRIVATE_KEY_FILE": "/k"},
            "DATABASE_URL",
        ),
        ("sportslog_auth", AUTH_ENV, "JWT_PRIVATE_KEY_FILE"),
        (
            "sportslog_auth",
            {**AUTH_ENV, "JWT_PRIVATE_KEY_FILE": "/nonexistent.pem"},
            "JWT_PRIVATE_KEY_FILE",
        ),
        (
            "sportslog_notifier",
            {"DATABASE_URL": "postgresql://x/y", "EVENT_SEAL_KEY": "c2hvcnQ="},
            "EVENT_SEAL_KEY",
        ),
        (
            "sportslog_activities",
            {"DATABASE_URL": "postgresql://x/y", "JWT_ISSUER": "http://x"},
            "JWKS_URL",
        ),
        (
            "sportslog_gateway",
            {"JWKS_URL": "http://x", "JWT_ISSUER": "http://x", "ACTIVITIES_URL": "http://x"}
            | {"INTERNAL_API_KEY": "i" * 32},
            "AUTH_URL",
        ),
        (
            "sportslog_gateway",
            {"JWKS_URL": "http://x", "JWT_ISSUER": "http://x", "ACTIVITIES_URL": "http://x"}
            | {"AUTH_URL": "http://x", "INTERNAL_API_KEY": "short"},
            "INTERNAL_API_KEY",
        ),
    ],
)
def test_service_names_the_bad_variable(module, env, variable):
    result = run(module, env)
    assert result.returncode == 2, result.stderr
    assert variable in result.stderr
    assert "s" * 32 not in result.stderr
    assert SEAL not in result.stderr
