"""Events the activities service consumes: `user.deleted` purges that user's log."""

from __future__ import annotations

import structlog
from pydantic import ValidationError

from sportslog_activities import queries
from sportslog_common.bus.consumer import PermanentError
from sportslog_common.db import Pool
from sportslog_common.events import Envelope, UserDeleted
from sportslog_common.inbox import claim_event

CONSUMER = "activities"
log = structlog.get_logger("sportslog.activities")


class UserPurger:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def handle(self, envelope: Envelope) -> None:
        if envelope.type != UserDeleted.TYPE:
            return
        try:
            data = UserDeleted.model_validate(envelope.data)
        except ValidationError as exc:
            # The count only: pydantic's text would quote the payload (an email address).
            raise PermanentError(f"bad user.deleted payload: {exc.error_count()} errors") from None
        async with self._pool.acquire() as conn, conn.transaction():
            # The claim commits with the purge: a redelivered event finds it and does nothing.
            if not await claim_event(conn, envelope.id, CONSUMER):
                return
            purged = await queries.delete_activities_of_user(conn, data.user_id)
        log.info("user_activities_purged", user_id=str(data.user_id), count=purged)
