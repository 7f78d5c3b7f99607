"""Sessions and their refresh tokens (a refresh token lives and dies with its session)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sportslog_auth.queries.rows import many, one
from sportslog_common.db import Connection as Conn


@dataclass(frozen=True)
class PresentedToken:
    """A refresh token as presented, with its session and user."""

    rotated_at: datetime | None
    rotated_ago: timedelta | None  # by the database's clock
    rotated_by: str | None  # the fingerprint of the client that rotated it
    session_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime
    revoked_at: datetime | None
    email: str
    token_version: int


@dataclass(frozen=True)
class SessionState:
    revoked_at: datetime | None
    expires_at: datetime
    token_version: int  # the user's


@dataclass(frozen=True)
class Revoked:
    id: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True)
class ActiveSession:
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    ip: str | None


@dataclass(frozen=True)
class TokenState:
    token_version: int
    revoked: list[uuid.UUID]  # sessions revoked and not yet expired


async def insert_session(
    conn: Conn,
    user_id: uuid.UUID,
    expires_at: datetime,
    user_agent: str | None,
    ip: str | None,
) -> uuid.UUID:
    session_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO sessions (user_id, expires_at, user_agent, ip)
        VALUES ($1, $2, $3, $4)
        RETURNING id
        """,
        user_id,
        expires_at,
        user_agent,
        ip,
    )
    return session_id


async def insert_refresh_token(conn: Conn, session_id: uuid.UUID, token_hash: str) -> None:
    await conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)",
        token_hash,
        session_id,
    )


async def lock_refresh_token(conn: Conn, token_hash: str) -> PresentedToken | None:
    """The token, its session and user, locked so two refreshes with it serialise; with how
    long ago (by the database's clock) and by which client it was rotated."""
    row = await conn.fetchrow(
        """
        SELECT r.rotated_at, clock_timestamp() - r.rotated_at AS rotated_ago, r.rotated_by,
               s.id AS session_id, s.user_id, s.expires_at, s.revoked_at,
               u.email, u.token_version
        FROM refresh_tokens r
        JOIN sessions s ON s.id = r.session_id
        JOIN users u ON u.id = s.user_id
        WHERE r.token_hash = $1
        FOR UPDATE OF r, s
        """,
        token_hash,
    )
    return one(PresentedToken, row)


async def mark_rotated(conn: Conn, token_hash: str, rotated_by: str) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET rotated_at = clock_timestamp(), rotated_by = $2"
        " WHERE token_hash = $1",
        token_hash,
        rotated_by,
    )


async def touch_session(conn: Conn, session_id: uuid.UUID) -> None:
    await conn.execute("UPDATE sessions SET last_used_at = now() WHERE id = $1", session_id)


async def get_session_state(
    conn: Conn, session_id: uuid.UUID, user_id: uuid.UUID
) -> SessionState | None:
    row = await conn.fetchrow(
        """
        SELECT s.revoked_at, s.expires_at, u.token_version
        FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = $1 AND s.user_id = $2
        """,
        session_id,
        user_id,
    )
    return one(SessionState, row)


async def revoke_session(
    conn: Conn, session_id: uuid.UUID, user_id: uuid.UUID, reason: str
) -> datetime | None:
    """Revoke one of the user's live sessions; its expiry, or None if there was none."""
    expires_at: datetime | None = await conn.fetchval(
        """
        UPDATE sessions SET revoked_at = now(), revoked_reason = $3
        WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
        RETURNING expires_at
        """,
        session_id,
        user_id,
        reason,
    )
    return expires_at


async def revoke_sessions_of_user(
    conn: Conn, user_id: uuid.UUID, reason: str, *, except_id: uuid.UUID | None = None
) -> list[Revoked]:
    rows = await conn.fetch(
        """
        UPDATE sessions SET revoked_at = now(), revoked_reason = $2
        WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
          AND ($3::uuid IS NULL OR id <> $3)
        RETURNING id, expires_at
        """,
        user_id,
        reason,
        except_id,
    )
    return many(Revoked, rows)


async def list_active_sessions(conn: Conn, user_id: uuid.UUID) -> list[ActiveSession]:
    rows = await conn.fetch(
        """
        SELECT id, created_at, last_used_at, user_agent, ip
        FROM sessions
        WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
        ORDER BY last_used_at DESC, id
        """,
        user_id,
    )
    return many(ActiveSession, rows)


async def get_token_state(conn: Conn, user_id: uuid.UUID) -> TokenState | None:
    """What the gateway caches: the user's token_version and revoked, unexpired sessions."""
    row = await conn.fetchrow(
        """
        SELECT u.token_version,
               COALESCE(array_agg(s.id) FILTER (WHERE s.id IS NOT NULL), '{}') AS revoked
        FROM users u
        LEFT JOIN sessions s
          ON s.user_id = u.id AND s.revoked_at IS NOT NULL AND s.expires_at > now()
        WHERE u.id = $1
        GROUP BY u.token_version
        """,
        user_id,
    )
    return one(TokenState, row)
