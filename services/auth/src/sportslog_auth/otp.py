"""6-digit one-time codes: sign-in by email or SMS, and phone-number verification.

Codes come from a CSPRNG, live 10 minutes, and are stored as HMAC-SHA256 keyed with
TOKEN_HMAC_SECRET (a bare hash of 6 digits is a lookup table). A new code voids the
earlier ones; every attempt is counted before the code is checked, and the 5th wrong one
burns the challenge. Past OTP_MAX_FAILURES_PER_DAY wrong codes in 24 h an account's code
sign-in locks (its owner is mailed), so guesses cannot add up challenge after challenge.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from sportslog_auth import sessions
from sportslog_auth.context import PRODUCER, AuthContext, ClientInfo
from sportslog_auth.errors import InvalidCode, NoPhoneNumber
from sportslog_auth.metrics import LOGINS, OTP_LOCKED
from sportslog_auth.queries import otp as otp_sql
from sportslog_auth.queries import registrations as registrations_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import CurrentUser
from sportslog_auth.throttle import Attempt
from sportslog_common.db import Connection
from sportslog_common.events import (
    UserOtpLocked,
    UserOtpRequested,
    UserPhoneVerificationRequested,
)
from sportslog_common.outbox import write_event

CODE_TTL = timedelta(minutes=10)
CODES_LOCKED = (
    "Too many wrong codes for this account: sign in with your password, or reset it by email"
)
MAX_ATTEMPTS = 5
Channel = Literal["email", "sms"]
Purpose = Literal["login", "phone"]


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def code_hash(secret: bytes, destination: str, code: str) -> str:
    return hmac.new(secret, f"{destination}\x00{code}".encode(), hashlib.sha256).hexdigest()


async def _issue(
    conn: Connection,
    ctx: AuthContext,
    user_id: uuid.UUID,
    purpose: Purpose,
    channel: Channel,
    destination: str,
) -> tuple[str, datetime]:
    code = new_code()
    expires_at = datetime.now(UTC) + CODE_TTL
    await otp_sql.void_open_challenges(conn, user_id, purpose)
    await otp_sql.insert_challenge(
        conn,
        user_id,
        purpose,
        channel,
        destination,
        code_hash(ctx.otp_secret, destination, code),
        expires_at,
    )
    return ctx.sealer.seal(code), expires_at


async def request_login_code(ctx: AuthContext, identifier: str, channel: Channel) -> None:
    """Always the same answer; the 4th request for one identifier in 15 min is a 429
    whether or not anyone owns it, and so is the 503 of a spent SMS budget."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        await ctx.throttle.begin(conn, [(ctx.rules.otp_request, identifier)])
        if channel == "email":
            user_id = await user_sql.find_user_id_by_email(conn, identifier)
        else:  # SMS only ever goes to a phone its owner verified
            user_id = await otp_sql.find_user_for_verified_phone(conn, identifier)
            await ctx.sms_budget.ensure_left(conn, fallback="email")
        if user_id is None or await _locked(conn, ctx, user_id):
            return  # a locked account was mailed why; a code would only be refused
        if channel == "sms":
            await ctx.sms_budget.spend(conn, identifier, fallback="email")
        sealed, expires_at = await _issue(conn, ctx, user_id, "login", channel, identifier)
        event = UserOtpRequested(
            user_id=user_id,
            channel=channel,
            destination=identifier,
            code=sealed,
            expires_at=expires_at,
        )
        await write_event(conn, event, producer=PRODUCER)


def _failures(ctx: AuthContext, user_id: uuid.UUID | None, identifier: str) -> Attempt:
    """Wrong codes count per account over 24 h (OTP_MAX_FAILURES_PER_DAY), or per
    identifier when nobody owns it, so both answer alike."""
    return (ctx.rules.otp_failures_day, str(user_id) if user_id else identifier)


async def _locked(conn: Connection, ctx: AuthContext, user_id: uuid.UUID) -> bool:
    rule, key = _failures(ctx, user_id, "")
    return await ctx.throttle.counted(conn, rule, key) >= rule.limit


async def _lock_when_capped(conn: Connection, ctx: AuthContext, user_id: uuid.UUID) -> bool:
    """After a wrong code: when it was the last one allowed, void the live code and tell
    the owner. True when it locked."""
    rule, key = _failures(ctx, user_id, "")
    if await ctx.throttle.counted(conn, rule, key) != rule.limit:
        return False
    user = await otp_sql.get_user_for_session(conn, user_id)
    assert user is not None
    await otp_sql.void_open_challenges(conn, user_id, "login")
    until = await ctx.throttle.frees_up_at(conn, rule, key)
    event = UserOtpLocked(user_id=user_id, email=user["email"], failures=rule.limit, until=until)
    await write_event(conn, event, producer=PRODUCER)
    return True


async def _check(
    conn: Connection,
    ctx: AuthContext,
    user_id: uuid.UUID,
    purpose: Purpose,
    destination: str | None,
    code: str,
) -> str | None:
    """The destination of the challenge the code opens, or None. Call in a transaction:
    the attempt count must commit whatever the outcome."""
    challenge = await otp_sql.count_attempt_on_open_challenge(conn, user_id, purpose, destination)
    if challenge is None:
        return None
    expected = challenge["code_hash"]
    given = code_hash(ctx.otp_secret, challenge["destination"], code)
    if hmac.compare_digest(expected, given):
        await otp_sql.close_challenge(conn, challenge["id"])
        return str(challenge["destination"])
    if challenge["attempts"] >= MAX_ATTEMPTS:
        await otp_sql.close_challenge(conn, challenge["id"])  # burnt: ask for a new code
    return None


async def verify_login_code(
    ctx: AuthContext, identifier: str, code: str, client: ClientInfo
) -> TokenResponse:
    attempts = [(ctx.rules.otp_verify, identifier), *client.per_ip(ctx.rules.otp_verify_ip)]
    tokens = None
    locked = False
    async with ctx.pool.acquire() as conn, conn.transaction():
        hits = await ctx.throttle.begin(conn, attempts)
        if "@" in identifier:
            user_id = await user_sql.find_user_id_by_email(conn, identifier)
        else:
            user_id = await otp_sql.find_user_for_verified_phone(conn, identifier)
        hits += await ctx.throttle.begin(
            conn, [_failures(ctx, user_id, identifier)], refusal=CODES_LOCKED
        )
        opened = user_id is not None and await _check(conn, ctx, user_id, "login", identifier, code)
        if opened and user_id is not None:
            await ctx.throttle.forgive(conn, hits)
            user = await otp_sql.get_user_for_session(conn, user_id)
            assert user is not None
            if "@" in identifier:  # the code proved the inbox
                await registrations_sql.discard_all(conn, user_id)
                await user_sql.mark_email_verified(conn, user_id)
            tokens = await sessions.start_user_session(conn, ctx, client, user)
        elif user_id is not None:
            locked = await _lock_when_capped(conn, ctx, user_id)
    if tokens is None:
        LOGINS.labels("otp", "failure").inc()
        if locked:
            OTP_LOCKED.inc()
        raise InvalidCode()
    LOGINS.labels("otp", "success").inc()
    return tokens


async def request_phone_code(ctx: AuthContext, user: CurrentUser) -> None:
    async with ctx.pool.acquire() as conn, conn.transaction():
        phone = await otp_sql.get_phone(conn, user.id)
        if phone is None or phone["phone_number"] is None:
            raise NoPhoneNumber()
        number = phone["phone_number"]
        rules = ctx.rules
        limits = [(rules.phone_code_account, str(user.id)), (rules.phone_code_request, number)]
        await ctx.throttle.begin(conn, limits)
        await ctx.sms_budget.spend(conn, number)  # 503 sms_unavailable: verification waits
        sealed, expires_at = await _issue(conn, ctx, user.id, "phone", "sms", number)
        event = UserPhoneVerificationRequested(
            user_id=user.id, phone_number=number, code=sealed, expires_at=expires_at
        )
        await write_event(conn, event, producer=PRODUCER)


async def verify_phone_code(ctx: AuthContext, user: CurrentUser, code: str) -> None:
    verified = False
    async with ctx.pool.acquire() as conn, conn.transaction():
        hits = await ctx.throttle.begin(conn, [(ctx.rules.otp_verify, str(user.id))])
        phone = await otp_sql.get_phone(conn, user.id)
        number = phone["phone_number"] if phone else None
        if number is not None and await _check(conn, ctx, user.id, "phone", number, code):
            # Only the number the code was sent to, if it is still the profile's number.
            verified = await otp_sql.mark_phone_verified(conn, user.id, number)
            await ctx.throttle.forgive(conn, hits)
    if not verified:
        raise InvalidCode()


async def consume_fresh_code(
    conn: Connection, ctx: AuthContext, user_id: uuid.UUID, code: str
) -> bool:
    """Re-authentication of a password-less account (DELETE /me): a live sign-in code."""
    return await _check(conn, ctx, user_id, "login", None, code) is not None
