from __future__ import annotations

from fastapi import APIRouter

from sportslog_auth.deps import Client, CredentialsDep, User
from sportslog_auth.errors import InvalidCredentials, InvalidOrExpiredToken
from sportslog_auth.schemas import (
    ChangePasswordRequest,
    EmailRequest,
    MessageResponse,
    ResetPasswordRequest,
    TokenResponse,
)
from sportslog_common.errors import Busy, InvalidToken, RateLimited

router = APIRouter(tags=["passwords"])

RESET_SENT = "If this address has an account, a link to reset the password is on its way."
RESET_DONE = "Your password was changed. Sign in with the new one."


@router.post("/auth/forgot-password", responses=RateLimited.openapi())
async def forgot_password(body: EmailRequest, credentials: CredentialsDep) -> MessageResponse:
    await credentials.forgot_password(body.email)
    return MessageResponse(message=RESET_SENT)


@router.post(
    "/auth/reset-password",
    responses={**InvalidOrExpiredToken.openapi(), **RateLimited.openapi(), **Busy.openapi()},
)
async def reset_password(
    body: ResetPasswordRequest, credentials: CredentialsDep, client: Client
) -> MessageResponse:
    await credentials.reset_password(body.token, body.new_password, client)
    return MessageResponse(message=RESET_DONE)


@router.put(
    "/me/password",
    responses={
        **InvalidCredentials.openapi(),
        **InvalidToken.openapi(),
        **RateLimited.openapi(),
        **Busy.openapi(),
    },
)
async def change_password(
    body: ChangePasswordRequest, credentials: CredentialsDep, user: User, client: Client
) -> TokenResponse:
    return await credentials.change_password(user, body.current_password, body.new_password, client)
