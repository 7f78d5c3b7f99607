from __future__ import annotations

from fastapi import APIRouter

from sportslog_auth.deps import Client, LoginDep
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
async def login(body: LoginRequest, login: LoginDep, client: Client) -> TokenResponse:
    return await login.sign_in(body.email, body.password, client)
