"""Email + password sign-in. Unknown email and wrong password look and cost the same."""

from __future__ import annotations

import contextlib
from typing import NoReturn

from sportslog_auth.client import ClientInfo
from sportslog_auth.errors import EmailNotVerified, InvalidCredentials
from sportslog_auth.metrics import LOGINS
from sportslog_auth.passwords import Passwords
from sportslog_auth.queries import pending_registrations as pending_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import Sessions
from sportslog_auth.throttle import Throttle
from sportslog_common.db import Pool
from sportslog_common.errors import Busy


class Login:
    def __init__(
        self, pool: Pool, passwords: Passwords, throttle: Throttle, sessions: Sessions
    ) -> None:
        self._pool = pool
        self._passwords = passwords
        self._throttle = throttle
        self._sessions = sessions

    async def sign_in(self, email: str, password: str, client: ClientInfo) -> TokenResponse:
        # Counted as a failure up front, so concurrent guesses cannot all slip under the
        # limit, and forgiven once the password is right. Unknown and known emails alike.
        rules = self._throttle.rules
        attempts = [(rules.login_account, email), *client.per_ip(rules.login_ip)]
        async with self._pool.acquire() as conn, conn.transaction():
            hits = await self._throttle.begin(conn, attempts)
            user = await user_sql.get_login(conn, email)
            pending = None
            if user is None:
                pending = await pending_sql.latest_password_hash(conn, email)
        # No connection is held while argon2 runs: the pool is smaller than the login queue.
        try:
            if user is None:
                await self._refuse_unverified(pending, password)
            right = await self._passwords.verify(user.password_hash, password)
        except Busy:
            # Refused before any password was tried (503): not a failure to count.
            async with self._pool.acquire() as conn, conn.transaction():
                await self._throttle.forgive(conn, hits)
            raise
        if not right:
            LOGINS.labels("local", "failure").inc()
            raise InvalidCredentials()
        new_hash = None
        if self._passwords.needs_rehash(user.password_hash):
            with contextlib.suppress(Busy):  # the password is right: rehash at a later login
                new_hash = await self._passwords.hash(password)
        async with self._pool.acquire() as conn, conn.transaction():
            await self._throttle.forgive(conn, hits)
            if new_hash is not None:
                await user_sql.update_password_hash(conn, user.id, new_hash)
            tokens = await self._sessions.start(conn, client, user.account)
        LOGINS.labels("local", "success").inc()
        return tokens

    async def _refuse_unverified(self, pending_hash: str | None, password: str) -> NoReturn:
        """No verified password for this address. A pending registration's password never
        signs in (its own link activates it); the newest one's, when right, learns that
        the address waits for verification. One argon2 verify either way, as for a known
        user."""
        if pending_hash is None:
            await self._passwords.verify_dummy(password)
            right = False
        else:
            right = await self._passwords.verify(pending_hash, password)
        LOGINS.labels("local", "failure").inc()
        raise EmailNotVerified() if right else InvalidCredentials()
