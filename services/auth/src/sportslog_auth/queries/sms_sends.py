"""The SMS sends counted against SMS_DAILY_BUDGET (a rolling 24 h)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sportslog_common.db import Connection as Conn


@dataclass(frozen=True)
class Window:
    sent: int  # in the last 24 h
    oldest: datetime | None  # None when there are none


async def lock_budget(conn: Conn) -> None:
    """Serialise spending within the caller's transaction, so the budget is exact across
    replicas: SMS are few, and each holds the lock for one insert."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('sportslog_auth.sms_budget'))")


async def sent_in_window(conn: Conn) -> Window:
    row = await conn.fetchrow(
        "SELECT count(*) AS sent, min(sent_at) AS oldest FROM sms_sends"
        " WHERE sent_at > now() - interval '24 hours'"
    )
    assert row is not None  # an aggregate always has a row
    return Window(**row)


async def record_send(conn: Conn, country: str) -> None:
    await conn.execute("INSERT INTO sms_sends (country) VALUES ($1)", country)
