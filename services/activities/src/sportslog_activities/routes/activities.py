from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from sportslog_activities import activity_log
from sportslog_activities.deps import Db, Settings, UserId
from sportslog_activities.errors import ActivityNotFound, DuplicateActivity
from sportslog_activities.schemas import Activity, ActivityIn, ActivityPage, UtcDatetime
from sportslog_common.errors import InvalidToken

router = APIRouter(prefix="/activities", tags=["activities"], responses=InvalidToken.openapi())


@router.get("")
async def list_activities(
    db: Db,
    user_id: UserId,
    activity_type: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,32}$")] = None,
    started_from: Annotated[UtcDatetime | None, Query(alias="from")] = None,
    started_to: Annotated[UtcDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ActivityPage:
    return await activity_log.list_activities(
        db,
        user_id,
        activity_log.ListFilter(activity_type, started_from, started_to, limit, offset, cursor),
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=DuplicateActivity.openapi())
async def create_activity(
    body: ActivityIn, db: Db, user_id: UserId, settings: Settings, response: Response
) -> Activity:
    activity = await activity_log.create_activity(db, user_id, body, settings.max_device_data_bytes)
    response.headers["Location"] = f"/activities/{activity.id}"
    return activity


@router.get("/{activity_id}", responses=ActivityNotFound.openapi())
async def get_activity(activity_id: uuid.UUID, db: Db, user_id: UserId) -> Activity:
    return await activity_log.get_activity(db, user_id, activity_id)
