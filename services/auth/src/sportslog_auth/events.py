"""Every event auth publishes goes out through its outbox, in the transaction of the
change it announces (sportslog_common.outbox)."""

from __future__ import annotations

from sportslog_common.db import Connection
from sportslog_common.events import EventData
from sportslog_common.outbox import write_event

PRODUCER = "auth"


async def emit(conn: Connection, event: EventData) -> None:
    await write_event(conn, event, producer=PRODUCER)
