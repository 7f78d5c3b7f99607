from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from sportslog_auth.deps import ProfilesDep, User
from sportslog_auth.errors import InvalidCode, InvalidCredentials, ReauthenticationRequired
from sportslog_auth.schemas import DeleteAccountRequest, MeResponse, ProfileUpdate
from sportslog_common.errors import Busy, InvalidToken, RateLimited, ValidationFailed
from sportslog_common.merge_patch import MERGE_PATCH_OPENAPI, parse_patch

router = APIRouter(prefix="/me", tags=["profile"], responses=InvalidToken.openapi())


@router.get("")
async def me(profiles: ProfilesDep, user: User) -> MeResponse:
    return await profiles.get_me(user)


@router.put("/profile", responses={**ValidationFailed.openapi(), **RateLimited.openapi()})
async def update_profile(body: ProfileUpdate, profiles: ProfilesDep, user: User) -> MeResponse:
    return await profiles.update_profile(user, body)


@router.put("/preferences", openapi_extra=MERGE_PATCH_OPENAPI, responses=ValidationFailed.openapi())
async def patch_preferences(request: Request, profiles: ProfilesDep, user: User) -> dict[str, Any]:
    # Read by hand: both application/json and application/merge-patch+json are accepted.
    patch = parse_patch(await request.body(), "Preferences patch")
    return await profiles.patch_preferences(user, patch)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **InvalidCredentials.openapi(),
        **ReauthenticationRequired.openapi(),
        **InvalidCode.openapi(),
        **RateLimited.openapi(),
        **Busy.openapi(),
    },
)
async def delete_account(body: DeleteAccountRequest, profiles: ProfilesDep, user: User) -> None:
    await profiles.delete_account(user, body.password, body.code)
