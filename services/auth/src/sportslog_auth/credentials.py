"""Password reset and password change. Both bump `token_version` and revoke every session,
so every access token of the user stops working at once (DESIGN.md §4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sportslog_auth import sessions
from sportslog_auth.context import PRODUCER, AuthContext, ClientInfo
from sportslog_auth.errors import InvalidCredentials, InvalidOrExpiredToken
from sportslog_auth.queries import registrations as registrations_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import CurrentUser
from sportslog_auth.tokens import hash_token, random_token
from sportslog_common.db import Connection
from sportslog_common.errors import Busy
from sportslog_common.events import (
    UserPasswordChanged,
    UserPasswordResetRequested,
    UserTokensRevoked,
)
from sportslog_common.outbox import write_event


async def forgot_password(ctx: AuthContext, email: str) -> None:
    """Send a reset link to a known account; nothing at all for an unknown email."""
    token = random_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=ctx.settings.reset_token_ttl_seconds)
    async with ctx.pool.acquire() as conn, conn.transaction():
        # Counted for known and unknown addresses alike: both paths write and cost the
        # same, and nobody can flood an inbox with reset links.
        await ctx.throttle.begin(conn, [(ctx.rules.mail_request, email)])
        account = await user_sql.find_local_account(conn, email)
        if account is not None:
            user_id = account["id"]
            await user_sql.set_reset_token(conn, user_id, hash_token(token), expires_at)
        elif attempts := await registrations_sql.pending_attempts(conn, email):
            # Not verified yet: the link proves the inbox and sets the password given with it.
            user_id = attempts[0]["user_id"]
            await registrations_sql.insert_pending(
                conn, user_id, None, hash_token(token), expires_at, purpose="reset"
            )
        else:
            return
        event = UserPasswordResetRequested(
            user_id=user_id,
            email=email,
            reset_token=ctx.sealer.seal(token),
            expires_at=expires_at,
        )
        await write_event(conn, event, producer=PRODUCER)


async def reset_password(
    ctx: AuthContext, token: str, new_password: str, client: ClientInfo
) -> None:
    # Throttled before the (costly) hash, so refused guesses cost no argon2 work.
    async with ctx.pool.acquire() as conn, conn.transaction():
        hits = await ctx.throttle.begin(conn, client.per_ip(ctx.rules.token_ip))
    try:
        new_hash = await ctx.passwords.hash(new_password)
    except Busy:  # 503 before the token was tried: not a failed attempt
        async with ctx.pool.acquire() as conn, conn.transaction():
            await ctx.throttle.forgive(conn, hits)
        raise
    async with ctx.pool.acquire() as conn, conn.transaction():
        user = await user_sql.consume_reset_token(conn, hash_token(token))
        if user is None and (
            pending := await registrations_sql.consume(conn, hash_token(token), "reset")
        ):
            user = await user_sql.activate(conn, pending["user_id"], new_hash)
            await registrations_sql.discard_all(conn, pending["user_id"])
        if user is not None:
            await ctx.throttle.forgive(conn, hits)
            await _replace_password(conn, user["id"], user["email"], new_hash, "password_reset")
    if user is None:  # raised after the commit, so the failed attempt stays counted
        raise InvalidOrExpiredToken()


async def confirm_password(ctx: AuthContext, user: CurrentUser, password: str | None) -> bool:
    """Re-authentication for sensitive changes, throttled like a login (a stolen access
    token must not become a password oracle). False: the account has no password."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        hits = await ctx.throttle.begin(conn, [(ctx.rules.login_account, user.email)])
        stored = await user_sql.get_password_hash(conn, user.id)
    if stored is None:
        return False
    try:
        right = password is not None and await ctx.passwords.verify(stored, password)
    except Busy:  # 503 before the password was tried: not a failed attempt
        async with ctx.pool.acquire() as conn, conn.transaction():
            await ctx.throttle.forgive(conn, hits)
        raise
    if not right:
        raise InvalidCredentials("Password is wrong")
    async with ctx.pool.acquire() as conn, conn.transaction():
        await ctx.throttle.forgive(conn, hits)
    return True


async def change_password(
    ctx: AuthContext, user: CurrentUser, current: str, new: str, client: ClientInfo
) -> TokenResponse:
    if not await confirm_password(ctx, user, current):
        raise InvalidCredentials("Password is wrong")
    new_hash = await ctx.passwords.hash(new)
    async with ctx.pool.acquire() as conn, conn.transaction():
        version = await _replace_password(conn, user.id, user.email, new_hash, "password_change")
        # The caller keeps working in a fresh session; every other one is gone.
        return await sessions.start_session(
            conn, ctx, client, user_id=user.id, email=user.email, token_version=version
        )


async def _replace_password(
    conn: Connection, user_id: uuid.UUID, email: str, new_hash: str, reason: str
) -> int:
    await user_sql.set_password(conn, user_id, new_hash)
    version = await user_sql.bump_token_version(conn, user_id)
    await sessions.revoke_all(conn, user_id, reason)
    changed = UserPasswordChanged(user_id=user_id, email=email, token_version=version)
    await write_event(conn, changed, producer=PRODUCER)
    revoked = UserTokensRevoked(user_id=user_id, token_version=version)
    await write_event(conn, revoked, producer=PRODUCER)
    return version
