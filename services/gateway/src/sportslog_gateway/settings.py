from __future__ import annotations

from limits import parse
from pydantic import Field, field_validator

from sportslog_common.settings import InternalApiSettings
from sportslog_gateway.clients import parse_trusted


class GatewaySettings(InternalApiSettings):
    port: int = 8000
    auth_url: str = Field(min_length=1)
    activities_url: str = Field(min_length=1)
    jwks_url: str = Field(min_length=1)
    jwt_issuer: str = Field(min_length=1)
    jwt_audience: str = "sportslog"
    cors_origins: str = ""  # comma-separated origins allowed to call from a browser
    trusted_proxies: str = ""  # comma-separated IPs/CIDRs whose X-Forwarded-For we believe
    rate_limit_storage: str = "memory://"
    rate_limit_default: str = "1200/minute"
    rate_limit_auth: str = "60/minute"
    hsts_max_age: int = Field(default=0, ge=0)  # seconds; 0 = no HSTS (set it behind HTTPS)
    upstream_timeout_seconds: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_import_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)

    @field_validator("rate_limit_default", "rate_limit_auth")
    @classmethod
    def _limit(cls, value: str) -> str:
        parse(value)  # ValueError names the variable at start-up
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_trusted(value)
        return value

    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]
