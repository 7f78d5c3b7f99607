from __future__ import annotations

from fastapi import APIRouter, status

from sportslog_auth.deps import Client, CodesDep, ProfilesDep, User
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
async def request_code(body: OtpRequest, codes: CodesDep) -> MessageResponse:
    await codes.request_login_code(body.identifier, body.channel)
    return MessageResponse(message=CODE_SENT)


@router.post("/auth/otp/verify", responses={**InvalidCode.openapi(), **RateLimited.openapi()})
async def verify_code(body: OtpVerify, codes: CodesDep, client: Client) -> TokenResponse:
    return await codes.verify_login_code(body.identifier, body.code, client)


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
async def request_phone_code(codes: CodesDep, user: User) -> MessageResponse:
    await codes.request_phone_code(user)
    return MessageResponse(message=PHONE_CODE_SENT)


@router.post(
    "/me/phone/verify",
    responses={**InvalidCode.openapi(), **RateLimited.openapi(), **InvalidToken.openapi()},
)
async def verify_phone(
    body: PhoneCode, codes: CodesDep, profiles: ProfilesDep, user: User
) -> MeResponse:
    await codes.verify_phone_code(user, body.code)
    return await profiles.get_me(user)
