from __future__ import annotations

from fastapi import APIRouter, status

from sportslog_auth import registration
from sportslog_auth.deps import Client, Ctx
from sportslog_auth.errors import InvalidOrExpiredToken
from sportslog_auth.schemas import MessageResponse, RegisterRequest, TokenRequest, TokenResponse

router = APIRouter(prefix="/auth", tags=["registration"])

REGISTERED = "Check your inbox: we sent a link to verify this email address."


@router.post("/register", status_code=status.HTTP_202_ACCEPTED)
async def register(body: RegisterRequest, ctx: Ctx) -> MessageResponse:
    await registration.register(ctx, body.email, body.password)
    return MessageResponse(message=REGISTERED)


@router.post("/verify-email", responses=InvalidOrExpiredToken.openapi())
async def verify_email(body: TokenRequest, ctx: Ctx, client: Client) -> TokenResponse:
    return await registration.verify_email(ctx, body.token, client)
