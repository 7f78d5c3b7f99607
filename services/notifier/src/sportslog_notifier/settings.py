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
    # A private CA (PEM) to trust for the SMTP server's certificate; the system store if unset.
    smtp_ca_file: str | None = None
    smtp_timeout_seconds: float = 10.0
    # SMS: the Twilio Messages API when an account is configured, else a file (dev).
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_timeout_seconds: float = 10.0
    sms_log_file: str = "var/sms.log"
    event_seal_key: Aes256Key
    app_base_url: str = "http://localhost:8000"
    product_name: str = "sports-log"
    prefetch: int = Field(default=20, ge=1)
    # Seconds before the first retry of a transient failure; doubles on each one.
    retry_backoff_base: float = Field(default=2.0, gt=0)
    # How long a send may hold its delivery before a redelivered copy may send it again
    # (after a crash); keep it under the retry window (2+4+8+16 s with the default base).
    delivery_lease_seconds: float = Field(default=25.0, gt=0)
    # Days a delivery stays in the log after its last change. The log is also what keeps a
    # copy of an event delivered again from being sent twice, and queues keep messages with
    # no time limit: keep this well beyond the longest notifier outage, or the age of a dead
    # letter you might move back.
    delivery_retention_days: int = Field(default=30, ge=1)

    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from_number)
