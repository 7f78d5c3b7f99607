from __future__ import annotations

from pathlib import Path

from pydantic import Field

from sportslog_common.settings import Aes256Key, DatabaseSettings, StrongSecret


class AuthSettings(DatabaseSettings):
    port: int = 8001
    jwt_private_key_file: Path
    # Comma-separated PEM files of retired keys, still served in the JWKS during a rotation.
    jwt_previous_public_key_files: str = ""
    jwt_issuer: str = Field(min_length=1)
    jwt_audience: str = "sportslog"
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=900)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    verify_token_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    reset_token_ttl_seconds: int = Field(default=3600, ge=60)
    app_base_url: str = "http://localhost:8000"
    token_hmac_secret: StrongSecret
    event_seal_key: Aes256Key
    oauth_token_encryption_key: Aes256Key | None = None
    login_max_failures_per_account: int = Field(default=10, ge=1)
    login_max_failures_per_ip: int = Field(default=100, ge=1)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19456, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)

    def previous_public_key_files(self) -> list[Path]:
        return [Path(p.strip()) for p in self.jwt_previous_public_key_files.split(",") if p.strip()]
