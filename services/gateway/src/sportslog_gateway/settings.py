from __future__ import annotations

from pydantic import Field

from sportslog_common.settings import CommonSettings


class GatewaySettings(CommonSettings):
    port: int = 8000
    auth_url: str = Field(min_length=1)
    activities_url: str = Field(min_length=1)
    jwks_url: str = Field(min_length=1)
    jwt_issuer: str = Field(min_length=1)
    jwt_audience: str = "sportslog"
    cors_origins: str = ""
    upstream_timeout_seconds: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_import_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
