"""Registration and email verification.

Register answers the same for a new, an unverified and a verified email (no enumeration):
the difference only shows in which email the address's owner receives.

Until the address is proven, each registration is a pending attempt with its own password
and its own link (queries/pending_registrations.py): a link activates exactly its attempt's
password and discards the others, and no pending password signs in. Whoever registers an
address first therefore cannot choose the password its owner later verifies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sportslog_auth.client import ClientInfo
from sportslog_auth.errors import InvalidOrExpiredToken
from sportslog_auth.events import emit
from sportslog_auth.metrics import USERS_REGISTERED
from sportslog_auth.passwords import Passwords
from sportslog_auth.queries import pending_registrations as pending_sql
from sportslog_auth.queries import profiles as profile_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import Sessions
from sportslog_auth.throttle import Throttle
from sportslog_auth.tokens import hash_token, random_token
from sportslog_common.db import Connection, Pool
from sportslog_common.events import (
    UserEmailVerified,
    UserRegistered,
    UserRegistrationAttempted,
    UserVerificationRequested,
)
from sportslog_common.sealing import Sealer


class Registration:
    def __init__(
        self,
        pool: Pool,
        passwords: Passwords,
        throttle: Throttle,
        sealer: Sealer,
        sessions: Sessions,
        *,
        link_ttl: timedelta,
    ) -> None:
        self._pool = pool
        self._passwords = passwords
        self._throttle = throttle
        self._sealer = sealer  # the link's token travels sealed in the event
        self._sessions = sessions
        self._link_ttl = link_ttl

    async def register(self, email: str, password: str) -> None:
        # Hash in every case, so a taken email costs the same time as a new one.
        password_hash = await self._passwords.hash(password)
        token = random_token()
        now = datetime.now(UTC)
        expires_at = now + self._link_ttl
        created = False
        async with self._pool.acquire() as conn, conn.transaction():
            user_id = await user_sql.insert_user(conn, email)
            if user_id is not None:
                await profile_sql.insert_profile(conn, user_id)
                await pending_sql.insert_pending(
                    conn, user_id, password_hash, hash_token(token), expires_at
                )
                event = UserRegistered(
                    user_id=user_id,
                    email=email,
                    verify_token=self._sealer.seal(token),
                    expires_at=expires_at,
                )
                await emit(conn, event)
                created = True
            else:
                user_id = await user_sql.find_user_id_by_email(conn, email)
                assert user_id is not None
                if await user_sql.lock_verified_state(conn, user_id):
                    await emit(conn, UserRegistrationAttempted(user_id=user_id, email=email))
                else:
                    # Another attempt on an unproven address: it gets its own link for its
                    # own password, and the mail says someone registered again, so an owner
                    # who did not is warned and ignores it.
                    earlier = await pending_sql.pending_attempts(conn, email)
                    await pending_sql.insert_pending(
                        conn, user_id, password_hash, hash_token(token), expires_at
                    )
                    again = UserVerificationRequested(
                        user_id=user_id,
                        email=email,
                        verify_token=self._sealer.seal(token),
                        expires_at=expires_at,
                        repeat_registration_at=now if any(a.live for a in earlier) else None,
                    )
                    await emit(conn, again)
        if created:
            USERS_REGISTERED.inc()

    async def verify_email(self, token: str, client: ClientInfo) -> TokenResponse:
        tokens = None
        async with self._pool.acquire() as conn, conn.transaction():
            hits = await self._throttle.begin(conn, client.per_ip(self._throttle.rules.token_ip))
            attempt = await pending_sql.consume(conn, hash_token(token))
            account = None
            if attempt is not None:
                account = await user_sql.activate(conn, attempt.user_id, attempt.password_hash)
            if account is not None:
                await pending_sql.discard_all(conn, account.id)
                await self._throttle.forgive(conn, hits)
                await emit(conn, UserEmailVerified(user_id=account.id))
                tokens = await self._sessions.start(conn, client, account)
        if tokens is None:  # raised after the commit, so the failed attempt stays counted
            raise InvalidOrExpiredToken()
        return tokens

    async def resend_verification(self, email: str) -> None:
        """A fresh link for an unverified account; nothing for a verified or unknown one."""
        token = random_token()
        expires_at = datetime.now(UTC) + self._link_ttl
        async with self._pool.acquire() as conn, conn.transaction():
            # Counted for every address, as Credentials.forgot_password.
            await self._throttle.begin(conn, [(self._throttle.rules.mail_request, email)])
            attempts = await pending_sql.pending_attempts(conn, email)
            if not attempts:
                return
            sets_password = await _renew(conn, attempts, hash_token(token), expires_at)
            event = UserVerificationRequested(
                user_id=attempts[0].user_id,
                email=email,
                verify_token=self._sealer.seal(token),
                expires_at=expires_at,
                sets_password=sets_password,
            )
            await emit(conn, event)


async def _renew(
    conn: Connection, attempts: list[pending_sql.Attempt], token_hash: str, expires_at: datetime
) -> bool:
    """One attempt: its link is renewed, for its password. Several: nobody can tell which
    is the owner's, so the new link proves the address without setting any password
    (the owner signs in through it, and later with an emailed code)."""
    if len(attempts) == 1 and attempts[0].sets_password:
        await pending_sql.renew_token(conn, attempts[0].id, token_hash, expires_at)
        return True
    user_id = attempts[0].user_id
    await pending_sql.insert_pending(conn, user_id, None, token_hash, expires_at)
    return False
