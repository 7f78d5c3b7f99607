"""Registration and email verification.

Register answers the same for a new, an unverified and a verified email (no enumeration):
the difference only shows in which email the address's owner receives.

Until the address is proven, each registration is a pending attempt with its own password
and its own link (queries/registrations.py): a link activates exactly its attempt's
password and discards the others, and no pending password signs in. Whoever registers an
address first therefore cannot choose the password its owner later verifies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sportslog_auth.context import PRODUCER, AuthContext, ClientInfo
from sportslog_auth.errors import InvalidOrExpiredToken
from sportslog_auth.metrics import USERS_REGISTERED
from sportslog_auth.queries import registrations as registrations_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import start_user_session
from sportslog_auth.tokens import hash_token, random_token
from sportslog_common.db import Connection, Record
from sportslog_common.events import (
    UserEmailVerified,
    UserRegistered,
    UserRegistrationAttempted,
    UserVerificationRequested,
)
from sportslog_common.outbox import write_event


async def register(ctx: AuthContext, email: str, password: str) -> None:
    # Hash in every case, so a taken email costs the same time as a new one.
    password_hash = await ctx.passwords.hash(password)
    token = random_token()
    now = datetime.now(UTC)
    expires_at = now + timedelta(seconds=ctx.settings.verify_token_ttl_seconds)
    created = False
    async with ctx.pool.acquire() as conn, conn.transaction():
        user_id = await user_sql.insert_user(conn, email)
        if user_id is not None:
            await user_sql.insert_profile(conn, user_id)
            await registrations_sql.insert_pending(
                conn, user_id, password_hash, hash_token(token), expires_at
            )
            sealed = ctx.sealer.seal(token)
            event = UserRegistered(
                user_id=user_id, email=email, verify_token=sealed, expires_at=expires_at
            )
            await write_event(conn, event, producer=PRODUCER)
            created = True
        else:
            user_id = await user_sql.find_user_id_by_email(conn, email)
            assert user_id is not None
            if await user_sql.lock_verified_state(conn, user_id):
                attempted = UserRegistrationAttempted(user_id=user_id, email=email)
                await write_event(conn, attempted, producer=PRODUCER)
            else:
                # Another attempt on an unproven address: it gets its own link for its own
                # password, and the mail says someone registered again, so an owner who
                # did not is warned and ignores it.
                earlier = await registrations_sql.pending_attempts(conn, email)
                await registrations_sql.insert_pending(
                    conn, user_id, password_hash, hash_token(token), expires_at
                )
                again = UserVerificationRequested(
                    user_id=user_id,
                    email=email,
                    verify_token=ctx.sealer.seal(token),
                    expires_at=expires_at,
                    repeat_registration_at=now if any(a["live"] for a in earlier) else None,
                )
                await write_event(conn, again, producer=PRODUCER)
    if created:
        USERS_REGISTERED.inc()


async def verify_email(ctx: AuthContext, token: str, client: ClientInfo) -> TokenResponse:
    tokens = None
    async with ctx.pool.acquire() as conn, conn.transaction():
        hits = await ctx.throttle.begin(conn, client.per_ip(ctx.rules.token_ip))
        attempt = await registrations_sql.consume(conn, hash_token(token))
        user = None
        if attempt is not None:
            user = await user_sql.activate(conn, attempt["user_id"], attempt["password_hash"])
        if user is not None:
            await registrations_sql.discard_all(conn, user["id"])
            await ctx.throttle.forgive(conn, hits)
            await write_event(conn, UserEmailVerified(user_id=user["id"]), producer=PRODUCER)
            tokens = await start_user_session(conn, ctx, client, user)
    if tokens is None:  # raised after the commit, so the failed attempt stays counted
        raise InvalidOrExpiredToken()
    return tokens


async def resend_verification(ctx: AuthContext, email: str) -> None:
    """A fresh link for an unverified account; nothing for a verified or unknown one."""
    token = random_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=ctx.settings.verify_token_ttl_seconds)
    async with ctx.pool.acquire() as conn, conn.transaction():
        await ctx.throttle.begin(conn, [(ctx.rules.mail_request, email)])  # see forgot_password
        attempts = await registrations_sql.pending_attempts(conn, email)
        if not attempts:
            return
        sets_password = await _renew(conn, attempts, hash_token(token), expires_at)
        event = UserVerificationRequested(
            user_id=attempts[0]["user_id"],
            email=email,
            verify_token=ctx.sealer.seal(token),
            expires_at=expires_at,
            sets_password=sets_password,
        )
        await write_event(conn, event, producer=PRODUCER)


async def _renew(
    conn: Connection, attempts: list[Record], token_hash: str, expires_at: datetime
) -> bool:
    """One attempt: its link is renewed, for its password. Several: nobody can tell which
    is the owner's, so the new link proves the address without setting any password
    (the owner signs in through it, and later with an emailed code)."""
    if len(attempts) == 1 and attempts[0]["sets_password"]:
        await registrations_sql.renew_token(conn, attempts[0]["id"], token_hash, expires_at)
        return True
    user_id = attempts[0]["user_id"]
    await registrations_sql.insert_pending(conn, user_id, None, token_hash, expires_at)
    return False
