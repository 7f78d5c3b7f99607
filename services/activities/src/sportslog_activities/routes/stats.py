from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from sportslog_activities import stats
from sportslog_activities.deps import Db, UserId
from sportslog_activities.schemas import Stats, UtcDatetime
from sportslog_common.errors import InvalidToken

router = APIRouter(prefix="/activities", tags=["stats"], responses=InvalidToken.openapi())


@router.get("/stats")
async def summarise(
    db: Db,
    user_id: UserId,
    group_by: stats.GroupBy = "week",
    units: stats.Units = "metric",
    activity_type: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,32}$")] = None,
    started_from: Annotated[UtcDatetime | None, Query(alias="from")] = None,
    started_to: Annotated[UtcDatetime | None, Query(alias="to")] = None,
) -> Stats:
    return await stats.summarise(
        db,
        user_id,
        group_by=group_by,
        units=units,
        activity_type=activity_type,
        started_from=started_from,
        started_to=started_to,
    )
