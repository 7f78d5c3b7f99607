"""Sessions: one per sign-in. A session's id is the `sid` claim and survives refresh-token
rotation; each refresh token works once, and presenting a rotated one again (a replay:
someone else holds a copy) revokes the whole session, unless the client that rotated it
presents it again within REFRESH_REUSE_GRACE_SECONDS (a refresh race: DESIGN.md §9)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import structlog

from sportslog_auth.client import ClientInfo
from sportslog_auth.errors import SessionNotFound, UserNotFound
from sportslog_auth.events import emit
from sportslog_auth.metrics import LOGINS
from sportslog_auth.queries import sessions as session_sql
from sportslog_auth.queries.users import Account
from sportslog_auth.schemas import SessionOut, SessionsResponse, TokenResponse, TokenState
from sportslog_auth.tokens import AccessTokenIssuer, hash_token, random_token
from sportslog_common.db import Connection, Pool
from sportslog_common.errors import InvalidToken
from sportslog_common.events import UserSessionRevoked
from sportslog_common.jwt import JwksVerifier

log = structlog.get_logger("sportslog.auth.sessions")


@dataclass(frozen=True)
class CurrentUser:
    """The caller of a protected auth route, after its token and session were checked."""

    id: uuid.UUID
    email: str
    session_id: uuid.UUID
    token_version: int


class Sessions:
    """Starting, rotating, listing and ending sessions, and checking a token against its
    session: what every sign-in ends with."""

    def __init__(
        self,
        pool: Pool,
        issuer: AccessTokenIssuer,
        verifier: JwksVerifier,
        *,
        refresh_ttl: timedelta,
        reuse_grace: timedelta,
    ) -> None:
        self._pool = pool
        self._issuer = issuer
        self._verifier = verifier  # auth's own tokens, against its own key set
        self._refresh_ttl = refresh_ttl
        self._reuse_grace = reuse_grace

    async def start(self, conn: Connection, client: ClientInfo, account: Account) -> TokenResponse:
        """A new session for the account, in the caller's transaction: its first tokens."""
        expires_at = datetime.now(UTC) + self._refresh_ttl
        session_id = await session_sql.insert_session(
            conn, account.id, expires_at, client.user_agent, client.ip
        )
        return await self._issue(conn, session_id, account)

    async def _issue(
        self, conn: Connection, session_id: uuid.UUID, account: Account
    ) -> TokenResponse:
        refresh_token = random_token()
        await session_sql.insert_refresh_token(conn, session_id, hash_token(refresh_token))
        access_token = self._issuer.issue(
            user_id=account.id,
            email=account.email,
            token_version=account.token_version,
            session_id=session_id,
        )
        return TokenResponse(
            access_token=access_token,
            expires_in=self._issuer.ttl_seconds,
            refresh_token=refresh_token,
        )

    async def refresh(self, refresh_token: str, client: ClientInfo) -> TokenResponse:
        token_hash = hash_token(refresh_token)
        replay: tuple[uuid.UUID, uuid.UUID] | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            row = await session_sql.lock_refresh_token(conn, token_hash)
            live = row is not None and row.revoked_at is None and row.expires_at > datetime.now(UTC)
            if row is None or not live:
                tokens = None
            elif row.rotated_at is None:
                await session_sql.mark_rotated(conn, token_hash, client.fingerprint())
                await session_sql.touch_session(conn, row.session_id)
                tokens = await self._issue(conn, row.session_id, _account_of(row))
            elif (
                row.rotated_ago is not None
                and row.rotated_ago <= self._reuse_grace
                and row.rotated_by == client.fingerprint()
            ):
                # A refresh race (DESIGN.md §9): two tabs of one client sent the same token
                # at once, and the row lock let the other one rotate it first. This one gets
                # a sibling in the same session; its successor stays valid too.
                await session_sql.touch_session(conn, row.session_id)
                tokens = await self._issue(conn, row.session_id, _account_of(row))
                log.info("refresh_token_reused_within_grace", session_id=str(row.session_id))
            else:
                await revoke(conn, row.session_id, row.user_id, "refresh_token_replay")
                replay = (row.user_id, row.session_id)
                tokens = None
        # Raised after the commit, so a replay's revocation stands.
        if replay is not None:
            log.warning(
                "security_refresh_token_replayed",
                user_id=str(replay[0]),
                session_id=str(replay[1]),
            )
        if tokens is None:
            LOGINS.labels("refresh", "failure").inc()
            raise InvalidToken("Refresh token is invalid, expired or revoked", reason="refresh")
        LOGINS.labels("refresh", "success").inc()
        return tokens

    async def logout(self, user: CurrentUser) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await revoke(conn, user.session_id, user.id, "logout")

    async def logout_others(self, user: CurrentUser) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await revoke_all(conn, user.id, "logout_all", except_id=user.session_id)

    async def delete(self, user: CurrentUser, session_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            if not await revoke(conn, session_id, user.id, "deleted_by_user"):
                # Another user's session, an unknown one, or one already gone: all alike.
                raise SessionNotFound()

    async def list(self, user: CurrentUser) -> SessionsResponse:
        async with self._pool.acquire() as conn:
            rows = await session_sql.list_active_sessions(conn, user.id)
        return SessionsResponse(
            items=[SessionOut(**asdict(row), current=row.id == user.session_id) for row in rows]
        )

    async def authenticate(self, token: str) -> CurrentUser:
        """A valid signature is not enough: the session must be live and `ver` current."""
        claims = await self._verifier.verify(token)
        try:
            user_id, session_id = uuid.UUID(claims.sub), uuid.UUID(claims.sid)
        except ValueError:
            raise InvalidToken("Token claims are malformed", reason="malformed") from None
        async with self._pool.acquire() as conn:
            state = await session_sql.get_session_state(conn, session_id, user_id)
        if (
            state is None
            or state.revoked_at is not None
            or state.expires_at <= datetime.now(UTC)
            or state.token_version != claims.ver
        ):
            raise InvalidToken("Token has been revoked", reason="revoked")
        return CurrentUser(user_id, claims.email, session_id, claims.ver)

    async def token_state(self, user_id: uuid.UUID) -> TokenState:
        async with self._pool.acquire() as conn:
            row = await session_sql.get_token_state(conn, user_id)
        if row is None:
            raise UserNotFound()
        return TokenState(token_version=row.token_version, revoked_sessions=row.revoked)


def _account_of(token: session_sql.PresentedToken) -> Account:
    return Account(token.user_id, token.email, token.token_version)


async def revoke(conn: Connection, session_id: uuid.UUID, user_id: uuid.UUID, reason: str) -> bool:
    expires_at = await session_sql.revoke_session(conn, session_id, user_id, reason)
    if expires_at is None:
        return False
    event = UserSessionRevoked(user_id=user_id, session_id=session_id, expires_at=expires_at)
    await emit(conn, event)
    return True


async def revoke_all(
    conn: Connection, user_id: uuid.UUID, reason: str, *, except_id: uuid.UUID | None = None
) -> int:
    revoked = await session_sql.revoke_sessions_of_user(conn, user_id, reason, except_id=except_id)
    for row in revoked:
        event = UserSessionRevoked(user_id=user_id, session_id=row.id, expires_at=row.expires_at)
        await emit(conn, event)
    return len(revoked)
