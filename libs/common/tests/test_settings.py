import base64
import os

import pytest

from sportslog_common.settings import Aes256Key, DatabaseSettings, StrongSecret, load_settings


class SecretSettings(DatabaseSettings):
    token_hmac_secret: StrongSecret
    event_seal_key: Aes256Key


@pytest.fixture
def env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("DATABASE_", "TOKEN_", "EVENT_")):
            monkeypatch.delenv(name)
    return monkeypatch


def good_env(env):
    env.setenv("DATABASE_URL", "postgresql://x@127.0.0.1/db")
    env.setenv("TOKEN_HMAC_SECRET", "s" * 32)
    env.setenv("EVENT_SEAL_KEY", base64.b64encode(b"k" * 32).decode())


def test_loads_when_everything_is_set(env):
    good_env(env)
    settings = load_settings(SecretSettings)
    assert settings.database_url.endswith("/db")
    assert settings.token_hmac_secret.get_secret_value() == "s" * 32
    assert "s" * 32 not in repr(settings)


def test_missing_variable_is_named(env, capsys):
    good_env(env)
    env.delenv("DATABASE_URL")
    with pytest.raises(SystemExit) as exc:
        load_settings(SecretSettings)
    assert exc.value.code == 2
    assert "DATABASE_URL" in capsys.readouterr().err


def test_weak_secret_is_refused_by_name(env, capsys):
    good_env(env)
    env.setenv("TOKEN_HMAC_SECRET", "short")
    with pytest.raises(SystemExit):
        load_settings(SecretSettings)
    err = capsys.readouterr().err
    assert "TOKEN_HMAC_SECRET" in err
    assert "32 bytes" in err
    assert "short" not in err.replace("TOKEN_HMAC_SECRET", "")


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"k" * 16).decode()])
def test_seal_key_must_be_32_bytes_of_base64(env, capsys, value):
    good_env(env)
    env.setenv("EVENT_SEAL_KEY", value)
    with pytest.raises(SystemExit):
        load_settings(SecretSettings)
    assert "EVENT_SEAL_KEY" in capsys.readouterr().err
