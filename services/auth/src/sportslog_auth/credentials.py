"""Password reset and password change. Both bump `token_version` and revoke every session,
so every access token of the user stops working at once (DESIGN.md §4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sportslog_auth.client import ClientInfo
from sportslog_auth.errors import InvalidCredentials, InvalidOrExpiredToken
from sportslog_auth.events import emit
from sportslog_auth.passwords import Passwords
from sportslog_auth.queries import pending_registrations as pending_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.queries.users import Account
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import CurrentUser, Sessions, revoke_all
from sportslog_auth.throttle import Throttle
from sportslog_auth.tokens import hash_token, random_token
from sportslog_common.db import Connection, Pool
from sportslog_common.errors import Busy
from sportslog_common.events import (
    UserPasswordChanged,
    UserPasswordResetRequested,
    UserTokensRevoked,
)
from sportslog_common.sealing import Sealer


class Credentials:
    def __init__(
        self,
        pool: Pool,
        passwords: Passwords,
        throttle: Throttle,
        sealer: Sealer,
        sessions: Sessions,
        *,
        reset_ttl: timedelta,
    ) -> None:
        self._pool = pool
        self._passwords = passwords
        self._throttle = throttle
        self._sealer = sealer  # the reset link's token travels sealed in the event
        self._sessions = sessions
        self._reset_ttl = reset_ttl

    async def forgot_password(self, email: str) -> None:
        """Send a reset link to a known account; nothing at all for an unknown email."""
        token = random_token()
        expires_at = datetime.now(UTC) + self._reset_ttl
        async with self._pool.acquire() as conn, conn.transaction():
            # Counted for known and unknown addresses alike: both paths write and cost the
            # same, and nobody can flood an inbox with reset links.
            await self._throttle.begin(conn, [(self._throttle.rules.mail_request, email)])
            user_id = await user_sql.find_local_account_id(conn, email)
            if user_id is not None:
                await user_sql.set_reset_token(conn, user_id, hash_token(token), expires_at)
            elif attempts := await pending_sql.pending_attempts(conn, email):
                # Not verified yet: the link proves the inbox and sets the password given
                # with it.
                user_id = attempts[0].user_id
                await pending_sql.insert_pending(
                    conn, user_id, None, hash_token(token), expires_at, purpose="reset"
                )
            else:
                return
            event = UserPasswordResetRequested(
                user_id=user_id,
                email=email,
                reset_token=self._sealer.seal(token),
                expires_at=expires_at,
            )
            await emit(conn, event)

    async def reset_password(self, token: str, new_password: str, client: ClientInfo) -> None:
        # Throttled before the (costly) hash, so refused guesses cost no argon2 work.
        async with self._pool.acquire() as conn, conn.transaction():
            hits = await self._throttle.begin(conn, client.per_ip(self._throttle.rules.token_ip))
        try:
            new_hash = await self._passwords.hash(new_password)
        except Busy:  # 503 before the token was tried: not a failed attempt
            async with self._pool.acquire() as conn, conn.transaction():
                await self._throttle.forgive(conn, hits)
            raise
        async with self._pool.acquire() as conn, conn.transaction():
            account = await user_sql.consume_reset_token(conn, hash_token(token))
            if account is None and (
                pending := await pending_sql.consume(conn, hash_token(token), "reset")
            ):
                account = await user_sql.activate(conn, pending.user_id, new_hash)
                await pending_sql.discard_all(conn, pending.user_id)
            if account is not None:
                await self._throttle.forgive(conn, hits)
                await _replace_password(conn, account.id, account.email, new_hash, "password_reset")
        if account is None:  # raised after the commit, so the failed attempt stays counted
            raise InvalidOrExpiredToken()

    async def confirm_password(self, user: CurrentUser, password: str | None) -> bool:
        """Re-authentication for sensitive changes, throttled like a login (a stolen access
        token must not become a password oracle). False: the account has no password."""
        async with self._pool.acquire() as conn, conn.transaction():
            attempt = (self._throttle.rules.login_account, user.email)
            hits = await self._throttle.begin(conn, [attempt])
            stored = await user_sql.get_password_hash(conn, user.id)
        if stored is None:
            return False
        try:
            right = password is not None and await self._passwords.verify(stored, password)
        except Busy:  # 503 before the password was tried: not a failed attempt
            async with self._pool.acquire() as conn, conn.transaction():
                await self._throttle.forgive(conn, hits)
            raise
        if not right:
            raise InvalidCredentials("Password is wrong")
        async with self._pool.acquire() as conn, conn.transaction():
            await self._throttle.forgive(conn, hits)
        return True

    async def change_password(
        self, user: CurrentUser, current: str, new: str, client: ClientInfo
    ) -> TokenResponse:
        if not await self.confirm_password(user, current):
            raise InvalidCredentials("Password is wrong")
        new_hash = await self._passwords.hash(new)
        async with self._pool.acquire() as conn, conn.transaction():
            version = await _replace_password(
                conn, user.id, user.email, new_hash, "password_change"
            )
            # The caller keeps working in a fresh session; every other one is gone.
            return await self._sessions.start(conn, client, Account(user.id, user.email, version))


async def _replace_password(
    conn: Connection, user_id: uuid.UUID, email: str, new_hash: str, reason: str
) -> int:
    await user_sql.set_password(conn, user_id, new_hash)
    version = await user_sql.bump_token_version(conn, user_id)
    await revoke_all(conn, user_id, reason)
    changed = UserPasswordChanged(user_id=user_id, email=email, token_version=version)
    await emit(conn, changed)
    await emit(conn, UserTokensRevoked(user_id=user_id, token_version=version))
    return version
