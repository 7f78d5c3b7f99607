from __future__ import annotations

from fastapi import APIRouter

from sportslog_activities import stats
from sportslog_activities.deps import Db, Filter, UserId
from sportslog_activities.schemas import Stats
from sportslog_common.errors import InvalidToken

router = APIRouter(prefix="/activities", tags=["stats"], responses=InvalidToken.openapi())


@router.get("/stats")
async def summarise(
    db: Db,
    user_id: UserId,
    f: Filter,
    group_by: stats.GroupBy = "week",
    units: stats.Units = "metric",
) -> Stats:
    return await stats.summarise(db, user_id, f, group_by=group_by, units=units)
