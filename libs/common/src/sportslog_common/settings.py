"""Settings read from the environment; a service refuses to start on a missing or weak value."""

from __future__ import annotations

import base64
import binascii
import sys
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sportslog_common.internal_auth import InternalAuth

MIN_SECRET_BYTES = 32


def _strong_secret(value: SecretStr) -> SecretStr:
    if len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"must be at least {MIN_SECRET_BYTES} bytes")
    return value


def _aes256_key(value: SecretStr) -> SecretStr:
    try:
        raw = base64.b64decode(value.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be standard base64 of 32 random bytes") from None
    if len(raw) != 32:
        raise ValueError(f"must decode to 32 bytes, got {len(raw)}")
    return value


StrongSecret = Annotated[SecretStr, AfterValidator(_strong_secret)]
"""A secret string of at least 32 bytes (e.g. `TOKEN_HMAC_SECRET`)."""

Aes256Key = Annotated[SecretStr, AfterValidator(_aes256_key)]
"""Standard base64 of 32 bytes (e.g. `EVENT_SEAL_KEY`)."""


class CommonSettings(BaseSettings):
    """What every service reads. Field names are the variable names, case-insensitive."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    port: int = Field(default=8000, ge=1, le=65535)
    host: str = "127.0.0.1"
    # Names of the broker objects; tests give each run its own.
    events_exchange: str = "sportslog.events"
    dead_letter_exchange: str = "sportslog.dead"


class InternalApiSettings(CommonSettings):
    """The key that signs calls between our services (sportslog_common.internal_auth)."""

    internal_api_key: StrongSecret
    # Comma-separated keys still accepted during a rotation (each at least 32 bytes).
    internal_api_previous_keys: SecretStr = SecretStr("")

    @field_validator("internal_api_previous_keys")
    @classmethod
    def _previous_keys(cls, value: SecretStr) -> SecretStr:
        for key in _split(value.get_secret_value()):
            _strong_secret(SecretStr(key))
        return value

    def internal_auth(self) -> InternalAuth:
        previous = _split(self.internal_api_previous_keys.get_secret_value())
        return InternalAuth(self.internal_api_key.get_secret_value(), previous)


def _split(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip()]


class DatabaseSettings(CommonSettings):
    database_url: str = Field(min_length=1)
    db_pool_min_size: int = Field(default=2, ge=1)
    db_pool_max_size: int = Field(default=10, ge=1)
    # Seconds between two passes of the prune that deletes rows past their retention
    # (sportslog_common.pruning; each service's *_RETENTION_* settings say how long).
    prune_interval_seconds: float = Field(default=600.0, gt=0)
    # Rows one DELETE of that prune removes at most: small, so its locks are short.
    prune_batch_size: int = Field(default=1000, ge=1, le=10_000)


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S]) -> S:
    """Build settings from the environment or exit naming every bad variable."""
    try:
        return cls()
    except ValidationError as exc:
        lines = [f"{cls.__name__}: cannot start, fix these environment variables:"]
        for err in exc.errors():
            name = "_".join(str(p) for p in err["loc"]).upper() or "?"
            lines.append(f"  {name}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
