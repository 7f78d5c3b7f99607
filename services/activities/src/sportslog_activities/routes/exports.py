from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from sportslog_activities import activity_log, exports
from sportslog_activities.deps import Db, UserId
from sportslog_activities.errors import ActivityNotFound
from sportslog_common.errors import InvalidToken

router = APIRouter(prefix="/activities", tags=["exports"], responses=InvalidToken.openapi())


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "Every activity, oldest first"}},
)
async def export_csv(db: Db, user_id: UserId) -> StreamingResponse:
    return StreamingResponse(
        exports.csv_rows(db, user_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="activities.csv"'},
    )


@router.get(
    "/{activity_id}.gpx",
    response_class=Response,
    responses={
        200: {"content": {"application/gpx+xml": {}}, "description": "The activity's track"},
        **ActivityNotFound.openapi(),
    },
)
async def export_gpx(activity_id: uuid.UUID, db: Db, user_id: UserId) -> Response:
    versioned = await activity_log.get_activity(db, user_id, activity_id)
    return Response(
        exports.to_gpx(versioned.activity),
        media_type="application/gpx+xml",
        headers={"Content-Disposition": f'attachment; filename="{activity_id}.gpx"'},
    )
