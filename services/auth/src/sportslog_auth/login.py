"""Email + password sign-in. Unknown email and wrong password look and cost the same."""

from __future__ import annotations

import contextlib
from typing import NoReturn

from sportslog_auth.context import AuthContext, ClientInfo
from sportslog_auth.errors import EmailNotVerified, InvalidCredentials
from sportslog_auth.metrics import LOGINS
from sportslog_auth.queries import registrations as registrations_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import start_user_session
from sportslog_common.db import Record
from sportslog_common.errors import Busy


async def login(ctx: AuthContext, email: str, password: str, client: ClientInfo) -> TokenResponse:
    # Counted as a failure up front, so concurrent guesses cannot all slip under the limit,
    # and forgiven once the password is right. Unknown and known emails count alike.
    attempts = [(ctx.rules.login_account, email), *client.per_ip(ctx.rules.login_ip)]
    async with ctx.pool.acquire() as conn, conn.transaction():
        hits = await ctx.throttle.begin(conn, attempts)
        user = await user_sql.get_login(conn, email)
        pending = None if user is not None else await registrations_sql.latest_password(conn, email)
    # No connection is held while argon2 runs: the pool is smaller than the login queue.
    try:
        if user is None:
            await _refuse_unverified(ctx, pending, password)
        right = await ctx.passwords.verify(user["password_hash"], password)
    except Busy:
        # Refused before any password was tried (503): not a failure to count.
        async with ctx.pool.acquire() as conn, conn.transaction():
            await ctx.throttle.forgive(conn, hits)
        raise
    if not right:
        LOGINS.labels("local", "failure").inc()
        raise InvalidCredentials()
    new_hash = None
    if ctx.passwords.needs_rehash(user["password_hash"]):
        with contextlib.suppress(Busy):  # the password is right: rehash at a later login
            new_hash = await ctx.passwords.hash(password)
    async with ctx.pool.acquire() as conn, conn.transaction():
        await ctx.throttle.forgive(conn, hits)
        if new_hash is not None:
            await user_sql.update_password_hash(conn, user["id"], new_hash)
        tokens = await start_user_session(conn, ctx, client, user)
    LOGINS.labels("local", "success").inc()
    return tokens


async def _refuse_unverified(ctx: AuthContext, pending: Record | None, password: str) -> NoReturn:
    """No verified password for this address. A pending registration's password never
    signs in (its own link activates it); the newest one's, when right, learns that the
    address waits for verification. One argon2 verify either way, as for a known user."""
    if pending is None:
        await ctx.passwords.verify_dummy(password)
        right = False
    else:
        right = await ctx.passwords.verify(pending["password_hash"], password)
    LOGINS.labels("local", "failure").inc()
    raise EmailNotVerified() if right else InvalidCredentials()
