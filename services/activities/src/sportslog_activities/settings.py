from __future__ import annotations

from pydantic import Field

from sportslog_common.settings import DatabaseSettings, StrongSecret


class ActivitiesSettings(DatabaseSettings):
    port: int = 8002
    jwks_url: str = Field(min_length=1)
    jwt_issuer: str = Field(min_length=1)
    jwt_audience: str = "sportslog"
    # Signs the listing cursors (tamper-evident, bound to the user); any string >= 32 bytes.
    cursor_secret: StrongSecret
    max_device_data_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_import_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # Days an event's id is remembered after it was handled, so a copy delivered again is
    # ignored. Queues keep messages with no time limit, so a copy can come as late as the
    # longest consumer outage, or a dead letter moved back: keep this well beyond both.
    processed_event_retention_days: int = Field(default=30, ge=1)
