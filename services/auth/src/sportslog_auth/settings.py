from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from sportslog_common.settings import (
    Aes256Key,
    DatabaseSettings,
    InternalApiSettings,
    StrongSecret,
)

# Built-in providers; any other OIDC provider comes from OIDC_<NAME>_* variables.
BUILT_IN_PROVIDERS = ("google", "facebook", "discord")
_OIDC_VARIABLE = re.compile(r"^OIDC_([A-Z0-9_]+?)_(ISSUER|CLIENT_ID|CLIENT_SECRET)$")
# Letters and digits only: authlib keys a flow by "<name>_<state>", so an underscore could
# let one provider's callback read another's flow.
_PROVIDER_NAME = re.compile(r"^[a-z0-9]{1,32}$")


class OidcProvider(BaseModel):
    """A self-hoster's OpenID Connect provider (Keycloak, Authentik, ...)."""

    issuer: str = Field(pattern=r"^https?://")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr

    @field_validator("issuer")
    @classmethod
    def _https(cls, issuer: str) -> str:
        # Its discovery document names the keys ID tokens are checked with: over plain
        # HTTP anyone on the path could swap them. Loopback is for tests and dev.
        host = urlsplit(issuer).hostname or ""
        if not issuer.startswith("https://") and host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("must be an https:// URL")
        return issuer


def oidc_providers_from_environ(environ: dict[str, str]) -> dict[str, dict[str, str]]:
    """`OIDC_<NAME>_ISSUER/CLIENT_ID/CLIENT_SECRET` grouped by lowercased name."""
    found: dict[str, dict[str, str]] = {}
    for variable, value in environ.items():
        match = _OIDC_VARIABLE.match(variable.upper())
        if match:
            found.setdefault(match[1].lower(), {})[match[2].lower()] = value
    return found


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class AuthSettings(DatabaseSettings, InternalApiSettings):
    port: int = 8001
    jwt_private_key_file: Path
    # Comma-separated PEM files of retired keys, still served in the JWKS during a rotation.
    jwt_previous_public_key_files: str = ""
    jwt_issuer: str = Field(min_length=1)
    jwt_audience: str = "sportslog"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=900)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    # A rotated refresh token presented again this soon by the client that rotated it (two
    # tabs refreshing at once) gets a sibling instead of revoking the session; 0 = never.
    refresh_reuse_grace_seconds: int = Field(default=5, ge=0, le=60)
    verify_token_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    reset_token_ttl_seconds: int = Field(default=3600, ge=60)
    app_base_url: str = Field(default="http://localhost:8000", pattern=r"^https?://[^/]+")
    token_hmac_secret: StrongSecret
    event_seal_key: Aes256Key
    oauth_token_encryption_key: Aes256Key | None = None
    login_max_failures_per_account: int = Field(default=10, ge=1)
    login_max_failures_per_ip: int = Field(default=100, ge=1)
    # Wrong sign-in codes an account may get in a rolling 24 h; the next one locks code
    # sign-in (password and reset link still work) and mails the owner (DESIGN.md §9).
    otp_max_failures_per_day: int = Field(default=20, ge=1)
    # SMS the whole deployment may send in a rolling 24 h; past it, OTP by SMS answers 503
    # `sms_unavailable` (use email) and phone verification waits (DESIGN.md §9).
    sms_daily_budget: int = Field(default=10_000, ge=0)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19456, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)
    # Threads hashing passwords; 0 = the cores this process may use (cgroup CPU limit included).
    password_hash_threads: int = Field(default=0, ge=0, le=64)
    # Hashes that may wait for a thread; one more is 503 `busy` with Retry-After. 64 waits
    # ~0.6 s on 2 cores (55 verifies/s a core) and admits bursts of 64 sign-ins at once.
    password_hash_queue: int = Field(default=64, ge=0, le=10_000)
    # Added to the hashing threads' nice value (Linux, per thread): the event loop and the
    # database win the CPU during a login storm, so other requests stay fast. 0 = unchanged.
    password_hash_nice: int = Field(default=10, ge=0, le=19)
    # Days the prune keeps rows that can no longer be used. A session has ended at its
    # revocation or expiry; it stays for investigations, its refresh tokens (one per
    # rotation) less long, and never longer than it (they go with it). One-time codes count
    # from their expiry, and stay a day at least, for limits counted over 24 hours.
    refresh_token_retention_days: int = Field(default=7, ge=1)
    session_retention_days: int = Field(default=30, ge=1)
    otp_challenge_retention_days: int = Field(default=7, ge=1)
    # An expired registration or reset link is renewed by a resend this long, then deleted.
    pending_registration_retention_days: int = Field(default=7, ge=1)

    # Sign-in with a provider: each one is enabled when its client id is set.
    google_client_id: str = ""
    google_client_secret: SecretStr = SecretStr("")
    google_server_metadata_url: str = "https://accounts.google.com/.well-known/openid-configuration"
    facebook_client_id: str = ""
    facebook_client_secret: SecretStr = SecretStr("")
    facebook_authorize_url: str = "https://www.facebook.com/v23.0/dialog/oauth"
    facebook_token_url: str = "https://graph.facebook.com/v23.0/oauth/access_token"
    facebook_userinfo_url: str = "https://graph.facebook.com/v23.0/me"
    discord_client_id: str = ""
    discord_client_secret: SecretStr = SecretStr("")
    discord_authorize_url: str = "https://discord.com/oauth2/authorize"
    discord_token_url: str = "https://discord.com/api/oauth2/token"
    discord_userinfo_url: str = "https://discord.com/api/users/@me"
    # Read from OIDC_<NAME>_ISSUER/CLIENT_ID/CLIENT_SECRET (see the validator below).
    oidc_providers: dict[str, OidcProvider] = {}
    # Comma-separated origins a flow may return to with ?redirect_to=, besides APP_BASE_URL's.
    oauth_redirect_origins: str = ""
    oauth_provider_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @model_validator(mode="before")
    @classmethod
    def _read_oidc_variables(cls, data: Any) -> Any:
        if isinstance(data, dict) and "oidc_providers" not in data:
            found = oidc_providers_from_environ(dict(os.environ))
            for name, parts in found.items():
                for part in ("issuer", "client_id", "client_secret"):
                    if not parts.get(part):
                        raise ValueError(f"OIDC_{name.upper()}_{part.upper()} is missing or empty")
            data = {**data, "oidc_providers": found}
        return data

    @model_validator(mode="after")
    def _check_retention(self) -> AuthSettings:
        if self.refresh_token_retention_days > self.session_retention_days:
            raise ValueError(
                "REFRESH_TOKEN_RETENTION_DAYS cannot exceed SESSION_RETENTION_DAYS:"
                " a session's refresh tokens are deleted with it"
            )
        return self

    @model_validator(mode="after")
    def _check_oauth(self) -> AuthSettings:
        for name in self.oidc_providers:
            if name in BUILT_IN_PROVIDERS or not _PROVIDER_NAME.match(name):
                raise ValueError(
                    f"OIDC_{name.upper()}_*: the name must be 1-32 letters and digits"
                    f" and not one of {', '.join(BUILT_IN_PROVIDERS)}"
                )
        for name in BUILT_IN_PROVIDERS:
            client_id, secret = (
                getattr(self, f"{name}_client_id"),
                getattr(self, f"{name}_client_secret"),
            )
            if client_id and not secret.get_secret_value():
                raise ValueError(
                    f"{name.upper()}_CLIENT_SECRET is required with {name.upper()}_CLIENT_ID"
                )
        if self.oauth_enabled() and self.oauth_token_encryption_key is None:
            raise ValueError(
                "OAUTH_TOKEN_ENCRYPTION_KEY is required when a sign-in provider is set"
            )
        for origin in self.redirect_origins():
            if not re.match(r"^https?://[^/]+$", origin):
                raise ValueError(f"OAUTH_REDIRECT_ORIGINS: {origin!r} is not an origin")
        return self

    def oauth_enabled(self) -> bool:
        return bool(self.oidc_providers) or any(
            getattr(self, f"{name}_client_id") for name in BUILT_IN_PROVIDERS
        )

    def redirect_origins(self) -> frozenset[str]:
        """Where a flow begun with ?redirect_to= may send the browser back to."""
        listed = {o.strip().rstrip("/").lower() for o in self.oauth_redirect_origins.split(",")}
        return frozenset({origin_of(self.app_base_url), *(o for o in listed if o)})

    def previous_public_key_files(self) -> list[Path]:
        return [Path(p.strip()) for p in self.jwt_previous_public_key_files.split(",") if p.strip()]
