from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from sportslog_activities import activity_log
from sportslog_activities.activity_log import Versioned
from sportslog_activities.deps import Db, Filter, Settings, Signer, UserId
from sportslog_activities.errors import (
    ActivityNotFound,
    DuplicateActivity,
    IdempotencyKeyReused,
    PreconditionFailed,
)
from sportslog_activities.schemas import Activity, ActivityIn, ActivityPage
from sportslog_common.errors import InvalidToken
from sportslog_common.merge_patch import MERGE_PATCH_OPENAPI, parse_patch

router = APIRouter(prefix="/activities", tags=["activities"], responses=InvalidToken.openapi())

IfMatch = Annotated[str | None, Header(max_length=256)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
]


def _respond(response: Response, versioned: Versioned) -> Activity:
    response.headers["ETag"] = versioned.etag
    return versioned.activity


@router.get("")
async def list_activities(
    db: Db,
    user_id: UserId,
    signer: Signer,
    f: Filter,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ActivityPage:
    return await activity_log.list_activities(
        db,
        user_id,
        f,
        activity_log.PageRequest(limit, offset, cursor),
        signer,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={**DuplicateActivity.openapi(), **IdempotencyKeyReused.openapi()},
)
async def create_activity(
    body: ActivityIn,
    db: Db,
    user_id: UserId,
    settings: Settings,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Activity:
    created = await activity_log.create_activity(
        db, user_id, body, settings.max_device_data_bytes, idempotency_key
    )
    response.headers["Location"] = f"/activities/{created.activity.id}"
    if created.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return _respond(response, created)


@router.get("/{activity_id}", responses=ActivityNotFound.openapi())
async def get_activity(
    activity_id: uuid.UUID, db: Db, user_id: UserId, response: Response
) -> Activity:
    return _respond(response, await activity_log.get_activity(db, user_id, activity_id))


@router.put(
    "/{activity_id}",
    responses={**ActivityNotFound.openapi(), **PreconditionFailed.openapi()},
)
async def replace_activity(
    activity_id: uuid.UUID,
    body: ActivityIn,
    db: Db,
    user_id: UserId,
    settings: Settings,
    response: Response,
    if_match: IfMatch = None,
) -> Activity:
    replaced = await activity_log.replace_activity(
        db, user_id, activity_id, body, settings.max_device_data_bytes, if_match
    )
    return _respond(response, replaced)


@router.patch(
    "/{activity_id}",
    openapi_extra=MERGE_PATCH_OPENAPI,
    responses={**ActivityNotFound.openapi(), **PreconditionFailed.openapi()},
)
async def patch_activity(
    activity_id: uuid.UUID,
    request: Request,
    db: Db,
    user_id: UserId,
    settings: Settings,
    response: Response,
    if_match: IfMatch = None,
) -> Activity:
    patch = parse_patch(await request.body(), "Activity patch")
    patched = await activity_log.patch_activity(
        db, user_id, activity_id, patch, settings.max_device_data_bytes, if_match
    )
    return _respond(response, patched)


@router.delete(
    "/{activity_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ActivityNotFound.openapi(), **PreconditionFailed.openapi()},
)
async def delete_activity(
    activity_id: uuid.UUID, db: Db, user_id: UserId, if_match: IfMatch = None
) -> None:
    await activity_log.delete_activity(db, user_id, activity_id, if_match)
