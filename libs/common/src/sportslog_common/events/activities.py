"""Events produced by the activities service."""

from __future__ import annotations

import uuid
from datetime import datetime

from sportslog_common.events.envelope import EventData


class _ActivityEvent(EventData):
    id: uuid.UUID
    user_id: uuid.UUID
    activity_type: str
    started_at: datetime


class ActivityCreated(_ActivityEvent):
    TYPE = "activity.created"


class ActivityUpdated(_ActivityEvent):
    TYPE = "activity.updated"


class ActivityDeleted(_ActivityEvent):
    TYPE = "activity.deleted"
