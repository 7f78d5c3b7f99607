"""Registration and email verification.

Register answers the same for a new, an unverified and a verified email (no enumeration):
the difference only shows in which email the address's owner receives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sportslog_auth.context import PRODUCER, AuthContext, ClientInfo
from sportslog_auth.errors import InvalidOrExpiredToken
from sportslog_auth.metrics import USERS_REGISTERED
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import start_session
from sportslog_auth.tokens import hash_token, random_token
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
    expires_at = datetime.now(UTC) + timedelta(seconds=ctx.settings.verify_token_ttl_seconds)
    created = False
    async with ctx.pool.acquire() as conn, conn.transaction():
        user_id = await user_sql.insert_user(conn, email)
        if user_id is not None:
            await user_sql.insert_profile(conn, user_id)
            await user_sql.insert_local_credentials(
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
            state = await user_sql.get_credentials_state(conn, user_id)
            if state is not None and not state["email_verified"]:
                # The first password stands: replacing it here would let whoever registers
                # second choose the password of an account the owner then verifies.
                await user_sql.set_verify_token(conn, user_id, hash_token(token), expires_at)
                again = UserVerificationRequested(
                    user_id=user_id,
                    email=email,
                    verify_token=ctx.sealer.seal(token),
                    expires_at=expires_at,
                )
                await write_event(conn, again, producer=PRODUCER)
            else:
                attempted = UserRegistrationAttempted(user_id=user_id, email=email)
                await write_event(conn, attempted, producer=PRODUCER)
    if created:
        USERS_REGISTERED.inc()


async def verify_email(ctx: AuthContext, token: str, client: ClientInfo) -> TokenResponse:
    tokens = None
    async with ctx.pool.acquire() as conn, conn.transaction():
        hits = await ctx.throttle.begin(conn, client.per_ip(ctx.rules.token_ip))
        user = await user_sql.consume_verify_token(conn, hash_token(token))
        if user is not None:
            await ctx.throttle.forgive(conn, hits)
            await write_event(conn, UserEmailVerified(user_id=user["id"]), producer=PRODUCER)
            tokens = await start_session(
                conn,
                ctx,
                client,
                user_id=user["id"],
                email=user["email"],
                token_version=user["token_version"],
            )
    if tokens is None:  # raised after the commit, so the failed attempt stays counted
        raise InvalidOrExpiredToken()
    return tokens


async def resend_verification(ctx: AuthContext, email: str) -> None:
    """A fresh link for an unverified account; nothing for a verified or unknown one."""
    token = random_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=ctx.settings.verify_token_ttl_seconds)
    async with ctx.pool.acquire() as conn, conn.transaction():
        await ctx.throttle.begin(conn, [(ctx.rules.mail_request, email)])  # see forgot_password
        account = await user_sql.find_local_account(conn, email)
        if account is None or account["email_verified"]:
            return
        await user_sql.set_verify_token(conn, account["id"], hash_token(token), expires_at)
        event = UserVerificationRequested(
            user_id=account["id"],
            email=email,
            verify_token=ctx.sealer.seal(token),
            expires_at=expires_at,
        )
        await write_event(conn, event, producer=PRODUCER)
