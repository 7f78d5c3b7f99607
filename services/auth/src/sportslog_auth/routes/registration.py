from __future__ import annotations

from fastapi import APIRouter, status

from sportslog_auth.deps import Client, RegistrationDep
from sportslog_auth.errors import InvalidOrExpiredToken
from sportslog_auth.schemas import (
    EmailRequest,
    MessageResponse,
    RegisterRequest,
    TokenRequest,
    TokenResponse,
)
from sportslog_common.errors import Busy, RateLimited

router = APIRouter(prefix="/auth", tags=["registration"])

REGISTERED = "Check your inbox: we sent a link to verify this email address."
RESENT = "If this address has an account waiting for verification, a new link is on its way."


@router.post("/register", status_code=status.HTTP_202_ACCEPTED, responses=Busy.openapi())
async def register(body: RegisterRequest, registration: RegistrationDep) -> MessageResponse:
    await registration.register(body.email, body.password)
    return MessageResponse(message=REGISTERED)


@router.post(
    "/verify-email", responses={**InvalidOrExpiredToken.openapi(), **RateLimited.openapi()}
)
async def verify_email(
    body: TokenRequest, registration: RegistrationDep, client: Client
) -> TokenResponse:
    return await registration.verify_email(body.token, client)


@router.post("/resend-verification", responses=RateLimited.openapi())
async def resend_verification(body: EmailRequest, registration: RegistrationDep) -> MessageResponse:
    await registration.resend_verification(body.email)
    return MessageResponse(message=RESENT)
