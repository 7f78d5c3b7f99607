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

from sportslog_auth.client import ClientInfo
from sportslog_auth.errors import InvalidCode, NoPhoneNumber
from sportslog_auth.events import emit
from sportslog_auth.metrics import LOGINS, OTP_LOCKED
from sportslog_auth.queries import otp_challenges as otp_sql
from sportslog_auth.queries import pending_registrations as pending_sql
from sportslog_auth.queries import profiles as profile_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import CurrentUser, Sessions
from sportslog_auth.sms_budget import SmsBudget
from sportslog_auth.throttle import Attempt, Throttle
from sportslog_common.db import Connection, Pool
from sportslog_common.events import (
    UserOtpLocked,
    UserOtpRequested,
    UserPhoneVerificationRequested,
)
from sportslog_common.sealing import Sealer

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


class OneTimeCodes:
    def __init__(
        self,
        pool: Pool,
        throttle: Throttle,
        sms_budget: SmsBudget,
        sealer: Sealer,
        sessions: Sessions,
        *,
        code_secret: bytes,
    ) -> None:
        self._pool = pool
        self._throttle = throttle
        self._sms_budget = sms_budget
        self._sealer = sealer  # codes travel sealed in their events
        self._sessions = sessions
        self._code_secret = code_secret  # TOKEN_HMAC_SECRET: codes are stored as HMACs

    async def request_login_code(self, identifier: str, channel: Channel) -> None:
        """Always the same answer; the 4th request for one identifier in 15 min is a 429
        whether or not anyone owns it, and so is the 503 of a spent SMS budget."""
        async with self._pool.acquire() as conn, conn.transaction():
            await self._throttle.begin(conn, [(self._throttle.rules.otp_request, identifier)])
            if channel == "email":
                user_id = await user_sql.find_user_id_by_email(conn, identifier)
            else:  # SMS only ever goes to a phone its owner verified
                user_id = await profile_sql.find_user_for_verified_phone(conn, identifier)
                await self._sms_budget.ensure_left(conn, fallback="email")
            if user_id is None or await self._locked(conn, user_id):
                return  # a locked account was mailed why; a code would only be refused
            if channel == "sms":
                await self._sms_budget.spend(conn, identifier, fallback="email")
            sealed, expires_at = await self._issue(conn, user_id, "login", channel, identifier)
            event = UserOtpRequested(
                user_id=user_id,
                channel=channel,
                destination=identifier,
                code=sealed,
                expires_at=expires_at,
            )
            await emit(conn, event)

    async def verify_login_code(
        self, identifier: str, code: str, client: ClientInfo
    ) -> TokenResponse:
        rules = self._throttle.rules
        attempts = [(rules.otp_verify, identifier), *client.per_ip(rules.otp_verify_ip)]
        tokens = None
        locked = False
        async with self._pool.acquire() as conn, conn.transaction():
            hits = await self._throttle.begin(conn, attempts)
            if "@" in identifier:
                user_id = await user_sql.find_user_id_by_email(conn, identifier)
            else:
                user_id = await profile_sql.find_user_for_verified_phone(conn, identifier)
            hits += await self._throttle.begin(
                conn, [self._failures(user_id, identifier)], refusal=CODES_LOCKED
            )
            opened = user_id is not None and await self._check(
                conn, user_id, "login", identifier, code
            )
            if opened and user_id is not None:
                await self._throttle.forgive(conn, hits)
                account = await user_sql.get_account(conn, user_id)
                assert account is not None
                if "@" in identifier:  # the code proved the inbox
                    await pending_sql.discard_all(conn, user_id)
                    await user_sql.mark_email_verified(conn, user_id)
                tokens = await self._sessions.start(conn, client, account)
            elif user_id is not None:
                locked = await self._lock_when_capped(conn, user_id)
        if tokens is None:
            LOGINS.labels("otp", "failure").inc()
            if locked:
                OTP_LOCKED.inc()
            raise InvalidCode()
        LOGINS.labels("otp", "success").inc()
        return tokens

    async def request_phone_code(self, user: CurrentUser) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            number = await profile_sql.get_phone_number(conn, user.id)
            if number is None:
                raise NoPhoneNumber()
            rules = self._throttle.rules
            limits = [(rules.phone_code_account, str(user.id)), (rules.phone_code_request, number)]
            await self._throttle.begin(conn, limits)
            await self._sms_budget.spend(conn, number)  # 503 sms_unavailable: it waits
            sealed, expires_at = await self._issue(conn, user.id, "phone", "sms", number)
            event = UserPhoneVerificationRequested(
                user_id=user.id, phone_number=number, code=sealed, expires_at=expires_at
            )
            await emit(conn, event)

    async def verify_phone_code(self, user: CurrentUser, code: str) -> None:
        verified = False
        async with self._pool.acquire() as conn, conn.transaction():
            attempt = (self._throttle.rules.otp_verify, str(user.id))
            hits = await self._throttle.begin(conn, [attempt])
            number = await profile_sql.get_phone_number(conn, user.id)
            if number is not None and await self._check(conn, user.id, "phone", number, code):
                # Only the number the code was sent to, if it is still the profile's number.
                verified = await profile_sql.mark_phone_verified(conn, user.id, number)
                await self._throttle.forgive(conn, hits)
        if not verified:
            raise InvalidCode()

    async def consume_fresh_code(self, conn: Connection, user_id: uuid.UUID, code: str) -> bool:
        """Re-authentication of a password-less account (DELETE /me): a live sign-in code."""
        return await self._check(conn, user_id, "login", None, code) is not None

    async def _issue(
        self,
        conn: Connection,
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
            code_hash(self._code_secret, destination, code),
            expires_at,
        )
        return self._sealer.seal(code), expires_at

    def _failures(self, user_id: uuid.UUID | None, identifier: str) -> Attempt:
        """Wrong codes count per account over 24 h (OTP_MAX_FAILURES_PER_DAY), or per
        identifier when nobody owns it, so both answer alike."""
        return (self._throttle.rules.otp_failures_day, str(user_id) if user_id else identifier)

    async def _locked(self, conn: Connection, user_id: uuid.UUID) -> bool:
        rule, key = self._failures(user_id, "")
        return await self._throttle.counted(conn, rule, key) >= rule.limit

    async def _lock_when_capped(self, conn: Connection, user_id: uuid.UUID) -> bool:
        """After a wrong code: when it was the last one allowed, void the live code and
        tell the owner. True when it locked."""
        rule, key = self._failures(user_id, "")
        if await self._throttle.counted(conn, rule, key) != rule.limit:
            return False
        account = await user_sql.get_account(conn, user_id)
        assert account is not None
        await otp_sql.void_open_challenges(conn, user_id, "login")
        until = await self._throttle.frees_up_at(conn, rule, key)
        event = UserOtpLocked(
            user_id=user_id, email=account.email, failures=rule.limit, until=until
        )
        await emit(conn, event)
        return True

    async def _check(
        self,
        conn: Connection,
        user_id: uuid.UUID,
        purpose: Purpose,
        destination: str | None,
        code: str,
    ) -> str | None:
        """The destination of the challenge the code opens, or None. Call in a
        transaction: the attempt count must commit whatever the outcome."""
        challenge = await otp_sql.count_attempt_on_open_challenge(
            conn, user_id, purpose, destination
        )
        if challenge is None:
            return None
        given = code_hash(self._code_secret, challenge.destination, code)
        if hmac.compare_digest(challenge.code_hash, given):
            await otp_sql.close_challenge(conn, challenge.id)
            return challenge.destination
        if challenge.attempts >= MAX_ATTEMPTS:
            await otp_sql.close_challenge(conn, challenge.id)  # burnt: ask for a new code
        return None
