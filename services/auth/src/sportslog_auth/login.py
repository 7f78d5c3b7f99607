"""Email + password sign-in. Unknown email and wrong password look and cost the same."""

from __future__ import annotations

from sportslog_auth.context import AuthContext, ClientInfo
from sportslog_auth.errors import EmailNotVerified, InvalidCredentials
from sportslog_auth.metrics import LOGINS
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import start_session


async def login(ctx: AuthContext, email: str, password: str, client: ClientInfo) -> TokenResponse:
    # No connection is held while argon2 runs: the pool is smaller than the login queue.
    async with ctx.pool.acquire() as conn:
        user = await user_sql.get_login(conn, email)
    if user is None:
        await ctx.passwords.verify_dummy(password)
        LOGINS.labels("local", "failure").inc()
        raise InvalidCredentials()
    if not await ctx.passwords.verify(user["password_hash"], password):
        LOGINS.labels("local", "failure").inc()
        raise InvalidCredentials()
    if not user["email_verified"]:
        LOGINS.labels("local", "failure").inc()
        raise EmailNotVerified()
    new_hash = None
    if ctx.passwords.needs_rehash(user["password_hash"]):
        new_hash = await ctx.passwords.hash(password)
    async with ctx.pool.acquire() as conn, conn.transaction():
        if new_hash is not None:
            await user_sql.update_password_hash(conn, user["id"], new_hash)
        tokens = await start_session(
            conn,
            ctx,
            client,
            user_id=user["id"],
            email=user["email"],
            token_version=user["token_version"],
        )
    LOGINS.labels("local", "success").inc()
    return tokens
