from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from sportslog_common.settings import Aes256Key, DatabaseSettings


class NotifierSettings(DatabaseSettings):
    port: int = 8003
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_pass: SecretStr | None = None
    smtp_from: str = "sports-log <no-reply@localhost>"
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout_seconds: float = 10.0
    event_seal_key: Aes256Key
    app_base_url: str = "http://localhost:8000"
    product_name: str = "sports-log"
    prefetch: int = Field(default=20, ge=1)
