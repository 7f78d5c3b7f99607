from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile, status

from sportslog_activities.deps import FileImporter, UserId
from sportslog_activities.errors import DuplicateActivity
from sportslog_activities.imports import InvalidFile
from sportslog_activities.schemas import Activity
from sportslog_common.errors import InvalidToken, PayloadTooLarge

router = APIRouter(prefix="/activities", tags=["imports"], responses=InvalidToken.openapi())


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    responses={
        **DuplicateActivity.openapi(),
        **InvalidFile.openapi(),
        **PayloadTooLarge.openapi(),
    },
)
async def import_file(
    file: Annotated[UploadFile, File(description="A GPX, TCX or FIT file")],
    importer: FileImporter,
    user_id: UserId,
    response: Response,
) -> Activity:
    created = await importer.import_file(user_id, await file.read())
    response.headers["Location"] = f"/activities/{created.activity.id}"
    response.headers["ETag"] = created.etag
    return created.activity
