from __future__ import annotations

from fastapi import APIRouter

from sportslog_auth import login as login_flow
from sportslog_auth.deps import Client, Ctx
from sportslog_auth.errors import EmailNotVerified, InvalidCredentials
from sportslog_auth.schemas import LoginRequest, TokenResponse
from sportslog_common.errors import Busy, RateLimited

router = APIRouter(prefix="/auth", tags=["login"])


@router.post(
    "/login",
    responses={
        **InvalidCredentials.openapi(),
        **EmailNotVerified.openapi(),
        **RateLimited.openapi(),
        **Busy.openapi(),
    },
)
async def login(body: LoginRequest, ctx: Ctx, client: Client) -> TokenResponse:
    return await login_flow.login(ctx, body.email, body.password, client)
