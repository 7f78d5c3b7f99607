from __future__ import annotations

from fastapi import APIRouter, status

from sportslog_auth import otp, profile
from sportslog_auth.deps import Client, Ctx, User
from sportslog_auth.errors import InvalidCode, NoPhoneNumber, SmsUnavailable
from sportslog_auth.schemas import (
    MeResponse,
    MessageResponse,
    OtpRequest,
    OtpVerify,
    PhoneCode,
    TokenResponse,
)
from sportslog_common.errors import InvalidToken, RateLimited

router = APIRouter(tags=["one-time codes"])

CODE_SENT = "If this identifier belongs to an account, a code is on its way."
PHONE_CODE_SENT = "A code is on its way to your phone."


@router.post("/auth/otp/request", responses={**RateLimited.openapi(), **SmsUnavailable.openapi()})
async def request_code(body: OtpRequest, ctx: Ctx) -> MessageResponse:
    await otp.request_login_code(ctx, body.identifier, body.channel)
    return MessageResponse(message=CODE_SENT)


@router.post("/auth/otp/verify", responses={**InvalidCode.openapi(), **RateLimited.openapi()})
async def verify_code(body: OtpVerify, ctx: Ctx, client: Client) -> TokenResponse:
    return await otp.verify_login_code(ctx, body.identifier, body.code, client)


@router.post(
    "/me/phone/verify-request",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **NoPhoneNumber.openapi(),
        **RateLimited.openapi(),
        **SmsUnavailable.openapi(),
        **InvalidToken.openapi(),
    },
)
async def request_phone_code(ctx: Ctx, user: User) -> MessageResponse:
    await otp.request_phone_code(ctx, user)
    return MessageResponse(message=PHONE_CODE_SENT)


@router.post(
    "/me/phone/verify",
    responses={**InvalidCode.openapi(), **RateLimited.openapi(), **InvalidToken.openapi()},
)
async def verify_phone(body: PhoneCode, ctx: Ctx, user: User) -> MeResponse:
    await otp.verify_phone_code(ctx, user, body.code)
    return await profile.get_me(ctx, user)
